import { createRequire } from 'node:module'
import Fastify, { type FastifyInstance, type FastifyPluginCallback } from 'fastify'
import type { Config } from '../../service/config.js'
import { ITEM_PREFIX } from '../../service/repositories/items.js'
import { Item, ItemParams } from '../../service/schemas/items.js'
import statsd, { hotShotsSink, rateLimitedErrorLog } from '../../service/plugins/statsd.js'
import redis from '../../service/plugins/redis.js'
import store from '../../service/plugins/store.js'
import httpMetrics from '../../service/plugins/http-metrics.js'
import runtimeMetrics from '../../service/plugins/runtime-metrics.js'

/**
 * What the benchmark compares, each on the same minimal app:
 * - `bare`: no instrumentation at all (the reference, ratio 1.00);
 * - `aggregating`: the service's instrumentation as shipped (statsd plugin with its default
 *   aggregating sink, http-metrics hooks with in-flight, Redis command timers, cache lookups,
 *   runtime gauges);
 * - `fastify-metrics`: fastify-metrics with its route histogram only (no default metrics, no
 *   summary), the usual Prometheus-client alternative;
 * - `hot-shots`: the same contract as `aggregating` through the previous per-line sink, one
 *   hot-shots call per measurement, buffered into datagrams (the "naive" hook);
 * - `immobiliarelabs`: @immobiliarelabs/fastify-metrics, the closest StatsD peer, with its
 *   defaults (route hits, response time and errors, process health sampled every second, one
 *   datagram per metric: its client, dats, buffers nothing by default), sending to the same
 *   receiver under the namespace `immobiliarelabs`; its routes carry the `routeId` it needs;
 * - `empty-hooks` (only on request, `--variants bare,empty-hooks,aggregating`): the three hooks the
 *   http-metrics plugin adds (`onRequest`, `onResponse`, `onRequestAbort`) with empty bodies and no
 *   sink: what Fastify charges for running them at all, the floor of any hook-based measurement.
 */
export const VARIANTS = ['bare', 'aggregating', 'fastify-metrics', 'hot-shots', 'immobiliarelabs', 'empty-hooks'] as const
export type Variant = typeof VARIANTS[number]

/** What `npm run bench` runs without `--variants`: all but `empty-hooks`. */
export const DEFAULT_VARIANTS: readonly Variant[] = VARIANTS.filter((v) => v !== 'empty-hooks')

/** The variants whose server sends StatsD. */
export const STATSD_VARIANTS: readonly Variant[] = ['aggregating', 'hot-shots', 'immobiliarelabs']

/** The two routes measured: a trivial one and a Redis hit. */
export const ROUTES = {
  trivial: { url: '/ping', route: '/ping' },
  redis: { url: '/items/bench', route: '/items/:key' }
} as const
export type RouteName = keyof typeof ROUTES

/** The key `GET /items/bench` reads (the runner stores it before measuring). */
export const BENCH_KEY = 'bench'

/** fastify-metrics is CommonJS with `exports.default`; its types would clash with our `metrics` decorator. */
function fastifyMetricsPlugin (): FastifyPluginCallback<Record<string, unknown>> {
  const mod = createRequire(import.meta.url)('fastify-metrics') as { default: FastifyPluginCallback<Record<string, unknown>> }
  return mod.default
}

/** The route ids the immobiliarelabs variant's metric names carry (`immobiliarelabs.<routeId>.requests`). */
export const IMMOBILIARELABS_ROUTE_IDS: Record<RouteName, string> = { trivial: 'ping', redis: 'items' }

/** @immobiliarelabs/fastify-metrics is CommonJS; it decorates `metrics` too, with another type. */
function immobiliarelabsPlugin (): FastifyPluginCallback<Record<string, unknown>> {
  return createRequire(import.meta.url)('@immobiliarelabs/fastify-metrics') as FastifyPluginCallback<Record<string, unknown>>
}

/**
 * Builds the benchmark app for one variant: `GET /ping` answers a constant object, and
 * `GET /items/:key` reads one Redis string like the service's route (same params and response
 * schemas; 404 on a miss). Instrumented variants read through the service's repositories, so
 * every Redis command is timed and every lookup counted; the others call ioredis directly.
 * Logging is off in every variant: the benchmark measures instrumentation, not pino.
 */
export async function benchApp (variant: Variant, config: Config): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  const instrumented = variant === 'aggregating' || variant === 'hot-shots'
  if (instrumented) {
    const sink = variant === 'hot-shots' ? hotShotsSink(config, rateLimitedErrorLog(app.log)) : undefined
    await app.register(statsd, { config, sink })
  }
  await app.register(redis, { config })
  if (instrumented) {
    await app.register(store)
    await app.register(httpMetrics)
    await app.register(runtimeMetrics, { config })
  }
  if (variant === 'fastify-metrics') {
    await app.register(fastifyMetricsPlugin(), {
      defaultMetrics: { enabled: false },
      routeMetrics: { enabled: { histogram: true, summary: false } }
    })
  }
  if (variant === 'immobiliarelabs') {
    await app.register(immobiliarelabsPlugin(), {
      client: { host: `udp://${config.statsdHost}:${config.statsdPort}`, namespace: 'immobiliarelabs' }
    })
  }
  if (variant === 'empty-hooks') {
    app.addHook('onRequest', (_request, _reply, done) => { done() })
    app.addHook('onResponse', (_request, _reply, done) => { done() })
    app.addHook('onRequestAbort', (_request, done) => { done() })
  }
  const routeConfig = (route: RouteName): { config?: { metrics: { routeId: string } } } =>
    variant === 'immobiliarelabs' ? { config: { metrics: { routeId: IMMOBILIARELABS_ROUTE_IDS[route] } } } : {}

  app.get(ROUTES.trivial.route, routeConfig('trivial'), async () => ({ hello: 'world' }))

  const lookup = instrumented
    ? (key: string) => app.items.get(key)
    : (key: string) => app.redis.get(ITEM_PREFIX + key)
  app.get<{ Params: { key: string } }>(ROUTES.redis.route, {
    ...routeConfig('redis'),
    schema: { params: ItemParams, response: { 200: Item } }
  }, async (request, reply) => {
    const { key } = request.params
    const value = await lookup(key)
    if (instrumented) app.metrics.cacheLookup(value === null ? 'miss' : 'hit')
    if (value === null) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `item ${key} not found` })
    return { key, value }
  })
  return app
}
