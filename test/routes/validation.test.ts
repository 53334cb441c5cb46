import t from 'tap'
import type { InjectOptions } from 'fastify'
import { BODY_LIMIT_BYTES } from '../../service/app.js'
import { build } from '../helpers/app.js'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'

const skip = haveRedisServer() ? false : NO_REDIS

t.test('bad input gets a 4xx JSON message that names the field; nothing is stored', { skip }, async (t) => {
  const { app } = await build(t)
  const long = 'x'.repeat(129)
  const cases: Array<[string, { method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, headers?: Record<string, string> }, number, string]> = [
    ['key with a space', { method: 'POST', url: '/items', payload: { key: 'a b', value: 'v' } }, 400, 'body/key must match pattern "^[A-Za-z0-9._:-]+$"'],
    ['empty key', { method: 'POST', url: '/items', payload: { key: '', value: 'v' } }, 400, 'body/key must NOT have fewer than 1 characters'],
    ['key of 129', { method: 'POST', url: '/items', payload: { key: long, value: 'v' } }, 400, 'body/key must NOT have more than 128 characters'],
    ['missing value', { method: 'POST', url: '/items', payload: { key: 'k' } }, 400, "body must have required property 'value'"],
    ['ttl 0', { method: 'POST', url: '/items', payload: { key: 'k', value: 'v', ttl: 0 } }, 400, 'body/ttl must be >= 1'],
    ['ttl too big', { method: 'POST', url: '/items', payload: { key: 'k', value: 'v', ttl: 2592001 } }, 400, 'body/ttl must be <= 2592000'],
    ['ttl fraction', { method: 'POST', url: '/items', payload: { key: 'k', value: 'v', ttl: 1.5 } }, 400, 'body/ttl must be integer'],
    ['unknown field', { method: 'POST', url: '/items', payload: { key: 'k', value: 'v', colour: 'red' } }, 400, "body must NOT have additional properties: 'colour'"],
    ['value too long', { method: 'POST', url: '/items', payload: { key: 'k', value: 'v'.repeat(65537) } }, 400, 'body/value must NOT have more than 65536 characters'],
    ['array body', { method: 'POST', url: '/items', payload: [1, 2] }, 400, 'body must be object'],
    ['broken JSON', { method: 'POST', url: '/items', payload: '{"key":', headers: { 'content-type': 'application/json' } }, 400, 'Body is not valid JSON'],
    ['text/plain', { method: 'POST', url: '/items', payload: 'key=k', headers: { 'content-type': 'text/plain' } }, 415, 'Unsupported Media Type'],
    ['bad key in path', { method: 'GET', url: '/items/a%20b' }, 400, 'params/key must match pattern "^[A-Za-z0-9._:-]+$"'],
    ['glob key in path', { method: 'DELETE', url: '/items/*' }, 400, 'params/key must match pattern "^[A-Za-z0-9._:-]+$"'],
    ['limit 0', { method: 'GET', url: '/items?limit=0' }, 400, 'querystring/limit must be >= 1'],
    ['limit 101', { method: 'GET', url: '/items?limit=101' }, 400, 'querystring/limit must be <= 100'],
    ['limit text', { method: 'GET', url: '/items?limit=ten' }, 400, 'querystring/limit must be integer'],
    ['cursor text', { method: 'GET', url: '/items?cursor=abc' }, 400, 'querystring/cursor must match pattern "^(0|[1-9][0-9]{0,19})$"'],
    ['cursor negative', { method: 'GET', url: '/items?cursor=-1' }, 400, 'querystring/cursor must match pattern "^(0|[1-9][0-9]{0,19})$"'],
    ['cursor > 2^64-1', { method: 'GET', url: '/items?cursor=18446744073709551616' }, 400, 'querystring/cursor must be at most 18446744073709551615'],
    ['unknown query', { method: 'GET', url: '/items?sort=asc' }, 400, "querystring must NOT have additional properties: 'sort'"],
    ['demo bound', { method: 'GET', url: '/demo/io?ms=999999' }, 400, 'querystring/ms must be <= 2000']
  ]
  for (const [name, request, status, message] of cases) {
    const res = await app.inject(request as InjectOptions)
    t.equal(res.statusCode, status, `${name}: status`)
    t.match(res.headers['content-type'], /^application\/json/, `${name}: JSON`)
    const body = res.json() as { statusCode: number, message: string }
    t.equal(body.statusCode, status, `${name}: statusCode in body`)
    t.ok(body.message.includes(message), `${name}: "${body.message}" says "${message}"`)
  }
  t.same(await app.redis.keys('item:*'), [], 'no invalid write reached Redis')
})

t.test('an oversized body is refused with 413 before parsing', { skip }, async (t) => {
  const { app } = await build(t)
  const res = await app.inject({ method: 'POST', url: '/items', payload: { key: 'k', value: 'v'.repeat(BODY_LIMIT_BYTES) } })
  t.equal(res.statusCode, 413)
  t.equal(res.json().error, 'Payload Too Large')
})

t.test('a value of exactly 64 KiB with JSON escapes is accepted', { skip }, async (t) => {
  const { app } = await build(t)
  const value = '\u0001'.repeat(65536)
  const res = await app.inject({ method: 'POST', url: '/items', payload: JSON.stringify({ key: 'big', value }), headers: { 'content-type': 'application/json' } })
  t.equal(res.statusCode, 201)
  t.equal((await app.redis.get('item:big'))?.length, 65536)
})

t.test('unknown routes and 5xx answer JSON without internals', { skip }, async (t) => {
  const { app } = await build(t)
  const notFound = await app.inject({ method: 'GET', url: '/../../etc/passwd' })
  t.equal(notFound.statusCode, 404)
  t.equal(notFound.json().error, 'Not Found')
  const boom = await app.inject({ method: 'GET', url: '/demo/error' })
  t.equal(boom.statusCode, 500)
  t.same(boom.json(), { statusCode: 500, error: 'Internal Server Error', message: 'internal server error' })
})
