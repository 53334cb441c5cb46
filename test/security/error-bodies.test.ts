import t from 'tap'
import { build, GLOBAL } from '../helpers/app.js'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'

const skip = haveRedisServer() ? false : NO_REDIS

/** Anything that would tell an attacker about the code: a stack frame, a path, a driver error. */
const INTERNALS = /\n\s+at |node_modules|\/work\/|\.ts:\d+|ECONNREFUSED|ioredis|Stream isn't writeable|demo: an unexpected failure|stack/i

t.test('5xx bodies are generic: no stack, no cause, no internals', { skip }, async (t) => {
  const { app, redis } = await build(t)

  const error = await app.inject({ url: '/demo/error' })
  t.equal(error.statusCode, 500)
  t.same(error.json(), { statusCode: 500, error: 'Internal Server Error', message: 'internal server error' }, 'an unexpected error: the generic body, exactly')
  t.notMatch(error.body, INTERNALS)

  await redis.stop()
  for (const url of ['/', '/items/k', '/items']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 503, `${url}: 503`)
    t.same(res.json(), { statusCode: 503, error: 'Service Unavailable', message: 'service unavailable: a dependency did not answer' }, `${url}: the generic body, exactly`)
    t.notMatch(res.body, INTERNALS, `${url}: nothing about Redis, the driver or the address`)
  }
})

t.test('errors Fastify raises before routing get the ErrorResponse shape and are counted (frameworkErrors)', { skip }, async (t) => {
  const { app, udp } = await build(t)
  const cases = [
    { url: '/items/%zz', status: 400, error: 'Bad Request', code: 'FST_ERR_BAD_URL', message: 'the URL path is not valid percent-encoded text' },
    { url: '/%C0%AF', status: 400, error: 'Bad Request', code: 'FST_ERR_BAD_URL', message: 'the URL path is not valid percent-encoded text' },
    // Never the URL back: a 414 is about a URL too long to be worth echoing.
    { url: `/items/${'k'.repeat(257)}`, status: 414, error: 'URI Too Long', code: 'FST_ERR_MAX_PARAM_LENGTH', message: 'a path parameter is longer than 256 characters' }
  ]
  for (const c of cases) {
    udp.clear()
    const res = await app.inject({ url: c.url })
    t.equal(res.statusCode, c.status, `${c.url.slice(0, 30)}: ${c.status}`)
    t.same(res.json(), { statusCode: c.status, error: c.error, message: c.message, code: c.code }, 'ErrorResponse shape')
    t.notOk(res.body.includes(c.url), 'the URL is not echoed')
    t.match(String(res.headers['content-type']), /^application\/json/)
    await app.metrics.flush()
    const lines = await udp.waitFor((l) => l.some((x) => x.startsWith('http.requests:')))
    t.ok(lines.some((l) => l === `http.requests:1|c|#${GLOBAL},method:GET,route:__unmatched__,status_code:${c.status}`), 'counted once, under the unmatched route, never the raw URL')
    t.ok(lines.some((l) => /^http\.request\.duration:[\d.]+\|ms\|#/.test(l) && l.endsWith(`route:__unmatched__,status_code:${c.status}`)), 'and timed')
    t.notOk(lines.some((l) => l.includes('%zz') || l.includes('kkkk')), 'no part of the URL in any line')
  }
  t.equal(app.inFlight(), 0, 'in-flight gauge untouched (these never entered the hooks)')
})
