import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

/** The message of the 503 a request gets when it arrives while the server closes (ErrorResponse shape). */
export const CLOSING_MESSAGE = 'service shutting down: retry on another instance'

/**
 * Shutdown with keep-alive clients, as a plugin. `fastify.close()` stops the listener and Node's
 * `server.close()` closes the connections idle at that moment (Node >= 19 calls
 * `closeIdleConnections()`), but a request in flight on a keep-alive connection would still be
 * answered `Connection: keep-alive`: the socket stays open for `keepAliveTimeout` (72 s), the
 * server never finishes closing, and close-with-grace kills the process after
 * SHUTDOWN_TIMEOUT_MS without the final metrics flush or the Redis QUIT (issue 12).
 *
 * From the `preClose` hook on (before Fastify calls `server.close()`):
 * - every response is sent with `Connection: close` (`onSend`), so Node closes its socket right
 *   after it and the server closes as soon as the last in-flight response is written;
 * - a request that still arrives (on a connection busy at the signal: a pipelined request or a
 *   slow client's headers) is answered at once with 503 and the ErrorResponse body
 *   {@link CLOSING_MESSAGE}. Fastify's own `return503OnClosing` answers below every hook, so
 *   those 503s were not measured; app.ts turns it off and this hook, registered after
 *   http-metrics, answers instead, counted under the request's route with status 503.
 *
 * The onClose hooks that flush the metrics and QUIT Redis run after the server has closed.
 */
async function drainPlugin (fastify: FastifyInstance): Promise<void> {
  let closing = false
  fastify.addHook('preClose', (done) => {
    closing = true
    done()
  })

  fastify.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done()
    reply.code(503).send({ statusCode: 503, error: 'Service Unavailable', message: CLOSING_MESSAGE })
  })

  fastify.addHook('onSend', (request, reply, payload, done) => {
    // HTTP/2 forbids connection-specific headers (RFC 9113 section 8.2.2).
    if (closing && request.raw.httpVersionMajor === 1) reply.header('connection', 'close')
    done(null, payload)
  })
}

export default fp(drainPlugin, { name: 'drain', fastify: '5.x', dependencies: ['http-metrics'] })
