import t from 'tap'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import overload, { OVERLOAD_MESSAGE, overloadOptions, type OverloadOptions } from '../../service/plugins/under-pressure.js'
import { loadConfig } from '../../service/config.js'
import { build, GLOBAL } from '../helpers/app.js'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'
import { until } from '../helpers/wait.js'

const stubMetrics = fp(async () => {}, { name: 'fastify-statsd-red' })
const valid: OverloadOptions = { maxEventLoopDelayMs: 1000, maxEventLoopUtilization: 0, sampleIntervalMs: 1000 }

/** Keeps the event loop busy for `ms` milliseconds (what a CPU-bound handler does). */
function burn (ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end);
}

t.test('options come from the config, with the documented defaults', async (t) => {
  t.same(overloadOptions(loadConfig({})), valid)
  t.same(overloadOptions(loadConfig({ OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0.5', OVERLOAD_SAMPLE_INTERVAL_MS: '250' })),
    { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0.5, sampleIntervalMs: 250 })
  t.throws(() => loadConfig({ OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '1.5' }), /invalid OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: "1.5" is not a number from 0 to 1/)
  t.throws(() => loadConfig({ OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: 'high' }), /OVERLOAD_MAX_EVENT_LOOP_UTILIZATION/)
  t.throws(() => loadConfig({ OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '-1' }), /invalid OVERLOAD_MAX_EVENT_LOOP_DELAY_MS/)
  t.throws(() => loadConfig({ OVERLOAD_SAMPLE_INTERVAL_MS: '5' }), /invalid OVERLOAD_SAMPLE_INTERVAL_MS: 5 is outside 10\.\.60000/)
})

t.test('invalid plugin options fail at start-up, naming the option', async (t) => {
  const cases: Array<[Partial<OverloadOptions>, RegExp]> = [
    [{ maxEventLoopDelayMs: -1 }, /under-pressure option maxEventLoopDelayMs must be/],
    [{ maxEventLoopDelayMs: 1.5 }, /maxEventLoopDelayMs/],
    [{ maxEventLoopUtilization: 2 }, /under-pressure option maxEventLoopUtilization must be between 0 and 1/],
    [{ sampleIntervalMs: 5 }, /under-pressure option sampleIntervalMs must be/],
    [{ retryAfterSeconds: 0 }, /under-pressure option retryAfterSeconds must be/]
  ]
  for (const [override, message] of cases) {
    const app = Fastify()
    await app.register(stubMetrics)
    app.register(overload, { ...valid, ...override })
    await t.rejects(async () => { await app.ready() }, message, JSON.stringify(override))
    await app.close()
  }
})

t.test('registered without fastify-statsd-red: start-up fails (a shed request would not be measured)', async (t) => {
  const app = Fastify()
  app.register(overload, valid)
  await t.rejects(async () => { await app.ready() }, /fastify-statsd-red/)
  await app.close()
})

t.test('under pressure: 503 + Retry-After in the ErrorResponse shape, readiness 503, liveness 200, measured, then recovery', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const { app, udp } = await build(t, {
    env: { OVERLOAD_SAMPLE_INTERVAL_MS: '500', OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0.5', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0' }
  })
  // Building the app (module loading, schema compilation) can itself fill the first sample.
  const settledBy = Date.now() + 5000
  while (app.isUnderPressure() && Date.now() < settledBy) await new Promise((resolve) => setTimeout(resolve, 20))
  t.notOk(app.isUnderPressure(), 'calm: not under pressure')
  t.equal((await app.inject({ url: '/items/nothing' })).statusCode, 404, 'calm: a normal answer')

  // Busy for more than a whole sample: the next sample sees a utilization near 1.
  burn(1200)
  const deadline = Date.now() + 5000
  while (!app.isUnderPressure() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1))
  t.ok(app.isUnderPressure(), 'the sample after the burst reports pressure')

  udp.clear()
  const shed = await app.inject({ url: '/items/nothing' })
  t.equal(shed.statusCode, 503)
  t.same(shed.json(), { statusCode: 503, error: 'Service Unavailable', message: OVERLOAD_MESSAGE }, 'ErrorResponse body, nothing else')
  t.equal(shed.headers['retry-after'], '1', 'Retry-After: two 500 ms samples, in whole seconds')
  const post = await app.inject({ method: 'POST', url: '/items', payload: { key: 'k', value: 'v' } })
  t.equal(post.statusCode, 503, 'writes are shed before the body is parsed or Redis is asked')
  const ready = await app.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 503, 'readiness 503: take this instance out of the balancer')
  t.same(ready.json(), { status: 'unavailable' })
  t.equal(ready.headers['retry-after'], '1')
  const live = await app.inject({ url: '/health/live' })
  t.equal(live.statusCode, 200, 'liveness exempt: an overloaded process is not restarted')
  t.same(live.json(), { status: 'ok' })
  const unmatched = await app.inject({ url: '/no/such/route' })
  t.equal(unmatched.statusCode, 503, 'unmatched URLs are shed too')
  t.equal(app.inFlight(), 0, 'the in-flight gauge is balanced after shed requests')

  await app.metrics.flush()
  const lines = await udp.waitFor((l) => l.some((x) => x.includes('route:/health/live')))
  t.ok(lines.some((l) => l.startsWith('http.requests:') && l.endsWith(`|#${GLOBAL},method:GET,route:/items/:key,status_code:503`)), 'shed request measured under its route')
  t.ok(lines.some((l) => l.startsWith('http.requests:') && l.endsWith(`|#${GLOBAL},method:GET,route:/health/ready,status_code:503`)), 'shed readiness measured')
  t.ok(lines.some((l) => l.startsWith('http.requests:') && l.endsWith(`|#${GLOBAL},method:GET,route:__unmatched__,status_code:503`)), 'shed unmatched URL measured as __unmatched__')

  const calmBy = Date.now() + 5000
  while (app.isUnderPressure() && Date.now() < calmBy) await new Promise((resolve) => setTimeout(resolve, 20))
  t.notOk(app.isUnderPressure(), 'a calm sample ends the pressure')
  t.equal((await app.inject({ url: '/items/nothing' })).statusCode, 404, 'normal answers again')
  t.equal((await app.inject({ url: '/health/ready' })).statusCode, 200, 'ready again')
})

t.test('both checks at 0: the plugin adds no hook at all', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const { app } = await build(t, { env: { OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OVERLOAD_SAMPLE_INTERVAL_MS: '100' } })
  burn(500)
  // The library still samples (memoryUsage() reports it): wait for the sample that saw the burst.
  await until('sample that saw the burst', () => app.memoryUsage().eventLoopUtilized > 0.5)
  t.notOk(app.isUnderPressure(), 'a busy sample, and still not under pressure')
  t.equal((await app.inject({ url: '/items/nothing' })).statusCode, 404)
})
