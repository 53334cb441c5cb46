import { STATUS_CODES } from 'node:http'
import fp from 'fastify-plugin'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from './config.js'
import statsdRed, { methodTag, UNMATCHED_ROUTE, type MetricsSink } from 'fastify-statsd-red'
import redis from './plugins/redis.js'
import store from './plugins/store.js'
import overload, { overloadOptions } from './plugins/under-pressure.js'
import errors from './plugins/errors.js'
import validation, { validationError } from './plugins/validation.js'
import drain from './plugins/drain.js'
import { clientErrorHandler } from './client-error.js'
import { AccessLogController, lazyChildLoggerFactory } from './request-logger.js'
import hitsRoutes from './routes/hits.js'
import itemsRoutes from './routes/items.js'
import healthRoutes from './routes/health.js'
import demoRoutes from './routes/demo.js'
import { ErrorResponse } from './schemas/common.js'
import { LONGEST_PUT_ITEM_BODY_BYTES } from './schemas/items.js'

/** What the app plugin needs besides the Fastify instance. */
export interface AppOptions {
  config: Config
  /** A metrics sink to use instead of the hot-shots UDP client (tests, benchmarks). */
  sink?: MetricsSink
  /** Parts left out: only the benchmark's decomposition sets it (see {@link OMITTABLE_PARTS}). */
  omit?: ReadonlySet<OmittablePart>
}

/**
 * Parts of the app the benchmark's decomposition (`npm run bench:instructions -- --decompose`)
 * leaves out one at a time to measure what each costs per request; the service never omits any.
 * `validation` and `serializers` keep the schemas but swap the compiled Ajv validators for one
 * accepting everything and fast-json-stringify for `JSON.stringify`. `http-metrics` and
 * `runtime-metrics` are the plugin's `http: false` and `runtimeIntervalMs: 0`; without
 * `http-metrics` the in-flight gauge reads 0.
 */
export const OMITTABLE_PARTS = ['http-metrics', 'drain', 'overload', 'runtime-metrics', 'errors', 'validation', 'serializers'] as const
export type OmittablePart = typeof OMITTABLE_PARTS[number]

/**
 * Largest accepted request body, in bytes: the longest spelling of the largest item
 * ({@link LONGEST_PUT_ITEM_BODY_BYTES}, 787,290: 65,536 characters above U+FFFF as 12-byte
 * surrogate-pair escapes) plus 4 KiB of white space (pretty-printed JSON). Larger bodies are
 * answered 413 before they are parsed.
 */
export const BODY_LIMIT_BYTES = LONGEST_PUT_ITEM_BODY_BYTES + 4096

/** Longest path parameter routed at all (characters); beyond it Fastify answers 414. */
export const MAX_PARAM_LENGTH = 256

/**
 * Fastify server options for a config: logger (and the access log, {@link AccessLogController}),
 * body limit, timeouts, and how validation and routing errors are worded (Ajv itself is configured
 * by plugins/validation.ts).
 */
export function serverOptions (config: Config): FastifyServerOptions {
  return {
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers.cookie']
    },
    logController: new AccessLogController(config.accessLog),
    childLoggerFactory: lazyChildLoggerFactory,
    bodyLimit: BODY_LIMIT_BYTES,
    // Item keys are up to 128 characters; Fastify's default (100) would answer 414 for keys the
    // API accepts on POST. Longer parameters reach the schema and get its 400 up to this bound.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Bound how long a slow client can hold a connection and a request.
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 72_000,
    // Fastify's 503 while closing bypasses every hook, so it would never be measured. Off: a
    // request that reaches Fastify while it closes (already received, so the drain plugin kept
    // its connection) is served and measured like any other (plugins/drain.ts).
    return503OnClosing: false,
    schemaErrorFormatter: validationError,
    frameworkErrors: frameworkError,
    // Parser errors and timeouts answered below Fastify, counted and logged (client-error.ts).
    clientErrorHandler
  }
}

/** Messages of the framework errors: say what is wrong, never quote the URL. */
const FRAMEWORK_MESSAGES: Record<string, string> = {
  FST_ERR_BAD_URL: 'the URL path is not valid percent-encoded text',
  FST_ERR_MAX_PARAM_LENGTH: `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`
}

/**
 * Answers the errors Fastify raises before routing, where no hook runs: a malformed URL
 * (400 FST_ERR_BAD_URL, e.g. `/%zz`) and a path parameter longer than maxParamLength (414
 * FST_ERR_MAX_PARAM_LENGTH). Without this they would bypass the ErrorResponse shape and, worse,
 * the onResponse hook: such responses were never counted in `http.requests` (found by
 * test/fuzz/inject.test.ts). They are counted here, under the unmatched route. The message is
 * fixed per code: Fastify's own quotes the whole URL, which a 414 must not echo back.
 */
export function frameworkError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode <= 599 ? error.statusCode : 400
  // reply.elapsedTime stays 0 on this path (Fastify starts its clock in the routed path only).
  const start = performance.now()
  reply.raw.once('finish', () => {
    request.server.metrics.response(methodTag(request.method), UNMATCHED_ROUTE, status, performance.now() - start)
  })
  const message = status >= 500 ? 'internal server error' : FRAMEWORK_MESSAGES[error.code] ?? STATUS_CODES[status] ?? 'Error'
  reply.code(status).send({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message, code: error.code })
}

/**
 * The service as a Fastify plugin: plugins in dependency order, then routes; one error handler
 * and one not-found handler (plugins/errors.ts). 4xx messages are kept (they name the bad field);
 * 5xx bodies carry only a generic message, the error goes to the log.
 */
export async function app (fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  const { config } = opts
  fastify.addSchema(ErrorResponse)
  // A JSON API: text/plain bodies get 415 instead of being parsed into a string.
  fastify.removeContentTypeParser('text/plain')
  const omit = opts.omit ?? new Set()
  // The instrumentation, registered as any application registers it: before the routes.
  await fastify.register(statsdRed, {
    host: config.statsdHost,
    port: config.statsdPort,
    service: config.serviceName,
    instance: config.serviceInstance,
    flushIntervalMs: config.metricsFlushIntervalMs,
    maxDatagramBytes: config.statsdMaxDatagramBytes,
    runtimeIntervalMs: omit.has('runtime-metrics') ? 0 : config.runtimeMetricsIntervalMs,
    version: config.version,
    http: !omit.has('http-metrics'),
    sink: opts.sink
  })
  await fastify.register(redis, { config })
  await fastify.register(store)
  if (!omit.has('drain')) await fastify.register(drain)
  if (!omit.has('overload')) await fastify.register(overload, overloadOptions(config))

  if (!omit.has('errors')) await fastify.register(errors)
  if (omit.has('validation')) fastify.setValidatorCompiler(() => () => true)
  else await fastify.register(validation)
  if (omit.has('serializers')) fastify.setSerializerCompiler(() => (data) => JSON.stringify(data))

  await fastify.register(hitsRoutes)
  await fastify.register(itemsRoutes)
  await fastify.register(healthRoutes)
  if (config.demoRoutes) await fastify.register(demoRoutes)
}

/**
 * Builds a ready-to-listen Fastify instance for a config, with the TypeBox type provider.
 * Used by server.ts and by the tests (`app.inject()`), so both run the same thing.
 */
export async function buildApp (config: Config, overrides: Partial<FastifyServerOptions> = {}, sink?: MetricsSink, omit?: ReadonlySet<OmittablePart>): Promise<FastifyInstance> {
  const fastify = Fastify({ ...serverOptions(config), ...overrides }).withTypeProvider<TypeBoxTypeProvider>()
  // fastify-plugin exposes the app's decorators (metrics, redis, items...) on the root instance.
  await fastify.register(fp(app, { name: 'app' }), { config, sink, omit })
  return fastify
}
