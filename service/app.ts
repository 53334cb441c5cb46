import { STATUS_CODES } from 'node:http'
import fp from 'fastify-plugin'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { FastifySchemaValidationError } from 'fastify/types/schema.js'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from './config.js'
import type { MetricsSink } from './metrics/sink.js'
import statsd from './plugins/statsd.js'
import redis from './plugins/redis.js'
import store from './plugins/store.js'
import httpMetrics, { methodTag } from './plugins/http-metrics.js'
import { UNMATCHED_ROUTE } from './metrics/catalogue.js'
import overload, { overloadOptions } from './plugins/under-pressure.js'
import runtimeMetrics from './plugins/runtime-metrics.js'
import drain from './plugins/drain.js'
import { clientErrorHandler } from './client-error.js'
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
}

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
 * Fastify server options for a config: logger, body limit, timeouts, and Ajv set to reject
 * unknown properties (instead of silently removing them) so a typo in a field gets a 400.
 */
export function serverOptions (config: Config): FastifyServerOptions {
  return {
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers.cookie']
    },
    bodyLimit: BODY_LIMIT_BYTES,
    // Item keys are up to 128 characters; Fastify's default (100) would answer 414 for keys the
    // API accepts on POST. Longer parameters reach the schema and get its 400 up to this bound.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Bound how long a slow client can hold a connection and a request.
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 72_000,
    // Fastify's 503 while closing bypasses every hook, so it was never measured: the drain
    // plugin answers those requests instead (plugins/drain.ts).
    return503OnClosing: false,
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
    schemaErrorFormatter: validationError,
    frameworkErrors: frameworkError,
    // Parser errors and timeouts answered below Fastify, counted and logged (client-error.ts).
    clientErrorHandler
  }
}

/**
 * Answers the errors Fastify raises before routing, where no hook runs: a malformed URL
 * (400 FST_ERR_BAD_URL, e.g. `/%zz`) and a path parameter longer than maxParamLength (414
 * FST_ERR_MAX_PARAM_LENGTH). Without this they would bypass the ErrorResponse shape and, worse,
 * the onResponse hook: such responses were never counted in `http.requests` (found by
 * test/fuzz/inject.test.ts). They are counted here, under the unmatched route.
 */
export function frameworkError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode <= 599 ? error.statusCode : 400
  // reply.elapsedTime stays 0 on this path (Fastify starts its clock in the routed path only).
  const start = performance.now()
  reply.raw.once('finish', () => {
    request.server.metrics.response(methodTag(request.method), UNMATCHED_ROUTE, status, performance.now() - start)
  })
  const message = status >= 500 ? 'internal server error' : error.message
  reply.code(status).send({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message, code: error.code })
}

/**
 * Turns Ajv errors into one message that names the field: `body/ttl must be <= 2592000`,
 * `body must NOT have additional properties: 'colour'`, `params/key must match pattern ...`.
 */
export function validationError (errors: FastifySchemaValidationError[], dataVar: string): Error {
  const message = errors.map((e) => {
    const field = `${dataVar}${e.instancePath}`
    const extra = e.params?.additionalProperty
    const missing = e.params?.missingProperty
    const detail = typeof extra === 'string'
      ? `: '${extra}'`
      : typeof missing === 'string' && !String(e.message).includes(missing) ? `: '${missing}'` : ''
    return `${field} ${e.message ?? 'is invalid'}${detail}`
  }).join('; ')
  return new Error(message)
}

/**
 * The service as a Fastify plugin: plugins in dependency order, then routes; one error handler
 * and one not-found handler. 4xx messages are kept (they name the bad field); 5xx bodies carry
 * only a generic message, the error goes to the log.
 */
export async function app (fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  const { config } = opts
  fastify.addSchema(ErrorResponse)
  // A JSON API: text/plain bodies get 415 instead of being parsed into a string.
  fastify.removeContentTypeParser('text/plain')
  await fastify.register(statsd, { config, sink: opts.sink })
  await fastify.register(redis, { config })
  await fastify.register(store)
  await fastify.register(httpMetrics)
  await fastify.register(drain)
  await fastify.register(overload, overloadOptions(config))
  await fastify.register(runtimeMetrics, { config })

  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode <= 599
      ? error.statusCode
      : 500
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed')
      const message = status === 503 ? 'service unavailable: a dependency did not answer' : 'internal server error'
      return reply.code(status).send({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message })
    }
    return reply.code(status).send({
      statusCode: status,
      error: STATUS_CODES[status] ?? 'Error',
      message: error.message,
      code: error.code
    })
  })

  fastify.setNotFoundHandler((request, reply) => {
    return reply.code(404).send({
      statusCode: 404,
      error: 'Not Found',
      message: `no route for ${request.method} ${request.url.slice(0, 200)}`
    })
  })

  await fastify.register(hitsRoutes)
  await fastify.register(itemsRoutes)
  await fastify.register(healthRoutes)
  if (config.demoRoutes) await fastify.register(demoRoutes)
}

/**
 * Builds a ready-to-listen Fastify instance for a config, with the TypeBox type provider.
 * Used by server.ts and by the tests (`app.inject()`), so both run the same thing.
 */
export async function buildApp (config: Config, overrides: Partial<FastifyServerOptions> = {}, sink?: MetricsSink): Promise<FastifyInstance> {
  const fastify = Fastify({ ...serverOptions(config), ...overrides }).withTypeProvider<TypeBoxTypeProvider>()
  // fastify-plugin exposes the app's decorators (metrics, redis, items...) on the root instance.
  await fastify.register(fp(app, { name: 'app' }), { config, sink })
  return fastify
}
