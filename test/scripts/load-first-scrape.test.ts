/**
 * scripts/load.sh started right after the stack: Prometheus not ready yet, or ready but without a
 * scrape of the service yet. load.sh waits for both (bounded by LOAD_SCRAPE_TIMEOUT_SECONDS, with
 * a line saying so), then checks the count, instead of giving up with "has no series".
 */
import { createServer as createHttpServer } from 'node:http'
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net'
import t from 'tap'
import { startExporterStandIn } from '../helpers/exporter-stand-in.js'
import { loadSh as load, NO_SIEGE, reported } from '../helpers/load-sh.js'
import { havePrometheus, NO_PROMETHEUS, startPrometheus } from '../helpers/prometheus.js'
import { freePort, haveRedisServer, NO_REDIS, startRedis } from '../helpers/redis.js'
import { startService, type ServiceProcess } from '../helpers/service-process.js'
import { which } from '../helpers/stack.js'

const NO_CURL_JQ = 'curl and jq are not installed: apt-get install -y curl jq'
const USERS = 2

async function listen (server: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

t.test('a Prometheus that answers but is not ready: waited for, bounded, then not checked', {
  skip: which('curl') === undefined || which('jq') === undefined ? NO_CURL_JQ : false
}, async (t) => {
  // What a starting Prometheus answers (503 on /-/ready during WAL replay), and what a port
  // published by the container engine does before the process inside listens (accept, close).
  const starting = createHttpServer((_req, res) => { res.writeHead(503).end('Service Unavailable') })
  const published = createTcpServer((socket) => socket.destroy())
  t.teardown(() => { starting.close(); published.close() })
  for (const [what, port] of [['503 on /-/ready', await listen(starting)], ['an empty reply', await listen(published)]] as const) {
    const started = Date.now()
    const run = await load(['-c', '1', '-t', '1S', '-p', `http://127.0.0.1:${port}`, `http://127.0.0.1:${await freePort()}`],
      { LOAD_SCRAPE_TIMEOUT_SECONDS: '2', LOAD_STOP_GRACE_SECONDS: '3' })
    t.match(run.stderr, new RegExp(`^load\\.sh: waiting up to 2 s for Prometheus at http://127\\.0\\.0\\.1:${port} to be ready and to scrape service="fastify-monitoring" for the first time$`, 'm'), `${what}: says it waits`)
    t.match(run.stderr, new RegExp(`^load\\.sh: the count will not be checked: Prometheus at http://127\\.0\\.0\\.1:${port} was not ready within 2 s$`, 'm'), `${what}: and gives up after the bound`)
    t.ok(Date.now() - started >= 2000, `${what}: waited (${Date.now() - started} ms in all)`)
  }
})

t.test('a Prometheus that has not scraped the service yet: load.sh waits for the first scrape, then compares', {
  skip: which('siege') === undefined
    ? NO_SIEGE
    : !haveRedisServer() ? NO_REDIS : !havePrometheus() ? NO_PROMETHEUS : which('jq') === undefined || which('curl') === undefined ? NO_CURL_JQ : false,
  timeout: 180_000
}, async (t) => {
  const redis = await startRedis(t)
  const exporter = await startExporterStandIn(t)
  const prometheus = await startPrometheus(t, { scrape: { job: 'statsd-exporter', target: exporter.target, interval: '1s' } })
  const port = await freePort()
  // The service starts only once load.sh has said it waits: until then Prometheus scrapes an
  // exporter that has no series of it, as right after `docker-compose up -d`.
  let svc: Promise<ServiceProcess> | undefined
  const run = await load(['-c', String(USERS), '-t', '4S', '-p', prometheus.url, '-s', 'first-scrape', `http://127.0.0.1:${port}`], {}, (stderr) => {
    if (svc !== undefined || !stderr.includes('waiting up to 60 s for Prometheus')) return
    svc = startService(t, {
      env: {
        PORT: String(port),
        REDIS_URL: redis.url,
        STATSD_HOST: '127.0.0.1',
        STATSD_PORT: String(exporter.udpPort),
        SERVICE_NAME: 'first-scrape',
        RUNTIME_METRICS_INTERVAL_MS: '1000',
        LOG_LEVEL: 'fatal'
      }
    })
  })
  await svc
  const output = run.stdout + run.stderr
  t.ok(svc !== undefined, 'load.sh said it waits for the first scrape')
  t.equal(run.code, 0, output)
  t.notMatch(output, /not checked/)
  t.match(output, /^load\.sh: Prometheus has series of service="first-scrape" after \d+ s$/m, 'says when the series came')
  const received = reported(output, 'Responses received') ?? -1
  const counted = reported(output, 'Prometheus counted') ?? -1
  t.ok(received > 0 && counted >= received && counted - received <= USERS, `Prometheus ${counted}, siege ${received}`)
  t.match(output, /^Counts agree:\t(exactly|within the cut-off allowance)/m)
})

t.test('a Prometheus whose exporter target is down: no long wait, and why', {
  skip: !havePrometheus() ? NO_PROMETHEUS : which('jq') === undefined || which('curl') === undefined ? NO_CURL_JQ : false,
  timeout: 120_000
}, async (t) => {
  const prometheus = await startPrometheus(t, { scrape: { job: 'statsd-exporter', target: `127.0.0.1:${await freePort()}`, interval: '1s' } })
  const started = Date.now()
  const run = await load(['-c', '1', '-t', '1S', '-p', prometheus.url, `http://127.0.0.1:${await freePort()}`], { LOAD_STOP_GRACE_SECONDS: '3' })
  t.match(run.stderr, /^load\.sh: Prometheus has no series of service="fastify-monitoring": its statsd-exporter target is down$/m)
  t.match(run.stderr, /^load\.sh: the count will not be checked: Prometheus at http:\/\/127\.0\.0\.1:\d+ has no series with service="fastify-monitoring"/m)
  t.ok(Date.now() - started < 40_000, `gave up after ${Date.now() - started} ms, not the full 60 s`)
})
