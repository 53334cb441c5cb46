import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { UNMATCHED_ROUTE } from '../metrics/catalogue.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Requests received and not yet answered or aborted (the `http.requests.in_flight` gauge). */
    inFlight: () => number
  }
}

/** Methods kept as they are in the `method` tag; anything else is `OTHER` (closed set). */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])

/** The `method` tag value: the request method when it is a known one, else `OTHER`. */
export function methodTag (method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'OTHER'
}

/**
 * The `route` tag value: the route template as registered (`/items/:key`), or
 * {@link UNMATCHED_ROUTE} when no route matched. Never the raw URL, so a key or a scanner's
 * random paths cannot become label values.
 */
export function routeTag (request: FastifyRequest): string {
  if (request.is404) return UNMATCHED_ROUTE
  return request.routeOptions.url ?? UNMATCHED_ROUTE
}

/**
 * RED instrumentation, as a plugin: every response is measured in an `onResponse` hook and
 * handed to `fastify.metrics` (count and duration by method, route and status code, the
 * duration from Fastify's own `reply.elapsedTime` in milliseconds). An `onRequestAbort` hook
 * counts requests the client gave up on; those are not responses and are not counted as such.
 *
 * The hooks do no I/O and never await: the sink buffers and sends later.
 */
async function httpMetricsPlugin (fastify: FastifyInstance): Promise<void> {
  let inFlight = 0
  fastify.decorate('inFlight', () => inFlight)

  fastify.addHook('onRequest', (_request, _reply, done) => {
    inFlight++
    done()
  })

  fastify.addHook('onResponse', (request, reply, done) => {
    inFlight--
    fastify.metrics.response(methodTag(request.method), routeTag(request), reply.statusCode, reply.elapsedTime)
    done()
  })

  // Fastify does not run onResponse for a request whose client went away before the reply
  // (test/plugins/aborted.test.ts shows it), so the abort hook releases the in-flight slot.
  fastify.addHook('onRequestAbort', (request, done) => {
    inFlight--
    fastify.metrics.aborted(methodTag(request.method), routeTag(request))
    done()
  })
}

export default fp(httpMetricsPlugin, { name: 'http-metrics', fastify: '5.x', dependencies: ['statsd'] })
