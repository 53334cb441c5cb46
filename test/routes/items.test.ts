import t from 'tap'
import { build } from '../helpers/app.js'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'

const skip = haveRedisServer() ? false : NO_REDIS

t.test('items: create, replace, read, list, delete against a real Redis', { skip }, async (t) => {
  const { app } = await build(t)
  const created = await app.inject({ method: 'POST', url: '/items', payload: { key: 'user:42', value: 'hello' } })
  t.equal(created.statusCode, 201)
  t.same(created.json(), { key: 'user:42', created: true })
  t.equal(created.headers.location, '/items/user:42')

  const replaced = await app.inject({ method: 'POST', url: '/items', payload: { key: 'user:42', value: 'again', ttl: 60 } })
  t.equal(replaced.statusCode, 200)
  t.same(replaced.json(), { key: 'user:42', created: false })
  t.equal(await app.redis.ttl('item:user:42'), 60, 'ttl set in seconds')
  t.equal(await app.redis.get('item:user:42'), 'again', 'stored under the item: namespace')

  const hit = await app.inject({ method: 'GET', url: '/items/user:42' })
  t.equal(hit.statusCode, 200)
  t.same(hit.json(), { key: 'user:42', value: 'again' })

  const miss = await app.inject({ method: 'GET', url: '/items/nobody' })
  t.equal(miss.statusCode, 404)
  t.same(miss.json(), { statusCode: 404, error: 'Not Found', message: 'item nobody not found' })

  t.equal((await app.inject({ method: 'DELETE', url: '/items/user:42' })).statusCode, 204)
  const gone = await app.inject({ method: 'DELETE', url: '/items/user:42' })
  t.equal(gone.statusCode, 404)
  t.equal(gone.json().message, 'item user:42 not found')
})

t.test('listing pages through every item with SCAN cursors, never other keys', { skip }, async (t) => {
  const { app } = await build(t)
  await app.redis.set('unrelated', 'x')
  await app.inject({ method: 'GET', url: '/' })
  const keys = Array.from({ length: 250 }, (_, i) => `k${i}`)
  for (const key of keys) await app.redis.set(`item:${key}`, `v-${key}`)
  const seen = new Map<string, string>()
  let cursor: string | null = '0'
  let pages = 0
  while (cursor !== null && pages < 1000) {
    const res = await app.inject({ method: 'GET', url: `/items?cursor=${cursor}&limit=50` })
    t.equal(res.statusCode, 200)
    const page = res.json() as { items: Array<{ key: string, value: string }>, next_cursor: string | null }
    for (const item of page.items) seen.set(item.key, item.value)
    cursor = page.next_cursor
    pages++
  }
  t.equal(cursor, null, 'the scan completes')
  t.ok(pages > 1, `several pages (${pages})`)
  t.same([...seen.keys()].sort(), [...keys].sort(), 'every item once, no counter or unrelated key')
  t.equal(seen.get('k7'), 'v-k7')
})

t.test('the hit counter counts', { skip }, async (t) => {
  const { app } = await build(t)
  t.same((await app.inject({ method: 'GET', url: '/' })).json(), { hits: 1 })
  t.same((await app.inject({ method: 'GET', url: '/' })).json(), { hits: 2 })
  t.equal(await app.redis.get('counter:hits'), '2')
})

t.test('ttl expires items', { skip }, async (t) => {
  const { app } = await build(t)
  await app.inject({ method: 'POST', url: '/items', payload: { key: 'brief', value: 'v', ttl: 1 } })
  t.equal((await app.inject({ method: 'GET', url: '/items/brief' })).statusCode, 200)
  const ttl = await app.redis.pttl('item:brief')
  t.ok(ttl > 0 && ttl <= 1000, `Redis holds it with a TTL of at most 1 s (${ttl} ms left)`)
  // Redis expires it by its own clock: poll for that (deadline 30 s) rather than guess it.
  let status = 200
  for (const deadline = Date.now() + 30_000; status !== 404 && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    status = (await app.inject({ method: 'GET', url: '/items/brief' })).statusCode
  }
  t.equal(status, 404, 'gone once the TTL ran out')
})

t.test('keys at the 128-character limit work on every route; 129 is a 400', { skip }, async (t) => {
  const { app } = await build(t)
  const key = 'k'.repeat(128)
  t.equal((await app.inject({ method: 'POST', url: '/items', payload: { key, value: 'v' } })).statusCode, 201)
  t.same((await app.inject({ method: 'GET', url: `/items/${key}` })).json(), { key, value: 'v' })
  t.equal((await app.inject({ method: 'DELETE', url: `/items/${key}` })).statusCode, 204)
  const tooLong = await app.inject({ method: 'GET', url: `/items/${key}k` })
  t.equal(tooLong.statusCode, 400)
  t.equal(tooLong.json().message, 'params/key must NOT have more than 128 characters')
})
