import { STATUS_CODES } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify'
import { DependencyUnavailableError } from '../errors.js'
import { DependencyLog, DEPENDENCY_LOG_INTERVAL_MS } from '../dependency-log.js'

export interface ErrorsOptions {
  /** Window of the outage log in milliseconds (default {@link DEPENDENCY_LOG_INTERVAL_MS}). */
  dependencyLogIntervalMs?: number
}

/** The body of every error answer (schemas/common.ts `ErrorResponse`). */
interface ErrorBody { statusCode: number, error: string, message: string, code?: string }

/** Generic 503 message: which dependency failed, and why, stays in the log. */
export const UNAVAILABLE_MESSAGE = 'service unavailable: a dependency did not answer'

/**
 * Methods that have a route for the request's path, from Fastify's own router
 * (`fastify.findRoute` looks a path up the way a request is routed, with the same router
 * options), over every method Fastify supports. Sorted, for a stable `Allow` header.
 */
function allowedMethods (fastify: FastifyInstance, request: FastifyRequest): string[] {
  return fastify.supportedMethods
    .filter((method) => method !== request.method && fastify.findRoute({ method, url: request.url }) !== null)
    .sort()
}

/**
 * The one error handler and the one not-found handler, as a plugin (fastify-plugin, so both
 * apply to the root instance and every route).
 *
 * - 4xx from a route, a schema or a content-type parser: status, `error` (the HTTP reason
 *   phrase), Fastify's `message` (it names the field) and `code` (`FST_ERR_VALIDATION`...).
 * - 503 for a {@link DependencyUnavailableError}: an expected answer during an outage, logged as
 *   a `warn` without stack, at most one line per window with a count ({@link DependencyLog}).
 * - any other 5xx: logged at `error` with the stack; the body says only `internal server error`.
 * - no route for the path: 404. A path that has routes for other methods: 405 with an `Allow`
 *   header (RFC 9110 §15.5.6). Both are counted under the `__unmatched__` route tag (no route
 *   served them; `request.is404` is true), which keeps route tags a closed set.
 */
async function errorsPlugin (fastify: FastifyInstance, opts: ErrorsOptions): Promise<void> {
  const outage = new DependencyLog(fastify.log, opts.dependencyLogIntervalMs ?? DEPENDENCY_LOG_INTERVAL_MS)
  fastify.addHook('onClose', (_instance, done) => {
    outage.close()
    done()
  })

  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode <= 599
      ? error.statusCode
      : 500
    const body: ErrorBody = { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message: error.message, code: error.code }
    if (error instanceof DependencyUnavailableError) {
      outage.record(error)
      return reply.code(503).send({ statusCode: 503, error: STATUS_CODES[503], message: UNAVAILABLE_MESSAGE })
    }
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed')
      const message = status === 503 ? UNAVAILABLE_MESSAGE : 'internal server error'
      return reply.code(status).send({ statusCode: status, error: body.error, message })
    }
    return reply.code(status).send(body)
  })

  fastify.setNotFoundHandler((request, reply) => {
    const allow = allowedMethods(fastify, request)
    if (allow.length > 0) {
      return reply.code(405).header('allow', allow.join(', ')).send({
        statusCode: 405,
        error: 'Method Not Allowed',
        message: `method ${request.method} not allowed here; allowed: ${allow.join(', ')}`
      })
    }
    return reply.code(404).send({
      statusCode: 404,
      error: 'Not Found',
      message: `no route for ${request.method} ${request.url.slice(0, 200)}`
    })
  })
}

export default fp(errorsPlugin, { name: 'errors', fastify: '5.x' })
