import t from 'tap'
import { Agent, request } from 'node:http'
import { runLoadInChild } from '../helpers/load.js'
import { haveRedisServer, NO_REDIS, startRedis } from '../helpers/redis.js'
import { redisCommands, requestReceived, startService, startServiceWithPeers, WARN, type LogLine } from '../helpers/service-process.js'
import { counterTotals } from '../helpers/statsd-lines.js'

const skip = haveRedisServer() ? false : NO_REDIS

/** Slack on every time bound: process start-up of close-with-grace, a loaded 2-core machine. */
const MARGIN_MS = 3000

interface Answer { status: number, body: string, error?: string, end: number }

/** One GET on its own connection; resolves with the answer or the connection error. */
function get (url: string, agent: Agent): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(url, { agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, end: Date.now() }))
      res.on('error', (err) => resolve({ status: 0, body, error: err.message, end: Date.now() }))
    })
    req.on('error', (err) => resolve({ status: 0, body: '', error: err.message, end: Date.now() }))
    req.end()
  })
}

/** pino `time` (ms since the epoch) of the first line whose message is or matches `msg`; Infinity when none. */
function logTime (logs: LogLine[], msg: string | RegExp): number {
  const line = logs.find((l) => typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg)))
  return typeof line?.time === 'number' ? line.time : Infinity
}

t.test('SIGTERM under load: in-flight requests finish, metrics are flushed, Redis is QUIT, exit 0 in bound', { skip }, async (t) => {
  const { redis, udp, svc } = await startServiceWithPeers(t, {
    // Nothing is sent on a timer during the test: the slow requests' lines can only arrive
    // through the flush at shutdown.
    METRICS_FLUSH_INTERVAL_MS: '60000',
    RUNTIME_METRICS_INTERVAL_MS: '60000',
    SHUTDOWN_TIMEOUT_MS: '10000',
    // About shutdown only: neither a slow Redis reply on a busy machine nor load shedding
    // may answer 503 before the signal.
    REDIS_COMMAND_TIMEOUT_MS: '5000',
    OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0',
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0'
  })
  const commands = await redisCommands(t, redis)

  // Background load from a second process, and 20 slow requests in flight at the signal.
  const load = runLoadInChild({ url: svc.url, rate: 100, durationMs: 5000, maxInFlight: 32, timeoutMs: 10_000, mix: ['hits', 'put', 'get'], keyPrefix: 'sd' })
  // The generator compiles before it sends: wait until the service has received 60 of its
  // requests (the load runs before the signal), counted from Fastify's request log lines.
  let received = 0
  await svc.waitForLog((l) => l.msg === 'incoming request' && String((l.req as { url?: string } | undefined)?.url).startsWith('/items') && ++received >= 60, 30_000)
  const agent = new Agent({ keepAlive: false, maxSockets: 64 })
  // 20 slow requests, each its own URL (1481..1500 ms) so the test can wait until the service has every one.
  const slowMs = Array.from({ length: 20 }, (_, i) => 1481 + i)
  const slow = slowMs.map((ms) => get(`${svc.url}/demo/io?ms=${ms}`, agent))
  await Promise.all(slowMs.map((ms) => requestReceived(svc, `/demo/io?ms=${ms}`)))
  const signalAt = Date.now()
  svc.kill('SIGTERM')
  const exit = await svc.exited
  const answers = await Promise.all(slow)
  const { samples } = await load

  t.same(answers.map((a) => `${a.status} ${a.body}`), slowMs.map((ms) => `200 {"ok":true,"ms":${ms}}`), 'all 20 in-flight slow requests finished with 200')
  t.equal(exit.code, 0, 'exit code 0')
  // Timed from the service's own line (pino `time`); after it, the test loader's coverage
  // writing (not the service's) took up to 2 s on the busy 2-core machine.
  const completeMs = logTime(svc.logs, 'shutdown complete') - signalAt
  t.ok(completeMs < 1500 + MARGIN_MS, `shutdown complete ${completeMs} ms after SIGTERM (< ${1500 + MARGIN_MS}); process gone after ${exit.at - signalAt} ms`)

  const before = samples.filter((s) => s.end !== 0 && s.end < signalAt)
  t.ok(before.length >= 50, `${before.length} requests answered before the signal`)
  // A read sent before the first write was acknowledged asks for a key never written: 404.
  const failed = before.filter((s) => (s.status < 200 || s.status >= 300) && !(s.status === 404 && s.key?.endsWith('-never') === true))
  t.same(failed.map((s) => `${s.op} ${s.status} ${s.error ?? s.body}`), [], 'and all of them succeeded')
  // In flight at the signal or sent after it: a request the service had in full is answered;
  // one whose connection held no complete request was closed (refused or reset).
  const afterwards = samples.filter((s) => s.end === 0 || s.end >= signalAt)
  const refused = afterwards.filter((s) => s.status === 0)
  const bad = afterwards.filter((s) => s.status !== 0 && s.status !== 503 && !(s.status >= 200 && s.status < 300))
  t.same(bad.map((s) => `${s.status} ${s.body}`), [], 'requests after the signal: served, 503 or refused, never another error')
  t.ok(samples.every((s) => s.end - s.start < 1500 + MARGIN_MS), 'no request hung')
  t.comment(`in flight at or after SIGTERM: ${afterwards.length} requests, ${refused.length} refused or reset (${[...new Set(refused.map((s) => s.error))].join(', ')}), ${afterwards.filter((s) => s.status === 503).length} answered 503`)

  // The slow requests ended after the signal, when no timer flush could run: the shutdown flush sent them.
  const measured = counterTotals(udp.lines(), 'http.requests', ['route', 'status_code'])
  t.equal(measured.get('/demo/io 200'), 20, 'the 20 slow responses were counted and flushed at shutdown')
  const served = samples.filter((s) => s.status > 0)
  const servedTotal = [...measured].filter(([k]) => !k.startsWith('/demo/io ') && !k.startsWith('/health/live ')).reduce((a, [, v]) => a + v, 0)
  t.equal(servedTotal, served.length, `every answered load request was counted (${served.length})`)

  t.ok(commands.some((c) => c[0] === 'quit'), 'the service closed its Redis connection with QUIT')
  const order = svc.logs.map((l) => String(l.msg))
  const from = order.indexOf('shutting down: finishing in-flight requests')
  t.ok(from !== -1 && order.indexOf('shutdown complete') > from, 'logged the shutdown and its completion')
  t.same(svc.logs.filter((l) => (l.level ?? 0) >= WARN).map((l) => JSON.stringify(l)), [], 'a clean stop under load logs no warning or error')
})

t.test('a second SIGTERM forces the exit at once (code 1)', { skip }, async (t) => {
  const redis = await startRedis(t)
  const svc = await startService(t, { env: { REDIS_URL: redis.url, STATSD_PORT: '9', SHUTDOWN_TIMEOUT_MS: '30000' } })
  const agent = new Agent({ keepAlive: false })
  const slowMs = [1996, 1997, 1998, 1999, 2000]
  const slow = slowMs.map((ms) => get(`${svc.url}/demo/io?ms=${ms}`, agent))
  await Promise.all(slowMs.map((ms) => requestReceived(svc, `/demo/io?ms=${ms}`)))
  svc.kill('SIGTERM')
  await svc.waitForLog((l) => l.msg === 'closing: connections without a started request closed')
  const secondAt = Date.now()
  svc.kill('SIGTERM')
  const exit = await svc.exited
  const answers = await Promise.all(slow)
  t.equal(exit.code, 1, 'exit code 1: forced')
  // The sharp check: process.exit ends the event loop, so an exit before the 2 s requests
  // finished leaves them unanswered. The reaction time is read from the service's own log line
  // (pino `time`): what follows it, the test loader writing coverage data, is not the service's.
  t.ok(answers.every((a) => a.status === 0), 'the unfinished requests were cut (connection closed), not answered late')
  t.ok(svc.logs.some((l) => /second SIGTERM/.test(String(l.msg))), 'the forced exit is logged')
  const reactedMs = logTime(svc.logs, /second SIGTERM/) - secondAt
  t.ok(reactedMs < 1200, `forced exit logged ${reactedMs} ms after the second signal (< 1200); process gone after ${exit.at - secondAt} ms`)
})

t.test('SHUTDOWN_TIMEOUT_MS bounds a drain that takes too long (exit code 1)', { skip }, async (t) => {
  const redis = await startRedis(t)
  const timeoutMs = 1000
  const svc = await startService(t, { env: { REDIS_URL: redis.url, STATSD_PORT: '9', SHUTDOWN_TIMEOUT_MS: String(timeoutMs) } })
  const agent = new Agent({ keepAlive: false })
  const slow = get(`${svc.url}/demo/io?ms=2000`, agent)
  await requestReceived(svc, '/demo/io?ms=2000')
  const signalAt = Date.now()
  svc.kill('SIGTERM')
  const exit = await svc.exited
  await slow
  t.equal(exit.code, 1, 'exit code 1: the drain did not finish in time')
  t.ok(svc.logs.some((l) => /killed by timeout/.test(String(l.msg))), 'the timeout is logged')
  const killedMs = logTime(svc.logs, /killed by timeout/) - signalAt
  t.ok(killedMs >= timeoutMs - 50 && killedMs < timeoutMs + MARGIN_MS, `killed ${killedMs} ms after SIGTERM (about ${timeoutMs}); process gone after ${exit.at - signalAt} ms`)
})
