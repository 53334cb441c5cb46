import t from 'tap'
import { build, GLOBAL } from '../helpers/app.js'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'
import { until } from '../helpers/wait.js'

const skip = haveRedisServer() ? false : NO_REDIS

t.test('Redis down: 503 JSON within the command timeout, readiness 503, liveness 200, recovery', { skip }, async (t) => {
  // Persistence as in docker-compose.yml (append-only file), so a restart keeps acknowledged writes.
  const { app, redis, udp, config } = await build(t, { redis: { appendonly: true } })
  t.equal((await app.inject({ method: 'POST', url: '/items', payload: { key: 'kept', value: 'v' } })).statusCode, 201)
  await redis.stop()
  udp.clear()
  const bound = config.redisCommandTimeoutMs + 500
  for (const request of [
    { method: 'GET' as const, url: '/' },
    { method: 'GET' as const, url: '/items/kept' },
    { method: 'POST' as const, url: '/items', payload: { key: 'lost', value: 'v' } },
    { method: 'GET' as const, url: '/items' },
    { method: 'DELETE' as const, url: '/items/kept' }
  ]) {
    const start = performance.now()
    const res = await app.inject(request)
    const took = performance.now() - start
    t.equal(res.statusCode, 503, `${request.method} ${request.url}: 503`)
    t.same(res.json(), { statusCode: 503, error: 'Service Unavailable', message: 'service unavailable: a dependency did not answer' })
    t.ok(took < bound, `${request.method} ${request.url} answered in ${took.toFixed(0)} ms (< ${bound})`)
  }
  const ready = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(ready.statusCode, 503)
  t.same(ready.json(), { status: 'unavailable', redis: 'down' })
  t.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200)

  await app.metrics.flush()
  const lines = await udp.waitFor((l) => l.some((x) => x.startsWith('redis.command.errors:')))
  t.ok(lines.includes(`redis.command.errors:1|c|#${GLOBAL},command:incr`), 'the failed INCR is counted')
  t.ok(lines.includes(`http.requests:1|c|#${GLOBAL},method:GET,route:/,status_code:503`), 'the 503 is counted')

  await redis.start()
  const deadline = Date.now() + 10_000
  let status = 0
  while (Date.now() < deadline) {
    status = (await app.inject({ method: 'GET', url: '/health/ready' })).statusCode
    if (status === 200) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(status, 200, 'ready again once Redis is back, without a restart')
  t.equal((await app.inject({ method: 'GET', url: '/items/kept' })).statusCode, 200, 'the acknowledged write is still there')
})

t.test('Redis that accepts but never answers: 503 after the command timeout', { skip }, async (t) => {
  const { app, redis, config } = await build(t)
  // Frozen (SIGSTOP): connections stay open, commands go unanswered.
  const thaw = redis.freeze()
  const start = performance.now()
  const res = await app.inject({ method: 'GET', url: '/items/x' })
  const took = performance.now() - start
  thaw()
  t.equal(res.statusCode, 503)
  t.ok(took >= config.redisCommandTimeoutMs - 20 && took < config.redisCommandTimeoutMs + 500, `answered after the ${config.redisCommandTimeoutMs} ms timeout (${took.toFixed(0)} ms)`)
})

// QUIT is bounded by ioredis' commandTimeout (plugins/redis.ts): without it, close() would wait
// for QUIT's reply until the test's own timeout.
t.test('Redis that accepts but never answers does not hold shutdown: QUIT waits at most the command timeout', { skip }, async (t) => {
  const { app, redis, config } = await build(t)
  t.equal((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200)
  redis.freeze()
  const start = performance.now()
  await app.close()
  const took = performance.now() - start
  t.ok(took >= config.redisCommandTimeoutMs - 20 && took < config.redisCommandTimeoutMs + 1000, `closed after waiting for QUIT's reply for the ${config.redisCommandTimeoutMs} ms timeout (${took.toFixed(0)} ms)`)
})

t.test('start-up with Redis absent: the service starts, readiness 503', { skip }, async (t) => {
  const { app, redis } = await build(t)
  await app.close()
  await redis.stop()
  const { buildApp } = await import('../../service/app.js')
  const { loadConfig } = await import('../../service/config.js')
  // No load shedding, as in build(): on a busy machine it would answer 503 for its own reason.
  const lonely = await buildApp(loadConfig({ REDIS_URL: redis.url, LOG_LEVEL: 'silent', STATSD_PORT: '9', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0' }))
  t.teardown(() => lonely.close())
  await lonely.ready()
  t.equal((await lonely.inject({ method: 'GET', url: '/health/ready' })).statusCode, 503)
  t.equal((await lonely.inject({ method: 'GET', url: '/' })).statusCode, 503)
  await redis.start()
  await until('reconnection to Redis', () => lonely.redisCommands.connected)
  t.same((await lonely.inject({ method: 'GET', url: '/' })).json(), { hits: 1 }, 'recovers without a restart')
})

t.test('REDIS_WAIT_AT_START fails start-up with a clear error when Redis is absent', { skip }, async (t) => {
  const { buildApp } = await import('../../service/app.js')
  const { loadConfig } = await import('../../service/config.js')
  const { freePort } = await import('../helpers/redis.js')
  const port = await freePort()
  const config = loadConfig({ REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_WAIT_AT_START: 'true', REDIS_START_TIMEOUT_MS: '500', LOG_LEVEL: 'silent', STATSD_PORT: '9' })
  await t.rejects(buildApp(config), { message: 'Redis was not ready within REDIS_START_TIMEOUT_MS=500 ms and REDIS_WAIT_AT_START is true' })
})
