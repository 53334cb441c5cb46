import type { FastifyInstance, FastifyRequest, onResponseHookHandler } from 'fastify'
import { UNMATCHED_ROUTE } from './catalogue.js'
import type { MetricsSink } from './sink.js'

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
 * RED instrumentation: every response is measured in an `onResponse` hook and handed to the
 * sink (count and duration by method, route and status code, the
 * duration from Fastify's own `reply.elapsedTime` in milliseconds). An `onRequestAbort` hook
 * counts requests the client gave up on; those are not responses and are not counted as such.
 *
 * Each route gets its own `onResponse` hook, added by an `onRoute` hook with the route template
 * already known (`routeOptions.url`), so a response costs no lookup of its route: reading
 * `request.routeOptions` builds a new object of a dozen fields on every call (Fastify 5
 * lib/request.js), about 600 instructions per read (docs/metrics.md, "How the instrumentation works"). One
 * application-wide `onResponse` hook measures what no route served (404 and 405 from Fastify's
 * not-found handler, `route` = {@link UNMATCHED_ROUTE}) and keeps the in-flight count for every
 * response. The plugin must be registered before the routes: a route added earlier gets no hook
 * of its own and goes unmeasured. Routes whose template is in `exclude` get no hook and are
 * neither counted nor timed (they still count in flight).
 *
 * The hooks do no I/O and never await: the sink buffers and sends later.
 * @returns the in-flight count (requests received and not yet answered or aborted).
 */
export function httpMetrics (fastify: FastifyInstance, metrics: MetricsSink, exclude: ReadonlySet<string>): () => number {
  let inFlight = 0

  fastify.addHook('onRequest', function countInFlight (_request, _reply, done) {
    inFlight++
    done()
  })

  fastify.addHook('onResponse', function measureUnmatched (request, reply, done) {
    inFlight--
    if (request.is404) metrics.response(methodTag(request.method), UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime)
    done()
  })

  fastify.addHook('onRoute', (routeOptions) => {
    const route = routeOptions.url
    if (route === undefined || exclude.has(route)) return
    const measureRoute: onResponseHookHandler = (request, reply, done) => {
      metrics.response(methodTag(request.method), route, reply.statusCode, reply.elapsedTime)
      done()
    }
    // First among the route's own hooks: one of them failing stops the hooks after it, not this one.
    const own = routeOptions.onResponse
    routeOptions.onResponse = own === undefined ? [measureRoute] : Array.isArray(own) ? [measureRoute, ...own] : [measureRoute, own]
  })

  // Fastify does not run onResponse for a request whose client went away before the reply
  // (test/plugins/aborted.test.ts shows it), so the abort hook releases the in-flight slot.
  fastify.addHook('onRequestAbort', function countAborted (request, done) {
    inFlight--
    const route = routeTag(request)
    if (!exclude.has(route)) metrics.aborted(methodTag(request.method), route)
    done()
  })
  return () => inFlight
}
