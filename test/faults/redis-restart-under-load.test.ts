import t from 'tap'
import { startLoadInChild, type Sample } from '../helpers/load.js'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'
import { startServiceWithPeers } from '../helpers/service-process.js'
import { counterTotals } from '../helpers/statsd-lines.js'

const COMMAND_TIMEOUT_MS = 500
/** Every request must be answered within the command timeout plus this margin (loaded 2-core machine). */
const MARGIN_MS = 1500
/** After Redis is back: ioredis back-off (at most 2 s, plugins/redis.ts) plus scheduling slack. */
const RECOVERY_MS = 2000 + 1500
/**
 * 150 requests/s. Redis is killed once `answeredBeforeKill` requests were answered, restarted
 * once `failedBeforeRestart` requests started after the kill were answered 503, and the load
 * stops once `servedAfterRecovery` requests started later than RECOVERY_MS after the restart
 * were answered: each step waits for what the load has done, so the outage always falls
 * inside the load. `durationMs` only ends a load nobody stops.
 */
const LOAD = { rate: 150, durationMs: 120_000, answeredBeforeKill: 300, failedBeforeRestart: 150, servedAfterRecovery: 150 }

const DEPENDENCY_503 = JSON.stringify({ statusCode: 503, error: 'Service Unavailable', message: 'service unavailable: a dependency did not answer' })
const READY_503 = JSON.stringify({ status: 'unavailable', redis: 'down' })

const expected: Partial<Record<Sample['op'], number[]>> = {
  put: [201, 503],
  get: [200, 404, 503],
  hits: [200, 503],
  ready: [200, 503]
}

t.test('Redis killed (SIGKILL) and restarted under load: no crash, no hung request, 503 only while away, errors measured', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const { redis, udp, svc } = await startServiceWithPeers(t, {
    REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
    REDIS_CONNECT_TIMEOUT_MS: '500',
    METRICS_FLUSH_INTERVAL_MS: '100',
    LOG_LEVEL: 'warn'
  })

  const started = Date.now()
  const load = startLoadInChild({
    url: svc.url,
    rate: LOAD.rate,
    durationMs: LOAD.durationMs,
    maxInFlight: 64,
    timeoutMs: 10_000,
    mix: ['put', 'get', 'hits', 'put', 'get', 'ready'],
    keyPrefix: 'restart'
  })
  await load.until(`${LOAD.answeredBeforeKill} answered requests`, (a) => a.length >= LOAD.answeredBeforeKill)
  const killedAt = Date.now()
  await redis.stop('SIGKILL')
  await load.until(`${LOAD.failedBeforeRestart} requests started after the kill answered 503`,
    (a) => a.filter((s) => s.status === 503 && s.start > killedAt + 100).length >= LOAD.failedBeforeRestart)
  await redis.start()
  const restartedAt = Date.now()
  await load.until(`${LOAD.servedAfterRecovery} answers to requests started ${RECOVERY_MS} ms after the restart`,
    (a) => a.filter((s) => s.start > restartedAt + RECOVERY_MS).length >= LOAD.servedAfterRecovery)
  load.stop()
  const { samples, skipped } = await load.result
  t.comment(`load: ${samples.length} requests, ${skipped} ticks skipped; Redis killed at +${killedAt - started} ms, back at +${restartedAt - started} ms`)

  t.ok(svc.alive(), 'the service process never exited')
  const phases = LOAD.answeredBeforeKill + LOAD.failedBeforeRestart + LOAD.servedAfterRecovery
  t.ok(samples.length >= phases, `the load ran through its three phases (${samples.length} requests)`)

  const unanswered = samples.filter((s) => s.status === 0)
  t.same(unanswered.map((s) => `${s.method} ${s.route}: ${s.error ?? ''}`), [], 'every request got an HTTP answer (no reset, no client timeout)')
  const bound = COMMAND_TIMEOUT_MS + MARGIN_MS
  const slow = samples.filter((s) => s.end - s.start > bound)
  t.same(slow.map((s) => `${s.method} ${s.route} ${s.status} took ${s.end - s.start} ms`), [], `every request answered within ${bound} ms`)
  t.comment(`slowest answer: ${Math.max(...samples.map((s) => s.end - s.start))} ms`)

  const wrong = samples.filter((s) => !(expected[s.op] ?? []).includes(s.status))
  t.same(wrong.map((s) => `${s.op} ${s.status} ${s.body}`), [], 'only the expected statuses')
  const bad503 = samples.filter((s) => s.status === 503 && s.body !== (s.op === 'ready' ? READY_503 : DEPENDENCY_503))
  t.same(bad503.map((s) => s.body), [], 'every 503 carries the generic body')

  // 503s only while Redis was away: none answered before the kill, none started after recovery.
  const early = samples.filter((s) => s.status === 503 && s.end < killedAt)
  t.same(early.length, 0, 'no 503 before Redis was killed')
  const late = samples.filter((s) => s.status === 503 && s.start > restartedAt + RECOVERY_MS)
  t.same(late.map((s) => `${s.op} at +${s.start - restartedAt} ms after restart`), [], `no 503 later than ${RECOVERY_MS} ms after Redis was back`)
  const during = samples.filter((s) => s.start > killedAt + 100 && s.end < restartedAt)
  t.ok(during.length > 0 && during.every((s) => s.status === 503), `every Redis-backed request while it was away got 503 (${during.length})`)
  const firstOk = samples.find((s) => s.start > restartedAt && s.status >= 200 && s.status < 300 && s.op !== 'ready')
  t.comment(`first 2xx from Redis ${firstOk === undefined ? 'never' : `${firstOk.end - restartedAt} ms`} after it was back; ${samples.filter((s) => s.status === 503).length} requests answered 503 in all`)
  const after = samples.filter((s) => s.start > restartedAt + RECOVERY_MS)
  t.ok(after.length > 50 && after.every((s) => s.status !== 503), `served normally after recovery (${after.length} requests)`)

  // Let the last flush go out, then compare what the service measured with what the client saw.
  svc.kill('SIGTERM')
  const exit = await svc.exited
  t.equal(exit.code, 0, 'clean exit after the test')
  const seen = new Map<string, number>()
  for (const s of samples) {
    const key = `${s.method} ${s.route} ${s.status}`
    seen.set(key, (seen.get(key) ?? 0) + 1)
  }
  const measured = counterTotals(udp.lines(), 'http.requests', ['method', 'route', 'status_code'])
  // startService polls /health/live until the service answers; the load never calls it.
  for (const key of measured.keys()) if (key.startsWith('GET /health/live ')) measured.delete(key)
  t.same(Object.fromEntries([...measured].sort()), Object.fromEntries([...seen].sort()), 'http.requests counts equal the responses the client got, per method, route and status')
  const failures = [...counterTotals(udp.lines(), 'redis.command.errors', []).values()].reduce((a, b) => a + b, 0)
  const errors503 = samples.filter((s) => s.status === 503).length
  t.equal(failures, errors503, `redis.command.errors counts one failed command per 503 (${failures})`)
})
