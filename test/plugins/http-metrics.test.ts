import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import t from 'tap'
import httpMetrics, { routeTag } from '../../service/plugins/http-metrics.js'
import type { MetricsSink } from '../../service/metrics/sink.js'
import { build, GLOBAL } from '../helpers/app.js'
import { noopSink } from '../helpers/noop-sink.js'
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

t.test('every route of the service has exactly one measureRoute hook', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const { app } = await build(t, { env: { DEMO_ROUTES: 'true' } })
  // printRoutes lists each route as a line `/path (METHOD)` followed by its hooks, `• (onResponse) ["a()","b()"]`.
  const routes: Array<{ route: string, onResponse: string[] }> = []
  for (const line of app.printRoutes({ includeHooks: true, commonPrefix: false }).split('\n')) {
    const route = /(\/\S*) \(([A-Z,]+)\)/.exec(line)
    if (route !== null) routes.push({ route: `${route[2]} ${route[1]}`, onResponse: [] })
    const hooks = /• \(onResponse\) (\[.*\])/.exec(line)
    if (hooks !== null) routes[routes.length - 1].onResponse = JSON.parse(hooks[1]) as string[]
  }
  t.ok(routes.length >= 10, `${routes.length} routes found: ${routes.map((r) => r.route).join(', ')}`)
  for (const r of routes) {
    t.equal(r.onResponse.filter((h) => h === 'measureRoute()').length, 1, `${r.route}: one measureRoute`)
    t.equal(r.onResponse.filter((h) => h === 'measureUnmatched()').length, 1, `${r.route}: one measureUnmatched`)
  }
})

/** A Fastify app with http-metrics over a sink that records `response` calls as `METHOD route status`. */
async function recorded (routes: (app: FastifyInstance) => void | Promise<void>): Promise<{ app: FastifyInstance, seen: string[], tags: string[] }> {
  const seen: string[] = []
  /** routeTag(request) of each response: the route tag read from request.routeOptions, as the plugin did before. */
  const tags: string[] = []
  const sink: MetricsSink = {
    ...noopSink(),
    response: (method, route, statusCode) => { seen.push(`${method} ${route} ${statusCode}`) }
  }
  const app = Fastify()
  await app.register(fp(async (f) => { f.decorate('metrics', sink) }, { name: 'statsd' }))
  await app.register(httpMetrics)
  app.addHook('onResponse', (request, _reply, done) => {
    tags.push(routeTag(request))
    done()
  })
  await routes(app)
  await app.ready()
  return { app, seen, tags }
}

t.test('one measurement per response whatever the route carries (recording sink)', async (t) => {
  const { app, seen, tags } = await recorded(async (app) => {
    app.get('/plain/:id', async () => ({ ok: true }))
    app.get('/own-hook', { onResponse: (_req, _reply, done) => done() }, async () => 'x')
    app.get('/own-hooks', { onResponse: [(_req, _reply, done) => done(), (_req, _reply, done) => done()] }, async () => 'x')
    app.get('/failing-hook', { onResponse: (_req, _reply, done) => done(new Error('boom')) }, async () => 'x')
    await app.register(async (child) => {
      child.get('/', async () => 'root of prefix')
      child.post('/thing', async () => 'posted')
    }, { prefix: '/v1' })
  })
  t.teardown(() => app.close())
  const cases: Array<[string, string, string]> = [
    ['GET', '/plain/7', 'GET /plain/:id 200'],
    ['HEAD', '/plain/7', 'HEAD /plain/:id 200'],
    ['GET', '/own-hook', 'GET /own-hook 200'],
    ['GET', '/own-hooks', 'GET /own-hooks 200'],
    ['GET', '/failing-hook', 'GET /failing-hook 200'],
    ['GET', '/v1', 'GET /v1 200'],
    // Fastify registers the prefix's root twice, both with request.routeOptions.url '/v1'.
    ['GET', '/v1/', 'GET /v1 200'],
    ['POST', '/v1/thing', 'POST /v1/thing 200'],
    ['GET', '/nowhere', 'GET __unmatched__ 404'],
    ['DELETE', '/plain/7', 'DELETE __unmatched__ 404']
  ]
  for (const [method, url, want] of cases) {
    seen.length = 0
    tags.length = 0
    const res = await app.inject({ method: method as 'GET', url })
    t.same(seen, [want], `${method} ${url} (${res.statusCode}): measured once`)
    t.same(tags, [want.split(' ')[1]], `${method} ${url}: the route tag routeTag(request) gives`)
  }
  t.equal(app.inFlight(), 0, 'in-flight back to 0')
})
