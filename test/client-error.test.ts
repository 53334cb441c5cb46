import t from 'tap'
import { createServer, type Socket } from 'node:net'
import type { ConnectionError } from 'fastify'
import { clientErrorHandler, clientErrorStatus } from '../service/client-error.js'
import { build, GLOBAL } from './helpers/app.js'
import { haveRedisServer, NO_REDIS, startRedis } from './helpers/redis.js'
import { startService } from './helpers/service-process.js'
import { exchange } from './helpers/raw-socket.js'
import { counterTotals } from './helpers/statsd-lines.js'
import { udpListener } from './helpers/udp.js'
import { until } from './helpers/wait.js'

const skip = haveRedisServer() ? false : NO_REDIS

t.test('statuses are the ones Node answers itself', async (t) => {
  t.equal(clientErrorStatus('ERR_HTTP_REQUEST_TIMEOUT'), 408)
  t.equal(clientErrorStatus('HPE_HEADER_OVERFLOW'), 431)
  t.equal(clientErrorStatus('HPE_CHUNK_EXTENSIONS_OVERFLOW'), 413)
  t.equal(clientErrorStatus('HPE_INVALID_METHOD'), 400)
  t.equal(clientErrorStatus(undefined), 400)
})

t.test('real process: parser 400 and 431 are answered in the ErrorResponse shape, counted and logged', { skip }, async (t) => {
  const redis = await startRedis(t)
  const udp = await udpListener(t)
  const svc = await startService(t, { env: { REDIS_URL: redis.url, STATSD_PORT: String(udp.port), METRICS_FLUSH_INTERVAL_MS: '50' } })

  const bad = await exchange(svc.port, 'GET / HTTP/1.1\r\nHost: svc\r\nBad Header: x\r\n\r\n')
  t.match(bad, /^HTTP\/1\.1 400 Bad Request\r\n/)
  t.match(bad, /\r\nConnection: close\r\n/)
  t.equal(bad.split('\r\n\r\n')[1], '{"statusCode":400,"error":"Bad Request","message":"malformed HTTP request"}')

  const big = await exchange(svc.port, `POST /items HTTP/1.1\r\nHost: svc\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
  t.match(big, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/)
  t.equal(big.split('\r\n\r\n')[1], '{"statusCode":431,"error":"Request Header Fields Too Large","message":"request headers too large"}')

  const garbage = await exchange(svc.port, 'HELLO\r\n\r\n')
  t.match(garbage, /^HTTP\/1\.1 400 Bad Request\r\n/)

  const lines = await udp.waitFor((l) => counterTotals(l, 'http.requests', ['route']).get('__unmatched__') === 3)
  const counts = counterTotals(lines, 'http.requests', ['method', 'route', 'status_code'])
  t.equal(counts.get('GET __unmatched__ 400'), 1, 'the malformed header, under the method of its request line')
  t.equal(counts.get('POST __unmatched__ 431'), 1, 'the oversized headers')
  t.equal(counts.get('OTHER __unmatched__ 400'), 1, 'bytes without a method: OTHER')
  // The log lines come through the child's stdout, which can trail its answers on a busy machine.
  const clientErrors = (): string[] => svc.logs.filter((l) => l.msg === 'client error: answered before routing').map((l) => `${String(l.statusCode)} ${String(l.code)}`)
  await until('three client-error log lines', () => clientErrors().length >= 3, { detail: () => clientErrors().join(', ') })
  const logged = clientErrors()
  t.same(logged.sort(), ['400 HPE_INVALID_HEADER_TOKEN', '400 HPE_INVALID_METHOD', '431 HPE_HEADER_OVERFLOW'], 'each logged with the parser code')
  t.ok(svc.alive())
})

t.test('a request timeout (408) on a real socket: answered, counted; a reset connection: nothing', { skip }, async (t) => {
  // Node raises ERR_HTTP_REQUEST_TIMEOUT only after requestTimeout (30 s) and its 30 s check
  // interval, so the handler gets that error here directly, on a real TCP connection.
  const { app, udp } = await build(t)
  await app.ready()
  const accepted: Socket[] = []
  const server = createServer((s) => accepted.push(s))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const port = (server.address() as { port: number }).port
  const error = (code: string): ConnectionError => Object.assign(new Error(code), { code, bytesParsed: 0, rawPacket: { type: 'Buffer', data: [] } })

  const answer = exchange(port, 'GET /items/slow HTTP/1.1\r\nHost: svc\r\n')
  await until('the first connection accepted', () => accepted.length >= 1)
  clientErrorHandler.call(app, error('ERR_HTTP_REQUEST_TIMEOUT'), accepted[0] as Socket)
  const text = await answer
  t.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/)
  t.equal(text.split('\r\n\r\n')[1], '{"statusCode":408,"error":"Request Timeout","message":"request not received in time"}')

  const reset = exchange(port, '')
  await until('the second connection accepted', () => accepted.length >= 2)
  clientErrorHandler.call(app, error('ECONNRESET'), accepted[1] as Socket)
  t.equal(accepted[1]?.destroyed, false, 'a reset connection is left to Node, which closes it itself')
  accepted[1]?.destroy()
  t.equal(await reset, '', 'and gets no bytes')

  await app.metrics.flush()
  const lines = await udp.waitFor((l) => l.some((x) => x.startsWith('http.requests:')))
  const counted = lines.filter((l) => l.startsWith('http.requests:'))
  t.equal(counted.length, 1, 'one line: the reset is not counted')
  t.ok(counted[0]?.startsWith('http.requests:1|c') && counted[0].endsWith(`|#${GLOBAL},method:OTHER,route:__unmatched__,status_code:408`), `the 408 counted: ${String(counted[0])}`)
})
