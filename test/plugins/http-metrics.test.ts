import t from 'tap'
import { build, GLOBAL } from '../helpers/app.js'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'

/** The two lines one response produces, minus the duration value (asserted separately). */
function responseLines (lines: string[], method: string, route: string, status: number): { count: string[], timers: string[] } {
  const tags = `|#${GLOBAL},method:${method},route:${route},status_code:${status}`
  return {
    count: lines.filter((l) => l === `http.requests:1|c${tags}`),
    timers: lines.filter((l) => /^http\.request\.duration:\d+(\.\d+)?\|ms\|#/.test(l) && l.endsWith(`|ms${tags}`))
  }
}

t.test('exact StatsD lines per route class, over a real UDP socket', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const { app, udp } = await build(t)

  const cases: Array<{ name: string, method: 'GET' | 'POST' | 'DELETE' | 'PUT', url: string, body?: unknown, route: string, status: number, extra?: string[] }> = [
    { name: 'created', method: 'POST', url: '/items', body: { key: 'k1', value: 'v' }, route: '/items', status: 201, extra: ['redis.command.duration:', 'command:set'] },
    { name: 'replaced', method: 'POST', url: '/items', body: { key: 'k1', value: 'w' }, route: '/items', status: 200 },
    { name: 'hit', method: 'GET', url: '/items/k1', route: '/items/:key', status: 200, extra: [`cache.lookups:1|c|#${GLOBAL},result:hit`] },
    { name: 'miss', method: 'GET', url: '/items/absent', route: '/items/:key', status: 404, extra: [`cache.lookups:1|c|#${GLOBAL},result:miss`] },
    { name: '400 (schema)', method: 'POST', url: '/items', body: { key: 'bad key', value: 'v' }, route: '/items', status: 400 },
    { name: '404 unmatched', method: 'GET', url: '/no/such/thing?x=1', route: '__unmatched__', status: 404 },
    // No route served it, so no template: route tags stay the registered templates plus one value.
    { name: '405 known path, other method', method: 'PUT', url: '/items/absent', route: '__unmatched__', status: 405 },
    { name: '5xx', method: 'GET', url: '/demo/error', route: '/demo/error', status: 500 },
    { name: 'counter', method: 'GET', url: '/', route: '/', status: 200 }
  ]
  for (const c of cases) {
    udp.clear()
    const res = await app.inject({ method: c.method, url: c.url, payload: c.body as object | undefined })
    t.equal(res.statusCode, c.status, `${c.name}: status`)
    await app.metrics.flush()
    const lines = await udp.waitFor((l) => responseLines(l, c.method, c.route, c.status).timers.length === 1)
    const { count, timers } = responseLines(lines, c.method, c.route, c.status)
    t.equal(count.length, 1, `${c.name}: one http.requests line`)
    t.equal(timers.length, 1, `${c.name}: one http.request.duration line`)
    for (const want of c.extra ?? []) {
      t.ok(lines.some((l) => l.includes(want)), `${c.name}: has ${want}`)
    }
    t.notOk(lines.some((l) => l.includes('absent') || l.includes('/no/such')), `${c.name}: no key or raw URL in any line`)
  }
})

t.test('the timer is reply.elapsedTime in milliseconds', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const { app, udp } = await build(t)
  const res = await app.inject({ method: 'GET', url: '/demo/io?ms=50' })
  t.equal(res.statusCode, 200)
  await app.metrics.flush()
  const lines = await udp.waitFor((l) => l.some((x) => x.startsWith('http.request.duration:')))
  const line = lines.find((x) => x.startsWith('http.request.duration:')) ?? ''
  const ms = Number(line.slice('http.request.duration:'.length, line.indexOf('|')))
  t.ok(ms >= 49 && ms < 1000, `duration ${ms} ms is about 50 ms, in milliseconds`)
  t.ok(line.endsWith(`|ms|#${GLOBAL},method:GET,route:/demo/io,status_code:200`), line)
})
