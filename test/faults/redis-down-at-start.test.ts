import t from 'tap'
import { haveRedisServer, NO_REDIS, startRedis } from '../helpers/redis.js'
import { expectStartFailure, startService, WARN } from '../helpers/service-process.js'
import { udpListener } from '../helpers/udp.js'

const skip = haveRedisServer() ? false : NO_REDIS

/** The 503 body of a route whose Redis command failed (app.ts error handler). */
const DEPENDENCY_503 = { statusCode: 503, error: 'Service Unavailable', message: 'service unavailable: a dependency did not answer' }

const COMMAND_TIMEOUT_MS = 500
/** Every answer while Redis is away must come within the command timeout plus this. */
const MARGIN_MS = 1000
/** ioredis reconnects with a back-off capped at 2 s (plugins/redis.ts), plus a loaded machine. */
const RECOVERY_MS = 2000 + 3000
/** A password in REDIS_URL must never appear in a log line or a response. */
const SECRET = 's3cret-pw'

async function timed (url: string, init?: RequestInit): Promise<{ status: number, body: unknown, ms: number, text: string }> {
  const start = performance.now()
  const res = await fetch(url, init)
  const text = await res.text()
  const ms = performance.now() - start
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = text
  }
  return { status: res.status, body, ms, text }
}

t.test('Redis stopped at start-up: the service starts, answers 503 in time, recovers by itself', { skip }, async (t) => {
  const redis = await startRedis(t, { args: ['--requirepass', SECRET] })
  // Stopped before the service starts: the port is known and nothing listens on it.
  await redis.stop()
  const udp = await udpListener(t)
  const svc = await startService(t, {
    env: {
      REDIS_URL: `redis://:${SECRET}@127.0.0.1:${redis.port}`,
      REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
      REDIS_CONNECT_TIMEOUT_MS: '500',
      STATSD_PORT: String(udp.port),
      METRICS_FLUSH_INTERVAL_MS: '50'
    }
  })

  const live = await timed(`${svc.url}/health/live`)
  t.equal(live.status, 200, 'liveness 200: the process is fine')
  const ready = await timed(`${svc.url}/health/ready`)
  t.equal(ready.status, 503, 'readiness 503 while Redis is away')
  t.same(ready.body, { status: 'unavailable', redis: 'down' })

  const requests: Array<[string, RequestInit?]> = [
    [`${svc.url}/`],
    [`${svc.url}/items/some-key`],
    [`${svc.url}/items?limit=5`],
    [`${svc.url}/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'k', value: 'v' }) }],
    [`${svc.url}/items/some-key`, { method: 'DELETE' }]
  ]
  for (const [url, init] of requests) {
    const res = await timed(url, init)
    const name = `${init?.method ?? 'GET'} ${url.slice(svc.url.length)}`
    t.equal(res.status, 503, `${name}: 503`)
    t.same(res.body, DEPENDENCY_503, `${name}: generic 503 body, no cause`)
    t.ok(res.ms < COMMAND_TIMEOUT_MS + MARGIN_MS, `${name}: answered in ${res.ms.toFixed(0)} ms (< ${COMMAND_TIMEOUT_MS + MARGIN_MS})`)
    t.notMatch(res.text, /ECONNREFUSED|127\.0\.0\.1|stack|ioredis/i, `${name}: no internals in the body`)
  }

  // Redis comes up: readiness and the item routes recover in the same process.
  await redis.start()
  const upAt = Date.now()
  let status = 0
  while (Date.now() - upAt < RECOVERY_MS) {
    status = (await timed(`${svc.url}/health/ready`)).status
    if (status === 200) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(status, 200, `ready within ${RECOVERY_MS} ms of Redis starting (took ${Date.now() - upAt} ms)`)
  const put = await timed(`${svc.url}/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'after', value: 'ok' }) })
  t.equal(put.status, 201, 'a write succeeds after recovery')
  t.same((await timed(`${svc.url}/items/after`)).body, { key: 'after', value: 'ok' }, 'and reads back')
  t.ok(svc.alive(), 'the same process served before and after: no restart')

  // The failures were measured: 503s per route and the failed Redis commands.
  const lines = await udp.waitFor((l) => l.some((x) => x.startsWith('redis.command.errors:')) && l.some((x) => x.includes('status_code:503')))
  t.ok(lines.some((l) => l.startsWith('redis.command.errors:') && l.includes('command:get')), 'failed GET counted')
  t.ok(lines.some((l) => l.startsWith('http.requests:') && l.includes('route:/items/:key,status_code:503')), '503 counted under its route')

  const logs = JSON.stringify(svc.logs) + svc.stderr()
  t.notOk(logs.includes(SECRET), 'the Redis password never reaches the log')
  t.ok(svc.logs.some((l) => (l.level ?? 0) >= WARN && /^redis connection/.test(String(l.msg))), 'the outage is logged as a warning')
})

t.test('REDIS_WAIT_AT_START=true with Redis stopped: start-up fails, exit code non-zero, message names Redis', { skip }, async (t) => {
  const redis = await startRedis(t, { args: ['--requirepass', SECRET] })
  await redis.stop()
  // The wait (REDIS_START_TIMEOUT_MS, and Fastify's plugin timeout, both 10 s) is timed from the
  // service's first log line, written once the code is loaded: how long the TypeScript loader
  // takes to get there depends on the machine, so it only has a generous deadline.
  const waitMs = 10_000
  const bound = waitMs + 10_000
  const { exit, logs, stderr, startedAt } = await expectStartFailure(t, {
    timeoutMs: 120_000,
    env: { REDIS_URL: `redis://:${SECRET}@127.0.0.1:${redis.port}`, REDIS_WAIT_AT_START: 'true', STATSD_PORT: '9' }
  })
  t.not(exit.code, 0, `exits with code ${String(exit.code)}`)
  const firstLog = logs.map((l) => Number(l.time)).find((time) => Number.isFinite(time))
  t.ok(firstLog !== undefined && exit.at - firstLog < bound,
    `exits within ${bound} ms of its first log line (took ${firstLog === undefined ? 'no log line' : `${exit.at - firstLog} ms`}; ${exit.at - startedAt} ms after spawn)`)
  const output = JSON.stringify(logs) + stderr
  t.match(output, /redis/i, 'the failure names Redis')
  t.notOk(output.includes(SECRET), 'the Redis password is not printed')
  t.notOk(logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening')), 'it never listened')
})
