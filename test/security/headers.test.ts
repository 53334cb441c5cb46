import t from 'tap'
import { BODY_LIMIT_BYTES } from '../../service/app.js'
import { build } from '../helpers/app.js'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'

/**
 * Response headers over a real socket (the app listening on 127.0.0.1): nothing names the
 * framework, the runtime or a version, whatever the status. An allowlist, so a header added
 * later (by a plugin, a proxy helper) has to be looked at before it ships.
 */

const ALLOWED = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive', 'location', 'retry-after', 'transfer-encoding'])
/** What a version or framework leak looks like in a header value. */
const LEAK = /fastify|node|express|v?\d+\.\d+\.\d+|x-powered/i

t.test('no header names the framework, the runtime or a version, for every status class', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const { app, redis } = await build(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  const json = { 'content-type': 'application/json' }
  const cases: Array<{ name: string, url: string, init?: RequestInit, status: number }> = [
    { name: 'hit counter', url: '/', status: 200 },
    { name: 'created', url: '/items', init: { method: 'POST', headers: json, body: JSON.stringify({ key: 'h', value: 'v' }) }, status: 201 },
    { name: 'replaced', url: '/items', init: { method: 'POST', headers: json, body: JSON.stringify({ key: 'h', value: 'w' }) }, status: 200 },
    { name: 'deleted', url: '/items/h', init: { method: 'DELETE' }, status: 204 },
    { name: 'miss', url: '/items/h', status: 404 },
    { name: 'unmatched', url: '/wp-admin/install.php', status: 404 },
    { name: 'validation', url: '/items', init: { method: 'POST', headers: json, body: '{"key":"a b","value":"v"}' }, status: 400 },
    { name: 'malformed URL', url: '/items/%zz', status: 400 },
    { name: 'parameter too long', url: `/items/${'k'.repeat(257)}`, status: 414 },
    { name: 'wrong media type', url: '/items', init: { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }, status: 415 },
    { name: 'too large', url: '/items', init: { method: 'POST', headers: json, body: JSON.stringify({ key: 'k', value: 'v'.repeat(BODY_LIMIT_BYTES) }) }, status: 413 },
    { name: 'unexpected error', url: '/demo/error', status: 500 },
    { name: 'liveness', url: '/health/live', status: 200 }
  ]
  const check = async (c: { name: string, url: string, init?: RequestInit, status: number }): Promise<void> => {
    const res = await fetch(base + c.url, c.init)
    await res.arrayBuffer()
    t.equal(res.status, c.status, `${c.name}: ${c.status}`)
    const names = [...res.headers.keys()]
    t.same(names.filter((n) => !ALLOWED.has(n)), [], `${c.name}: only allowlisted headers (${names.join(', ')})`)
    const leaks = [...res.headers].filter(([n, v]) => n !== 'date' && LEAK.test(v))
    t.same(leaks, [], `${c.name}: no framework or version in a header value`)
  }
  for (const c of cases) await check(c)

  await redis.stop()
  await check({ name: 'dependency down', url: '/items/h', status: 503 })
  await check({ name: 'not ready', url: '/health/ready', status: 503 })
})
