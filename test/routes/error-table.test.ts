import t from 'tap'
import { BODY_LIMIT_BYTES } from '../../service/app.js'
import { build } from '../helpers/app.js'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'

const skip = haveRedisServer() ? false : NO_REDIS
const json = { 'content-type': 'application/json' }

/**
 * Every error path over a real socket, with the exact status, headers and body: the table in
 * README.md ("Errors") lists these same answers.
 */
t.test('every error path answers exactly the documented body, over a real socket', { skip }, async (t) => {
  // Load shedding off: on a busy test machine it would answer some requests 503 itself.
  const { app, redis } = await build(t, { env: { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0' } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  const cases: Array<{ name: string, url: string, init?: RequestInit, status: number, body: object, headers?: Record<string, string>, before?: () => Promise<void> }> = [
    {
      name: 'schema',
      url: '/items',
      init: { method: 'POST', headers: json, body: '{"key":"k","value":"v","ttl":"10"}' },
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: 'body/ttl must be integer', code: 'FST_ERR_VALIDATION' }
    },
    {
      name: 'broken JSON',
      url: '/items',
      init: { method: 'POST', headers: json, body: '{"key":' },
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: "Body is not valid JSON but content-type is set to 'application/json'", code: 'FST_ERR_CTP_INVALID_JSON_BODY' }
    },
    {
      name: 'malformed URL',
      url: '/items/%zz',
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: 'the URL path is not valid percent-encoded text', code: 'FST_ERR_BAD_URL' }
    },
    {
      name: 'item not found',
      url: '/items/absent',
      status: 404,
      body: { statusCode: 404, error: 'Not Found', message: 'item absent not found' }
    },
    {
      name: 'no route',
      url: '/nowhere?x=1',
      status: 404,
      body: { statusCode: 404, error: 'Not Found', message: 'no route for GET /nowhere?x=1' }
    },
    {
      name: 'method not allowed',
      url: '/items',
      init: { method: 'PUT', headers: json, body: '{}' },
      status: 405,
      headers: { allow: 'GET, HEAD, POST' },
      body: { statusCode: 405, error: 'Method Not Allowed', message: 'method PUT not allowed here; allowed: GET, HEAD, POST' }
    },
    {
      name: 'body too large',
      url: '/items',
      init: { method: 'POST', headers: json, body: JSON.stringify({ key: 'k', value: 'v'.repeat(BODY_LIMIT_BYTES) }) },
      status: 413,
      body: { statusCode: 413, error: 'Payload Too Large', message: 'Request body is too large', code: 'FST_ERR_CTP_BODY_TOO_LARGE' }
    },
    {
      name: 'path parameter too long',
      url: `/items/${'k'.repeat(257)}`,
      status: 414,
      body: { statusCode: 414, error: 'URI Too Long', message: 'a path parameter is longer than 256 characters', code: 'FST_ERR_MAX_PARAM_LENGTH' }
    },
    {
      name: 'media type',
      url: '/items',
      init: { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'key=k' },
      status: 415,
      body: { statusCode: 415, error: 'Unsupported Media Type', message: 'Unsupported Media Type', code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' }
    },
    {
      name: 'unexpected error',
      url: '/demo/error',
      status: 500,
      body: { statusCode: 500, error: 'Internal Server Error', message: 'internal server error' }
    },
    {
      name: 'dependency down',
      url: '/items/k',
      status: 503,
      body: { statusCode: 503, error: 'Service Unavailable', message: 'service unavailable: a dependency did not answer' },
      before: async () => await redis.stop()
    }
  ]
  for (const c of cases) {
    await c.before?.()
    const res = await fetch(base + c.url, c.init)
    const text = await res.text()
    t.equal(res.status, c.status, `${c.name}: ${c.status}`)
    t.equal(res.headers.get('content-type'), 'application/json; charset=utf-8', `${c.name}: JSON`)
    for (const [name, value] of Object.entries(c.headers ?? {})) t.equal(res.headers.get(name), value, `${c.name}: ${name}`)
    t.strictSame(JSON.parse(text), c.body, `${c.name}: the exact body`)
    t.notOk(c.url.length > 100 && text.includes(c.url.slice(7, 100)), `${c.name}: the URL is not echoed`)
  }
})
