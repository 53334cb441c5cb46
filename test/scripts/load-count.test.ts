/**
 * scripts/load.sh's count check with real series: a real service sends its StatsD lines to a
 * stand-in for statsd_exporter that serves them in the exporter's exact text format, a real
 * Prometheus scrapes it every second, and load.sh compares Prometheus's increase with what
 * siege received.
 */
import t from 'tap'
import { startExporterStandIn } from '../helpers/exporter-stand-in.js'
import { loadSh as load, NO_SIEGE, reported } from '../helpers/load-sh.js'
import { havePrometheus, NO_PROMETHEUS, startPrometheus } from '../helpers/prometheus.js'
import { haveRedisServer, NO_REDIS, startRedis } from '../helpers/redis.js'
import { startService } from '../helpers/service-process.js'
import { which } from '../helpers/stack.js'

const NO_CURL_JQ = 'curl and jq are not installed: apt-get install -y curl jq'
const USERS = 3

t.test('the count check against Prometheus scraping the service\'s series', {
  skip: which('siege') === undefined
    ? NO_SIEGE
    : !haveRedisServer() ? NO_REDIS : !havePrometheus() ? NO_PROMETHEUS : which('jq') === undefined || which('curl') === undefined ? NO_CURL_JQ : false,
  timeout: 300_000
}, async (t) => {
  const redis = await startRedis(t)
  const exporter = await startExporterStandIn(t)
  const prometheus = await startPrometheus(t, { scrape: { job: 'statsd-exporter', target: exporter.target, interval: '1s' } })
  const svc = await startService(t, {
    env: {
      REDIS_URL: redis.url,
      STATSD_HOST: '127.0.0.1',
      STATSD_PORT: String(exporter.udpPort),
      SERVICE_NAME: 'load-check',
      RUNTIME_METRICS_INTERVAL_MS: '1000',
      LOG_LEVEL: 'fatal'
    }
  })
  // Traffic just before the run (and a probe): counted in the starting count, not in the run's.
  for (const path of ['/', '/health/live', '/items/before']) await fetch(svc.url + path).then((r) => r.text())
  for (let waited = 0; exporter.requests() < 3; waited += 100) {
    if (waited > 60_000) throw new Error(`the stand-in exporter got ${exporter.requests()} of 3 requests in 60 s`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  // And until Prometheus has scraped them: load.sh checks only a service Prometheus knows.
  for (let waited = 0; ; waited += 200) {
    const known = await prometheus.query('http_requests_total{service="load-check"}', Date.now() / 1000)
    if (known.result.length > 0) break
    if (waited > 60_000) throw new Error('Prometheus did not scrape the stand-in exporter within 60 s')
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  const args = ['-c', String(USERS), '-t', '5S', '-p', prometheus.url, '-s', 'load-check', svc.url]

  await t.test('agree: Prometheus\'s increase equals the responses siege received, probes during the run left out', async (t) => {
    const before = exporter.requests((l) => !l.route?.startsWith('/health/'))
    const probesBefore = exporter.requests((l) => l.route?.startsWith('/health/') === true)
    // Probes while siege runs, as a container or Kubernetes probe would: Prometheus scrapes them
    // between load.sh's two counts, so a query over every route would count them too and
    // exceed siege's count by more than the cut-off allowance (exit 1, "Counts DISAGREE").
    const probes = 20
    let probing: Promise<void> | undefined
    const run = await load(args, { LOAD_PROGRESS_SECONDS: '2' }, (stderr) => {
      if (probing !== undefined || !stderr.includes('URLs against')) return
      probing = (async () => {
        for (let i = 0; i < probes; i++) await fetch(`${svc.url}/health/${i % 2 === 0 ? 'live' : 'ready'}`).then((r) => r.text())
      })()
    })
    await probing
    t.equal(exporter.requests((l) => l.route?.startsWith('/health/') === true) - probesBefore, probes, `the ${probes} probes sent during the run reached the exporter`)
    const output = run.stdout + run.stderr
    t.equal(run.code, 0, output)
    t.match(output, /^load\.sh: Prometheus: \d+ responses counted before the run \(scrape at \d\d:\d\d:\d\d\)$/m)
    const received = reported(output, 'Responses received') ?? -1
    const counted = reported(output, 'Prometheus counted') ?? -1
    t.match(output, /^Responses received:\t\d+\nBy status:\t.*\nPrometheus counted:\t\d+ \(increase of sum\(http_requests_total\{service="load-check",route!~"\/health\/\.\*"\}\), scrapes at \d\d:\d\d:\d\d and \d\d:\d\d:\d\d\)$/m, 'next to Responses received')
    t.equal(counted, exporter.requests((l) => !l.route?.startsWith('/health/')) - before, 'what Prometheus counted is what the exporter page gained')
    t.ok(counted >= received && counted - received <= USERS, `Prometheus ${counted}, siege ${received}`)
    t.match(output, counted === received
      ? /^Counts agree:\texactly$/m
      : new RegExp(`^Counts agree:\\twithin the cut-off allowance \\(Prometheus \\+${counted - received}; siege -t may leave up to one served response per user unread, ${USERS} users\\)$`, 'm'))
  })

  await t.test('disagree: another client during the run is seen, and load.sh exits 1', async (t) => {
    const extra = 25
    let sent: Promise<void> | undefined
    const run = await load(args, {}, (stderr) => {
      if (sent !== undefined || !stderr.includes('URLs against')) return
      sent = (async () => {
        for (let i = 0; i < extra; i++) await fetch(`${svc.url}/items/extra-${i}`).then((r) => r.text())
      })()
    })
    await sent
    const output = run.stdout + run.stderr
    t.equal(run.code, 1, 'exit 1')
    const received = reported(output, 'Responses received') ?? -1
    const counted = reported(output, 'Prometheus counted') ?? -1
    t.ok(counted - received >= extra && counted - received <= extra + USERS, `Prometheus ${counted} = siege ${received} + the ${extra} others (+ cut-off)`)
    t.match(output, new RegExp(`^Counts DISAGREE:\\tPrometheus counted ${counted - received} more responses than siege received \\(allowance ${USERS}\\): did another client call the service during the run\\?$`, 'm'))
  })

  await t.test('a service Prometheus does not know: not checked, and why', async (t) => {
    const run = await load(['-c', '1', '-t', '1S', '-p', prometheus.url, '-s', 'no-such-service', svc.url])
    t.equal(run.code, 0)
    t.match(run.stderr, /^Prometheus counted:\tnot checked: Prometheus at http:\/\/127\.0\.0\.1:\d+ has no series with service="no-such-service" \(is statsd_exporter running and scraped\? scripts\/stack\.sh status; another name: -s\)$/m)
  })
})
