import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import t from 'tap'
import { app as appPlugin, serverOptions } from '../../service/app.js'
import { loadConfig } from '../../service/config.js'
import statsdRed, { routeTag, type MetricsSink } from 'fastify-statsd-red'
import { build, GLOBAL } from '../helpers/app.js'
import { noopSink } from '../helpers/noop-sink.js'
import { haveRedisServer, NO_REDIS, startRedis, type TestLike } from '../helpers/redis.js'
import { until } from '../helpers/wait.js'

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

/** One route/method pair as Fastify registered it, with the options object its onRoute hooks saw. */
interface RegisteredRoute { method: string, url: string, options: RouteOptions }

/**
 * The real service (demo routes on) over a recording sink, with an `onRoute` hook registered
 * before the app's own: every route/method pair Fastify registers (the HEAD routes it adds for
 * GET included), from Fastify itself. The instance is built as buildApp builds it; the hook has
 * to be on it before the app registers its routes, which buildApp does before it returns.
 */
async function serviceRoutes (t: TestLike): Promise<{ app: FastifyInstance, routes: RegisteredRoute[], seen: string[] }> {
  const redis = await startRedis(t)
  const config = loadConfig({ REDIS_URL: redis.url, DEMO_ROUTES: 'true', LOG_LEVEL: 'silent', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0' }, '1.2.3')
  const seen: string[] = []
  const sink: MetricsSink = { ...noopSink(), response: (method, route) => { seen.push(`${method} ${route}`) } }
  const app = Fastify(serverOptions(config))
  const routes: RegisteredRoute[] = []
  app.addHook('onRoute', (options) => {
    for (const method of [options.method].flat()) routes.push({ method, url: options.url ?? '', options })
  })
  await app.register(fp(appPlugin, { name: 'app' }), { config, sink })
  t.teardown(() => app.close())
  await app.ready()
  // Connected, so the Redis-backed routes take their real path rather than the 503 one.
  await until('connection to Redis', () => app.redisCommands.connected)
  return { app, routes, seen }
}

t.test('every route/method pair of the service has exactly one measureRoute and one measureUnmatched', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const { app, routes, seen } = await serviceRoutes(t)
  const pairs = routes.map((r) => `${r.method} ${r.url}`)
  t.same(pairs.filter((p, i) => pairs.indexOf(p) !== i), [], 'each route/method pair registered once')
  for (const want of ['GET /', 'HEAD /', 'POST /items', 'GET /items', 'HEAD /items', 'GET /items/:key', 'HEAD /items/:key', 'DELETE /items/:key', 'GET /health/ready', 'HEAD /demo/error']) {
    t.ok(pairs.includes(want), `${want} is among the ${pairs.length} pairs Fastify registered`)
  }
  for (const r of routes) {
    const pair = `${r.method} ${r.url}`
    // The route's own hooks, as every onRoute hook (http-metrics' among them) left them.
    const own = [r.options.onResponse ?? []].flat().map((h) => h.name)
    t.same(own.filter((name) => name === 'measureRoute'), ['measureRoute'], `${pair}: one measureRoute among its own onResponse hooks`)
    // And what a response runs (the app-wide hooks and the route's): exactly one measurement,
    // under the template, and the in-flight count back to 0, which only measureUnmatched
    // (the app-wide hook, once per response) decrements.
    seen.length = 0
    const res = await app.inject({ method: r.method as 'GET', url: r.url.replace(':key', 'some-key') })
    t.same(seen, [`${r.method} ${r.url}`], `${pair} (${res.statusCode}): measured once, under its template`)
    t.equal(app.inFlight(), 0, `${pair}: measureUnmatched ran once (in-flight back to 0)`)
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
  await app.register(statsdRed, { sink, runtimeIntervalMs: 0 })
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
