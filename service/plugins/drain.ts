import fp from 'fastify-plugin'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'

/** The message of the 503 a request gets when it arrives while the server closes (ErrorResponse shape). */
export const CLOSING_MESSAGE = 'service shutting down: retry on another instance'

/** Node's internal field on a server socket: the response being written on it, if any (lib/_http_server.js). */
type HttpSocket = Socket & { _httpMessage?: (ServerResponse & { req?: IncomingMessage }) | null }

/**
 * A request counts as started once Node has received all of it (`IncomingMessage.complete`:
 * headers and the whole body): from then on only the service can delay its answer, and it is
 * answered. A connection holding nothing else (idle keep-alive, headers half sent, a body still
 * arriving) is closed: at shutdown nothing it could still send would be served, and waiting for
 * it would let any client hold the shutdown up to SHUTDOWN_TIMEOUT_MS (issue 18).
 *
 * Closes `socket` now when it holds no started request (returns true); otherwise checks it
 * again when its response has finished (a keep-alive response begun before the signal would
 * leave it idle).
 */
function closeUnlessStarted (socket: HttpSocket): boolean {
  const res = socket._httpMessage
  if (res === null || res === undefined || res.req?.complete !== true) {
    socket.destroy()
    return true
  }
  // Node's own 'finish' listener (resOnFinish, added first) has detached the response by then.
  res.once('finish', () => closeUnlessStarted(socket))
  return false
}

/**
 * Shutdown that no client can stall, as a plugin. From the `preClose` hook on (when
 * `fastify.close()` starts, before Fastify calls `server.close()`):
 * - every open HTTP/1 connection that holds no started request (see {@link closeUnlessStarted})
 *   is destroyed at once: an idle keep-alive connection, a request whose headers are not
 *   complete, a request whose body is still arriving (Fastify reports it as aborted,
 *   `http.requests.aborted`). Fastify's default `forceCloseConnections: 'idle'` and Node's
 *   `server.close()` only close the idle ones: Node counts a connection with half-sent headers as
 *   active, so a single such client held the shutdown for SHUTDOWN_TIMEOUT_MS and the process
 *   exited 1 without the final metrics flush or the Redis QUIT. `forceCloseConnections: true`
 *   (`closeAllConnections()`) would also cut the requests in flight;
 * - every response is sent with `Connection: close` (`onSend`), so Node closes its socket right
 *   after it and the server closes as soon as the last started request is answered (issue 12: a
 *   keep-alive answer would keep the socket open for `keepAliveTimeout`, 72 s);
 * - a request that still reaches Fastify (pipelined behind a request in flight) is answered at
 *   once with 503 and the ErrorResponse body {@link CLOSING_MESSAGE}, so its handler never runs:
 *   Node drops that answer when the response before it closes the connection, and the client
 *   retries the request elsewhere (RFC 9112 section 9.3.2), which must not find it half done.
 *   Fastify's own `return503OnClosing` answers below every hook, so those 503s were not
 *   measured; app.ts turns it off and this hook, registered after http-metrics, answers instead.
 *
 * One info line at preClose: `{ closed, busy, msg: 'closing: connections without a started
 * request closed' }` (counts of connections closed and kept).
 *
 * Connections are tracked from the server's `connection` event (a Set; nothing per request).
 * The onClose hooks that flush the metrics and QUIT Redis run after the server has closed.
 */
async function drainPlugin (fastify: FastifyInstance): Promise<void> {
  let closing = false
  const connections = new Set<HttpSocket>()
  fastify.server.on('connection', (socket: HttpSocket) => {
    connections.add(socket)
    socket.once('close', () => connections.delete(socket))
  })

  fastify.addHook('preClose', (done) => {
    closing = true
    let closed = 0
    for (const socket of connections) if (closeUnlessStarted(socket)) closed++
    fastify.log.info({ closed, busy: connections.size - closed }, 'closing: connections without a started request closed')
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
