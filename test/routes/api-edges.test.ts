import t from 'tap'
import { build, GLOBAL } from '../helpers/app.js'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'

const skip = haveRedisServer() ? false : NO_REDIS
/** Load shedding off: on a busy test machine it would answer some requests 503 itself. */
const env = { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0' }

t.test('a known path with a method it does not serve: 405, Allow from the router, JSON body', { skip }, async (t) => {
  const { app, udp } = await build(t, { env })
  const cases: Array<{ method: 'PUT' | 'PATCH' | 'POST' | 'DELETE' | 'OPTIONS', url: string, allow: string }> = [
    { method: 'PUT', url: '/items', allow: 'GET, HEAD, POST' },
    { method: 'DELETE', url: '/items?cursor=0', allow: 'GET, HEAD, POST' },
    { method: 'PATCH', url: '/items/some-key', allow: 'DELETE, GET, HEAD' },
    { method: 'POST', url: '/items/some-key', allow: 'DELETE, GET, HEAD' },
    { method: 'POST', url: '/', allow: 'GET, HEAD' },
    { method: 'OPTIONS', url: '/health/ready', allow: 'GET, HEAD' },
    { method: 'DELETE', url: '/demo/error', allow: 'GET, HEAD' }
  ]
  for (const c of cases) {
    udp.clear()
    const res = await app.inject({ method: c.method, url: c.url })
    t.equal(res.statusCode, 405, `${c.method} ${c.url}: 405`)
    t.equal(res.headers.allow, c.allow, `${c.method} ${c.url}: Allow ${c.allow}`)
    t.match(res.headers['content-type'], /^application\/json/)
    t.strictSame(res.json(), { statusCode: 405, error: 'Method Not Allowed', message: `method ${c.method} not allowed here; allowed: ${c.allow}` })
    await app.metrics.flush()
    const lines = await udp.waitFor((l) => l.some((x) => x.startsWith('http.requests:')))
    t.same(lines.filter((l) => l.startsWith('http.requests:')), [`http.requests:1|c|#${GLOBAL},method:${c.method},route:__unmatched__,status_code:405`], 'counted once, under the unmatched route')
  }
  const unknown = await app.inject({ method: 'PUT', url: '/nowhere' })
  t.equal(unknown.statusCode, 404, 'a path no method serves is still a 404')
  t.equal(unknown.headers.allow, undefined, 'without Allow')
  t.strictSame(unknown.json(), { statusCode: 404, error: 'Not Found', message: 'no route for PUT /nowhere' })
  t.same(await app.redis.keys('*'), [], 'nothing reached Redis')
})

t.test('JSON bodies are not type-coerced; query strings still are', { skip }, async (t) => {
  const { app } = await build(t, { env })
  const bad: Array<[unknown, string]> = [
    [{ key: 'k', value: 'v', ttl: '10' }, 'body/ttl must be integer'],
    [{ key: 'k', value: 'v', ttl: true }, 'body/ttl must be integer'],
    [{ key: 'k', value: 10 }, 'body/value must be string'],
    [{ key: 123, value: 'v' }, 'body/key must be string'],
    [{ key: 'k', value: null }, 'body/value must be string'],
    [{ key: ['k'], value: 'v' }, 'body/key must be string']
  ]
  for (const [payload, message] of bad) {
    const res = await app.inject({ method: 'POST', url: '/items', payload: payload as object })
    t.equal(res.statusCode, 400, `${JSON.stringify(payload)}: 400`)
    t.strictSame(res.json(), { statusCode: 400, error: 'Bad Request', message, code: 'FST_ERR_VALIDATION' })
  }
  t.same(await app.redis.keys('*'), [], 'none of them was stored')
  const good = await app.inject({ method: 'POST', url: '/items', payload: { key: 'k', value: 'v', ttl: 10 } })
  t.equal(good.statusCode, 201, 'a JSON integer ttl is accepted')
  t.equal(await app.redis.ttl('item:k'), 10)

  const io = await app.inject({ url: '/demo/io?ms=5' })
  t.same(io.json(), { ok: true, ms: 5 }, 'query ms=5 arrives as the number 5')
  const page = await app.inject({ url: '/items?limit=1' })
  t.equal(page.statusCode, 200, 'query limit=1 is coerced to an integer')
  t.equal(page.json().items.length, 1)
})
