import fp from 'fastify-plugin'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'

/** Node's internal field on a server socket: the response being written on it, if any (lib/_http_server.js). */
type HttpSocket = Socket & { _httpMessage?: (ServerResponse & { req?: IncomingMessage }) | null }

/**
 * A request counts as started once Node has received all of it (`IncomingMessage.complete`:
 * headers and the whole body): from then on only the service can delay its answer, and it is
 * answered. A connection holding nothing else (idle keep-alive, headers half sent, a body still
 * arriving) is closed: at shutdown nothing it could still send would be served, and waiting for
 * it would let any client hold the shutdown up to SHUTDOWN_TIMEOUT_MS (issue 18).
 *
 * Closes `socket` now when it holds no started request (returns true). Otherwise the socket
 * stops reading, so no request pipelined behind the started one is parsed and run (its answer
 * could not be sent: the client retries it elsewhere, RFC 9112 section 9.3.2, and must not find
 * it half done); the response gets `Connection: close` when its headers are not out yet, so
 * Node closes the socket right after it; and the socket is checked again when the response has
 * finished (one whose headers went out keep-alive before the signal would leave it idle, open
 * for `keepAliveTimeout`, 72 s).
 */
function closeUnlessStarted (socket: HttpSocket): boolean {
  const res = socket._httpMessage
  if (res === null || res === undefined || res.req?.complete !== true) {
    socket.destroy()
    return true
  }
  socket.pause()
  if (!res.headersSent) res.setHeader('connection', 'close')
  // Node's own 'finish' listener (resOnFinish, added first) has detached the response by then.
  res.once('finish', () => closeUnlessStarted(socket))
  return false
}

/**
 * Shutdown that no client can stall, as a plugin. In the `preClose` hook (when
 * `fastify.close()` starts, before Fastify calls `server.close()`), every open HTTP/1
 * connection is looked at once (see {@link closeUnlessStarted}):
 * - one that holds no started request is destroyed at once: an idle keep-alive connection, a
 *   request whose headers are not complete, a request whose body is still arriving (Fastify
 *   reports it as aborted, `http.requests.aborted`);
 * - one whose request is started is answered, `Connection: close`, and closed after it; it reads
 *   nothing more.
 *
 * So the server closes, and the onClose hooks that flush the metrics and QUIT Redis run, as soon
 * as the last started request is answered. Fastify's default `forceCloseConnections: 'idle'`
 * and Node's `server.close()` close only idle connections, and Node counts one with half-sent
 * headers as active: a single such client held the shutdown for SHUTDOWN_TIMEOUT_MS and the
 * process exited 1 without the final metrics flush or the Redis QUIT. `forceCloseConnections:
 * true` (`closeAllConnections()`) would also cut the requests in flight.
 *
 * Nothing runs per request: connections are tracked from the server's `connection` event (a
 * Set), and all the work happens once, at shutdown. One info line at preClose: `{ closed, busy,
 * msg: 'closing: connections without a started request closed' }` (connections closed, kept).
 */
async function drainPlugin (fastify: FastifyInstance): Promise<void> {
  const connections = new Set<HttpSocket>()
  fastify.server.on('connection', (socket: HttpSocket) => {
    connections.add(socket)
    socket.once('close', () => connections.delete(socket))
  })

  fastify.addHook('preClose', (done) => {
    let closed = 0
    for (const socket of connections) if (closeUnlessStarted(socket)) closed++
    fastify.log.info({ closed, busy: connections.size - closed }, 'closing: connections without a started request closed')
    done()
  })
}

export default fp(drainPlugin, { name: 'drain', fastify: '5.x' })
