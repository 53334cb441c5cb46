import t from 'tap'
import type { InjectOptions } from 'fastify'
import { UNMATCHED_ROUTE } from '../../service/metrics/catalogue.js'
import { buildApp } from '../../service/app.js'
import { loadConfig } from '../../service/config.js'
import { contentType, fuzzSeed, itemBody, key, method, query, registeredRoutes, Rng, segment } from '../helpers/fuzz.js'
import { haveRedisServer, NO_REDIS, startRedis } from '../helpers/redis.js'
import { counterTotals, tagValues } from '../helpers/statsd-lines.js'
import { udpListener } from '../helpers/udp.js'
import { until } from '../helpers/wait.js'

/**
 * Hostile input through app.inject (the whole Fastify pipeline after the HTTP parser: routing,
 * content-type parsing, JSON parsing, schema validation, handlers, error handler, hooks): a
 * few thousand generated requests from a seeded generator (the seed is printed; FUZZ_SEED
 * replays a run). raw-http.test.ts covers what inject bypasses (the HTTP parser itself).
 *
 * Asserted for every response: no 5xx except the deliberate ones (the demo routes' designed
 * failures, a dependency 503), every 4xx/5xx body is JSON `{statusCode, error, message}` with
 * the right status, nothing that looks like a stack trace or a file path, no framework
 * headers. At the end the app still serves, and the `route` tags on the real UDP lines are
 * exactly the registered route templates plus the one unmatched value.
 */

const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 3000)
const DEPENDENCY_503 = 'service unavailable: a dependency did not answer'

/**
 * The path the router sees: light-my-request parses the URL as WHATWG URL does, so dot segments
 * are resolved (`/%2F/../demo/error` is served by `/demo/error`). A URL it cannot parse keeps its
 * text.
 */
function servedPath (url: string): string {
  try {
    return new URL(url, 'http://localhost').pathname
  } catch {
    return url.split('?')[0]!
  }
}

/** A 5xx the service sends on purpose: named demo routes, or Redis not answering in time. */
function deliberate (url: string, status: number, body: { message?: unknown }): boolean {
  const path = servedPath(url)
  if (path === '/demo/error' && status === 500 && body.message === 'internal server error') return true
  if (path === '/demo/random-status' && (status === 500 || status === 503) && body.message === `demo: drew status ${status}`) return true
  return status === 503 && body.message === DEPENDENCY_503
}

/** One generated request. */
function request (rng: Rng, routes: string[]): InjectOptions {
  const m = method(rng)
  const headers: Record<string, string | string[]> = {}
  let url: string
  switch (rng.int(6)) {
    case 0: {
      // A registered route, its parameters filled from the hostile key pool.
      const template = rng.pick(routes)
      url = template.replace(':key', rng.chance(0.5) ? encodeURIComponent(key(rng)) : key(rng)) + (rng.chance(0.5) ? query(rng) : '')
      break
    }
    case 1:
      url = '/items' + query(rng)
      break
    case 2:
      url = `/items/${rng.chance(0.7) ? encodeURIComponent(key(rng)) : key(rng)}`
      break
    default:
      url = '/' + Array.from({ length: 1 + rng.int(5) }, () => segment(rng)).join('/') + (rng.chance(0.3) ? query(rng) : '')
  }
  let payload: string | undefined
  if (m !== 'GET' && m !== 'HEAD' ? rng.chance(0.8) : rng.chance(0.1)) {
    payload = itemBody(rng)
    const type = contentType(rng)
    if (type !== undefined) headers['content-type'] = type
  }
  if (rng.chance(0.1)) headers['x-dup'] = ['a', 'b', 'c']
  if (rng.chance(0.05)) headers['x-giant'] = 'g'.repeat(rng.pick([1000, 20_000, 100_000]))
  if (rng.chance(0.05)) headers.accept = rng.pick(['text/html', 'application/xml', '*/*', ''])
  if (rng.chance(0.05)) headers['content-encoding'] = rng.pick(['gzip', 'br', 'identity', 'x-unknown'])
  if (rng.chance(0.03)) headers['transfer-encoding'] = 'chunked'
  return { method: m as InjectOptions['method'], url, headers, payload }
}

t.test('thousands of hostile requests through the Fastify pipeline', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const seed = fuzzSeed()
  t.comment(`FUZZ_SEED=${seed} (replay with FUZZ_SEED=${seed} npx tap test/fuzz/inject.test.ts)`)
  const redis = await startRedis(t)
  // The receiver lives in this process, which is busy injecting: a large kernel buffer keeps
  // datagrams from being dropped while it cannot read (the exact count check needs them all).
  const udp = await udpListener(t, 0, 16 * 1024 * 1024)
  const config = loadConfig({
    REDIS_URL: redis.url,
    STATSD_PORT: String(udp.port),
    LOG_LEVEL: 'silent',
    SERVICE_NAME: 'svc',
    SERVICE_INSTANCE: 'test',
    // Every request must reach the pipeline: load shedding would answer some with 503 first.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0',
    REDIS_COMMAND_TIMEOUT_MS: '2000',
    METRICS_FLUSH_INTERVAL_MS: '50',
    RUNTIME_METRICS_INTERVAL_MS: '60000'
  })
  const app = await buildApp(config)
  t.teardown(() => app.close())
  await app.ready()
  await until('connection to Redis', () => app.redisCommands.connected)
  const routes = [...await registeredRoutes(config)]
  const rng = new Rng(seed)
  const failures: string[] = []
  const statuses = new Map<number, number>()
  let deliberate5xx = 0
  let injectRefused = 0
  // Every registered route once, so the route-tag check below can expect all of them.
  const sequence: InjectOptions[] = routes.map((r) => ({ method: 'GET', url: r.replace(':key', 'k') }))
  for (let i = 0; i < REQUESTS; i++) sequence.push(request(rng, routes))

  for (const [i, req] of sequence.entries()) {
    // Let the loop turn now and then, as it does between sockets: the UDP receiver reads.
    if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve))
    let res
    try {
      res = await app.inject(req)
    } catch (err) {
      // light-my-request refuses some inputs before Fastify sees them (e.g. a URL it cannot parse).
      injectRefused++
      if (injectRefused <= 3) t.comment(`inject refused request ${i}: ${(err as Error).message.slice(0, 120)}`)
      continue
    }
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
    const label = `#${i} ${String(req.method)} ${String(req.url).slice(0, 120)} -> ${res.statusCode}`
    for (const header of ['x-powered-by', 'server']) {
      if (res.headers[header] !== undefined) failures.push(`${label}: ${header} header ${String(res.headers[header])}`)
    }
    if (res.statusCode < 400) continue
    if (req.method === 'HEAD') {
      // No body to judge by: a 5xx is deliberate only on the demo routes built to fail.
      const path = servedPath(String(req.url))
      if (res.statusCode >= 500 && path !== '/demo/error' && path !== '/demo/random-status') failures.push(`${label}: unexpected 5xx`)
      else if (res.statusCode >= 500) deliberate5xx++
      continue
    }
    let body: { statusCode?: unknown, error?: unknown, message?: unknown }
    try {
      body = res.json()
    } catch {
      failures.push(`${label}: ${res.statusCode} body is not JSON: ${res.body.slice(0, 120)}`)
      continue
    }
    if (!String(res.headers['content-type']).startsWith('application/json')) failures.push(`${label}: content-type ${String(res.headers['content-type'])}`)
    if (typeof body.message !== 'string' || body.message === '') failures.push(`${label}: no message: ${res.body.slice(0, 120)}`)
    if (typeof body.error !== 'string' || body.statusCode !== res.statusCode) failures.push(`${label}: not the ErrorResponse shape: ${res.body.slice(0, 120)}`)
    if (/\n\s+at |node_modules|\/work\/|\.ts:\d+/.test(res.body)) failures.push(`${label}: internals in the body: ${res.body.slice(0, 200)}`)
    if (res.statusCode >= 500) {
      if (deliberate(String(req.url), res.statusCode, body)) deliberate5xx++
      else failures.push(`${label}: unexpected 5xx: ${res.body.slice(0, 200)}`)
    }
  }
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}; deliberate 5xx: ${deliberate5xx}; refused by inject: ${injectRefused}`)
  t.same(failures.slice(0, 30), [], `every response is well-formed (${failures.length} failures, first 30 shown)`)
  t.ok([400, 404, 413, 414, 415].every((status) => statuses.has(status)), 'the generator reached every client-error class: 400, 404, 413, 414, 415')

  const ready = await app.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 200, 'still serving and ready after the fuzz')

  await app.metrics.flush()
  // The final flush is several datagrams; wait until all have been read, then compare.
  statuses.set(200, (statuses.get(200) ?? 0) + 1)
  const answered = [...statuses.values()].reduce((a, b) => a + b, 0)
  const total = (l: string[]): number => [...counterTotals(l, 'http.requests', []).values()].reduce((a, b) => a + b, 0)
  const lines = await udp.waitFor((l) => total(l) >= answered, 10_000).catch(() => udp.lines())
  const seen = tagValues(lines, 'http.requests', 'route')
  const expected = new Set([...routes, UNMATCHED_ROUTE])
  t.same([...seen].sort(), [...expected].sort(), `route tags are exactly the ${routes.length} registered templates plus ${UNMATCHED_ROUTE}`)
  t.equal(seen.size, routes.length + 1)
  const methods = tagValues(lines, 'http.requests', 'method')
  t.ok([...methods].every((m) => ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'OTHER'].includes(m)), `method tags from the closed set: ${[...methods].join(',')}`)
  const byStatus = counterTotals(lines, 'http.requests', ['status_code'])
  t.same(Object.fromEntries([...byStatus].sort()), Object.fromEntries([...statuses].map(([k, v]) => [String(k), v]).sort()), 'every response counted once, under its status code')
})
