import { createRequire } from 'node:module'
import Fastify, { type FastifyInstance, type FastifyPluginCallback } from 'fastify'
import type { Config } from '../../service/config.js'
import { ITEM_PREFIX } from '../../service/repositories/items.js'
import { Item, ItemParams } from '../../service/schemas/items.js'
import statsdRed, { rateLimitedErrorLog } from 'fastify-statsd-red'
import redis from '../../service/plugins/redis.js'
import store from '../../service/plugins/store.js'
import { hotShotsSink } from './hot-shots-sink.js'
import { OMITTABLE_PARTS } from '../../service/app.js'
import { serviceApp, twinApp } from './service-app.js'

/**
 * What the benchmark compares:
 * - `service`: the service as shipped, `buildApp` with its defaults (logger at LOG_LEVEL=info
 *   writing synchronously to /dev/null as pino writes to stdout, every plugin, validation and
 *   serializers, demo routes off); the trivial route is its `GET /health/live`;
 * - `twin`: the smallest app serving the same JSON, Fastify (logger off) and an ioredis client
 *   of its own: no hooks, no schemas, no @fastify/redis;
 * - `service-access-log`: the service with ACCESS_LOG=true (Fastify's two request lines);
 * - `service-no-PART` (for the decomposition, `npm run bench:instructions -- --decompose`): the
 *   service with one part left out, see {@link DECOMPOSITION_PARTS};
 * and, on the same stripped app (logger off, the routes and schemas below):
 * - `bare`: no instrumentation at all (the reference, ratio 1.00);
 * - `aggregating`: the service's instrumentation as shipped (statsd plugin with its default
 *   aggregating sink, http-metrics hooks with in-flight, Redis command timers, cache lookups,
 *   runtime gauges);
 * - `plugin`: what an adopter of fastify-statsd-red runs: the package entry registered with one
 *   call (service, instance, StatsD target; every other option at its default: HTTP RED, in
 *   flight, aborted, runtime gauges), nothing app-specific declared, Redis read directly as in
 *   `bare` (docs/monitor-your-own-app.md);
 * - `fastify-metrics`: fastify-metrics with its route histogram only (no default metrics, no
 *   summary), the usual Prometheus-client alternative;
 * - `hot-shots`: the same contract as `aggregating` through the naive per-line sink (scripts/bench/hot-shots-sink.ts), one
 *   hot-shots call per measurement, buffered into datagrams (the "naive" hook);
 * - `immobiliarelabs`: @immobiliarelabs/fastify-metrics, the closest StatsD peer, with its
 *   defaults (route hits, response time and errors, process health sampled every second, one
 *   datagram per metric: its client, dats, buffers nothing by default), sending to the same
 *   receiver under the namespace `immobiliarelabs`; its routes carry the `routeId` it needs;
 * - `empty-hooks` (only on request, `--variants bare,empty-hooks,aggregating`): the three hooks the
 *   http-metrics plugin adds (`onRequest`, `onResponse`, `onRequestAbort`) with empty bodies and no
 *   sink: what Fastify charges for running them at all, the floor of any hook-based measurement.
 */
/**
 * What the decomposition removes from the service, one at a time: the app parts of
 * {@link OMITTABLE_PARTS}, and
 * - `logger`: pino altogether (`logger: false`; no child logger per request);
 * - `metrics-sink`: the aggregating sink replaced by one that records nothing (what the hooks and
 *   the Redis timers cost without their measurements being kept and sent);
 * - `timeouts`: the server's `connectionTimeout` and `requestTimeout` set to 0, Fastify's
 *   defaults (a socket timeout is re-armed on every read and write; the request timeout answers
 *   a client too slow to send its request with 408).
 */
export const DECOMPOSITION_PARTS = ['logger', 'metrics-sink', 'timeouts', ...OMITTABLE_PARTS] as const
export type DecompositionPart = typeof DECOMPOSITION_PARTS[number]

const BASE_VARIANTS = ['bare', 'service', 'service-access-log', 'twin', 'aggregating', 'plugin', 'fastify-metrics', 'hot-shots', 'immobiliarelabs', 'empty-hooks'] as const
export const VARIANTS = [...BASE_VARIANTS, ...DECOMPOSITION_PARTS.map((p) => `service-no-${p}` as const)] as const
export type Variant = typeof VARIANTS[number]

/** What `npm run bench` runs without `--variants`: the service, its twin and the instrumentation variants. */
export const DEFAULT_VARIANTS: readonly Variant[] = ['bare', 'service', 'twin', 'aggregating', 'plugin', 'fastify-metrics', 'hot-shots', 'immobiliarelabs']

/** The service itself, whole or with a part left out. */
export function isService (variant: Variant): boolean {
  return variant.startsWith('service')
}

/** The variants whose server sends StatsD. */
export const STATSD_VARIANTS: readonly Variant[] = VARIANTS.filter((v) =>
  v === 'aggregating' || v === 'plugin' || v === 'hot-shots' || v === 'immobiliarelabs' || (isService(v) && v !== 'service-no-metrics-sink'))

/** The variants whose sink must deliver every count (the zero-loss check); the decomposition's may measure less. */
export const LOSSLESS_VARIANTS: readonly Variant[] = ['aggregating', 'plugin', 'service', 'service-access-log']

/**
 * The two routes measured: a trivial one and a Redis hit. The trivial route is the service's
 * liveness route, which every variant serves with the same body.
 */
export const ROUTES = {
  trivial: { url: '/health/live', route: '/health/live' },
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
export const IMMOBILIARELABS_ROUTE_IDS: Record<RouteName, string> = { trivial: 'live', redis: 'items' }

/** @immobiliarelabs/fastify-metrics is CommonJS; it decorates `metrics` too, with another type. */
function immobiliarelabsPlugin (): FastifyPluginCallback<Record<string, unknown>> {
  return createRequire(import.meta.url)('@immobiliarelabs/fastify-metrics') as FastifyPluginCallback<Record<string, unknown>>
}

/**
 * Builds the benchmark app for one variant: `GET /ping` answers a constant object, and
 * `GET /items/:key` reads one Redis string like the service's route (same params and response
 * schemas; 404 on a miss). Instrumented variants read through the service's repositories, so
 * every Redis command is timed and every lookup counted; the others call ioredis directly.
 * Logging is off in these variants; `service` and `twin` are built by their own functions.
 */
export async function benchApp (variant: Variant, config: Config): Promise<FastifyInstance> {
  if (isService(variant)) return serviceApp(variant, config)
  if (variant === 'twin') return twinApp(config)
  const app = Fastify({ logger: false })
  const instrumented = variant === 'aggregating' || variant === 'hot-shots'
  if (instrumented) {
    const sink = variant === 'hot-shots' ? hotShotsSink(config, rateLimitedErrorLog(app.log)) : undefined
    await app.register(statsdRed, {
      host: config.statsdHost,
      port: config.statsdPort,
      service: config.serviceName,
      instance: config.serviceInstance,
      flushIntervalMs: config.metricsFlushIntervalMs,
      maxDatagramBytes: config.statsdMaxDatagramBytes,
      runtimeIntervalMs: config.runtimeMetricsIntervalMs,
      version: config.version,
      sink
    })
  }
  if (variant === 'plugin') {
    await app.register(statsdRed, {
      host: config.statsdHost,
      port: config.statsdPort,
      service: config.serviceName,
      instance: config.serviceInstance
    })
  }
  await app.register(redis, { config })
  if (instrumented) await app.register(store)
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

  app.get(ROUTES.trivial.route, routeConfig('trivial'), async () => ({ status: 'ok' }))

  const lookup = instrumented
    ? (key: string) => app.items.get(key)
    : (key: string) => app.redis.get(ITEM_PREFIX + key)
  app.get<{ Params: { key: string } }>(ROUTES.redis.route, {
    ...routeConfig('redis'),
    schema: { params: ItemParams, response: { 200: Item } }
  }, async (request, reply) => {
    const { key } = request.params
    const value = await lookup(key)
    if (instrumented) app.serviceMetrics.cacheLookups.add({ result: value === null ? 'miss' : 'hit' })
    if (value === null) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `item ${key} not found` })
    return { key, value }
  })
  return app
}
