import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { ConnectionError, FastifyInstance } from 'fastify'
import { UNMATCHED_ROUTE } from './metrics/catalogue.js'
import { methodTag } from 'fastify-statsd-red'

/**
 * The status Node itself would answer for a `clientError` (lib/_http_server.js, socketOnError):
 * a request or headers timeout 408, headers over `maxHeaderSize` 431, chunk extensions over
 * their limit 413, any other parser error 400.
 */
export function clientErrorStatus (code: string | undefined): number {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT': return 408
    case 'HPE_HEADER_OVERFLOW': return 431
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW': return 413
    default: return 400
  }
}

/** The ErrorResponse message for each status this handler sends. */
const MESSAGES: Record<number, string> = {
  400: 'malformed HTTP request',
  408: 'request not received in time',
  413: 'chunk extensions too large',
  431: 'request headers too large'
}

/** The method of the rejected request, when its first bytes name one (closed set, else OTHER). */
function methodOf (err: ConnectionError): string {
  // Node sets rawPacket, the bytes the parser was given, to a Buffer (typed as its JSON form).
  const raw: unknown = err.rawPacket
  const match = /^([A-Z]{3,7}) /.exec(Buffer.isBuffer(raw) ? raw.toString('latin1', 0, 8) : '')
  return methodTag(match?.[1] ?? 'OTHER')
}

/**
 * Fastify's `clientErrorHandler` server option (called with `this` = the Fastify instance, for
 * Node's `clientError` event): a connection whose bytes never became a request, because the
 * HTTP parser rejected them (400, 431, 413) or the client was too slow (408, past
 * `requestTimeout`, checked every 30 s by Node's `connectionsCheckingInterval`). No route and no
 * hook exists for it, so without this handler such answers were neither counted nor logged.
 *
 * It answers like Fastify's default handler, in the ErrorResponse shape with `Connection:
 * close`, counts the answer in `http.requests` under {@link UNMATCHED_ROUTE} with its status
 * (method from the request line when there is one, duration 0 ms: no request ever started, so
 * there is nothing to time) and logs it at info with the parser's error code. Nothing is sent or
 * counted when the client already reset the connection (ECONNRESET), the socket is not
 * writable, or a response is already being written on it (a later pipelined request failed):
 * bytes written then would corrupt that response (the same check as Node's socketOnError).
 */
export function clientErrorHandler (this: FastifyInstance, err: ConnectionError, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  // Node's own guard, via its internal field: the response this socket is writing, if any.
  const current = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage
  const status = clientErrorStatus(err.code)
  if (socket.writable && current?.headersSent !== true) {
    const error = STATUS_CODES[status] ?? 'Error'
    const body = JSON.stringify({ statusCode: status, error, message: MESSAGES[status] ?? error })
    socket.write(`HTTP/1.1 ${status} ${error}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
    this.metrics.response(methodOf(err), UNMATCHED_ROUTE, status, 0)
    this.log.info({ statusCode: status, code: err.code, reason: err.message }, 'client error: answered before routing')
  }
  socket.destroy()
}
