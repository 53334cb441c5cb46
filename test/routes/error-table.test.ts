import t from 'tap'
import { BODY_LIMIT_BYTES } from '../../service/app.js'
import { build } from '../helpers/app.js'
import { exchange } from '../helpers/raw-socket.js'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'

const skip = haveRedisServer() ? false : NO_REDIS
const json = { 'content-type': 'application/json' }
/** A path with no route, 300 characters before its query: the 404 message quotes 200. */
const LONG_404 = `/nowhere/${'n'.repeat(291)}?x=${'q'.repeat(50)}`

/**
 * Every error path over a real socket, with the exact status, headers and body: the table in
 * docs/api.md ("Errors") lists these same answers.
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
      name: 'empty JSON body',
      url: '/items',
      init: { method: 'POST', headers: json, body: '' },
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: "Body cannot be empty when content-type is set to 'application/json'", code: 'FST_ERR_CTP_EMPTY_JSON_BODY' }
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
      name: 'no route, a URL over 200 characters: its first 200',
      url: LONG_404,
      status: 404,
      body: { statusCode: 404, error: 'Not Found', message: `no route for GET ${LONG_404.slice(0, 200)}` }
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
  }
})

/** Status line, headers (lower-case names) and body of one raw HTTP/1.1 response. */
function parseRaw (raw: string): { statusLine: string, headers: Record<string, string>, body: string } {
  const [head = '', body = ''] = raw.split('\r\n\r\n', 2)
  const [statusLine = '', ...lines] = head.split('\r\n')
  return { statusLine, headers: Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()])), body }
}

/** A marker in every URL below, raw and percent-encoded (%73%33%63%72%33%74 is s3cr3t). */
const MARK = 's3cr3t'
const MARK_ENCODED = '%73%33%63%72%33%74'

/**
 * Answers that never quote the URL, each for several URLs carrying {@link MARK} (short, long,
 * in the query, percent-encoded), and the chunk-extension 413 that Node's parser raises: bytes
 * on a raw socket, the exact status line and body, no trace of the URL anywhere in the answer.
 * (Two answers quote on purpose: `item <key> not found` and the 404 `no route for ...`.)
 */
t.test('over a raw socket: the parser 413 for chunk extensions, and URLs never echoed', { skip }, async (t) => {
  const { app } = await build(t, { env: { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0' } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0

  const extension = await exchange(port, 'POST /items HTTP/1.1\r\nHost: svc\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
    `2;ext=${'e'.repeat(20_000)}\r\n{}\r\n0\r\n\r\n`)
  const ext = parseRaw(extension)
  t.equal(ext.statusLine, 'HTTP/1.1 413 Payload Too Large', 'chunk extensions over 16 KiB: 413')
  t.equal(ext.headers['content-type'], 'application/json; charset=utf-8')
  t.equal(ext.headers.connection, 'close')
  t.equal(ext.body, '{"statusCode":413,"error":"Payload Too Large","message":"chunk extensions too large"}', 'chunk extensions: the exact body')

  const classes: Array<{ name: string, method: string, urls: string[], status: string, body: object }> = [
    {
      name: 'malformed URL',
      method: 'GET',
      urls: [`/${MARK}%zz`, `/items/${MARK}%zz?token=${MARK}`, `/items/${MARK.repeat(30)}%zz`, `/items/${MARK_ENCODED}%zz`],
      status: 'HTTP/1.1 400 Bad Request',
      body: { statusCode: 400, error: 'Bad Request', message: 'the URL path is not valid percent-encoded text', code: 'FST_ERR_BAD_URL' }
    },
    {
      name: 'path parameter too long',
      method: 'GET',
      urls: [`/items/${MARK.repeat(43)}`, `/items/${MARK.repeat(43)}?token=${MARK}`, `/items/${MARK_ENCODED.repeat(50)}`, `/items/${MARK.repeat(1000)}`],
      status: 'HTTP/1.1 414 URI Too Long',
      body: { statusCode: 414, error: 'URI Too Long', message: 'a path parameter is longer than 256 characters', code: 'FST_ERR_MAX_PARAM_LENGTH' }
    },
    {
      name: 'method not allowed',
      method: 'PUT',
      urls: [`/items/${MARK}`, `/items/${MARK}?token=${MARK}`, `/items/${MARK_ENCODED}`, `/items/${MARK.repeat(40)}`],
      status: 'HTTP/1.1 405 Method Not Allowed',
      body: { statusCode: 405, error: 'Method Not Allowed', message: 'method PUT not allowed here; allowed: DELETE, GET, HEAD' }
    },
    {
      name: 'schema (query string)',
      method: 'GET',
      urls: [`/items?limit=${MARK}`, `/items?limit=${MARK_ENCODED}`, `/items?limit=${MARK.repeat(40)}`],
      status: 'HTTP/1.1 400 Bad Request',
      body: { statusCode: 400, error: 'Bad Request', message: 'querystring/limit must be integer', code: 'FST_ERR_VALIDATION' }
    },
    {
      name: 'unexpected error',
      method: 'GET',
      urls: [`/demo/error?${MARK}=1`, `/demo/error?token=${MARK_ENCODED}`],
      status: 'HTTP/1.1 500 Internal Server Error',
      body: { statusCode: 500, error: 'Internal Server Error', message: 'internal server error' }
    }
  ]
  for (const c of classes) {
    for (const url of c.urls) {
      const raw = await exchange(port, `${c.method} ${url} HTTP/1.1\r\nHost: svc\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
      const res = parseRaw(raw)
      const label = `${c.name}, ${url.length} characters: ${url.slice(0, 60)}`
      t.equal(res.statusLine, c.status, label)
      t.strictSame(JSON.parse(res.body), c.body, `${label}: the exact body`)
      t.notOk(raw.includes(MARK) || raw.includes(MARK_ENCODED) || raw.includes(url.slice(1, 20)), `${label}: the URL is not echoed (status line, headers or body)`)
    }
  }
})
