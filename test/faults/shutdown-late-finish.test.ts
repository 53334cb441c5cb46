import t from 'tap'
import { PassThrough } from 'node:stream'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { buildApp } from '../../service/app.js'
import { loadConfig } from '../../service/config.js'
import { rawConnection } from '../helpers/raw-connection.js'
import { haveRedisServer, NO_REDIS, startRedis } from '../helpers/redis.js'
import { udpListener } from '../helpers/udp.js'

/**
 * A response whose headers went out `Connection: keep-alive` before the shutdown began and whose
 * body ends after the server has closed (a large item to a slow reader, a stream): Node's
 * `server.close()` closed the connections idle at that moment, and this one becomes idle only
 * later. The drain plugin checks such a connection again when its response finishes and closes
 * it; without that it would stay open for `keepAliveTimeout` (72 s) and hold the shutdown until
 * SHUTDOWN_TIMEOUT_MS. The app is the service's own (`buildApp`), listening on a real socket,
 * with one extra route whose body the test ends.
 */

const skip = haveRedisServer() ? false : NO_REDIS

t.test('a keep-alive response finishing after server.close(): its connection is closed then, close() completes', { skip }, async (t) => {
  const redis = await startRedis(t)
  const udp = await udpListener(t)
  const config = loadConfig({
    REDIS_URL: redis.url,
    STATSD_PORT: String(udp.port),
    LOG_LEVEL: 'silent',
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0'
  }, '1.2.3')
  const app = await buildApp(config)
  const body = new PassThrough()
  app.get('/stream', async (_request, reply) => reply.type('text/plain').send(body))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0

  const conn = await rawConnection(port)
  conn.socket.write('GET /stream HTTP/1.1\r\nHost: svc\r\n\r\n')
  body.write('first')
  await conn.waitFor(/\r\n\r\n5\r\nfirst\r\n$/)
  t.match(conn.text(), /\r\nconnection: keep-alive\r\n/i, 'the headers went out keep-alive, before the shutdown')

  let closed = false
  const closing = app.close().then(() => { closed = true })
  // The event that matters: Fastify has called server.close() (the listener is gone), so the
  // connections idle at that moment have been closed and this one was not among them.
  while (app.server.listening) await nextTurn()
  body.end('last')

  // Bounded so a regression fails here instead of hanging the file: 20 s against the 72 s keep-alive.
  let guard: NodeJS.Timeout | undefined
  const hung = new Promise<'hung'>((resolve) => { guard = setTimeout(() => resolve('hung'), 20_000) })
  t.teardown(() => clearTimeout(guard))
  const outcome = await Promise.race([conn.closed.then(() => 'closed' as const), hung])
  t.equal(outcome, 'closed', 'the connection was closed once its response finished')
  t.match(conn.text(), /4\r\nlast\r\n0\r\n\r\n$/, 'after the whole response')
  await Promise.race([closing, hung])
  t.ok(closed, 'fastify.close() completed (the onClose hooks ran: final flush, Redis QUIT)')
})
