import t from 'tap'
import { Agent, request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { haveRedisServer, NO_REDIS, type TestLike } from '../helpers/redis.js'
import { startServiceWithPeers, type ServiceProcess, type ServiceWithPeers } from '../helpers/service-process.js'
import { counterTotals } from '../helpers/statsd-lines.js'

/**
 * SIGTERM with keep-alive clients, in a real process (issue 12): before the drain plugin, an
 * in-flight request on a keep-alive connection was answered `Connection: keep-alive`, the
 * socket stayed open, `server.close()` never finished, and close-with-grace killed the process
 * after SHUTDOWN_TIMEOUT_MS with exit 1, skipping the final metrics flush and the Redis QUIT.
 *
 * Bounds, measured from when the slow request was sent: the service's shutdown ("shutdown
 * complete", pino's `time`) within the in-flight work + 1 s, as the issue asks; the process exit
 * within the work + 5 s, because what follows that line (close-with-grace's exit, and here the
 * test loader writing its coverage data) is not the service's and took up to 3 s on the busy
 * 2-core machine. Exit code 0 is the sharp check: a forced exit (SHUTDOWN_TIMEOUT_MS, 10 s) is 1.
 */

const skip = haveRedisServer() ? false : NO_REDIS
const SLACK_MS = 1000
const EXIT_MARGIN_MS = 5000

/** When the service logged "shutdown complete" (its pino `time`, ms since the epoch), or Infinity. */
function completedAt (svc: ServiceProcess): number {
  const line = svc.logs.find((l) => l.msg === 'shutdown complete')
  return typeof line?.time === 'number' ? line.time : Infinity
}

/** What a raw socket saw: the bytes, and when the server closed its side. */
interface RawConnection {
  socket: Socket
  text: () => string
  /** Resolves with Date.now() when the server ended or closed the connection. */
  closed: Promise<number>
}

function rawConnection (port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (c: string) => { text += c })
    const closed = new Promise<number>((resolve) => {
      socket.once('end', () => resolve(Date.now()))
      socket.once('close', () => resolve(Date.now()))
    })
    socket.on('error', () => {})
    socket.once('connect', () => resolve({ socket, text: () => text, closed }))
    socket.once('error', reject)
  })
}

/** The environment of every case: no timer flush, so the lines can only come from the shutdown flush. */
async function start (t: TestLike): Promise<ServiceWithPeers> {
  return await startServiceWithPeers(t, {
    METRICS_FLUSH_INTERVAL_MS: '60000',
    RUNTIME_METRICS_INTERVAL_MS: '60000',
    SHUTDOWN_TIMEOUT_MS: '10000',
    OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0',
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0'
  })
}

t.test('raw HTTP/1.1 keep-alive: the in-flight request is answered with Connection: close, exit 0 at once', { skip }, async (t) => {
  const { svc, udp } = await start(t)
  const conn = await rawConnection(svc.port)
  const sentAt = Date.now()
  conn.socket.write('GET /demo/io?ms=1000 HTTP/1.1\r\nHost: svc\r\nConnection: keep-alive\r\n\r\n')
  await sleep(200)
  const signalAt = Date.now()
  svc.kill('SIGTERM')
  const exit = await svc.exited
  const closedAt = await conn.closed
  const [head = '', body = ''] = conn.text().split('\r\n\r\n')

  t.match(head, /^HTTP\/1\.1 200 OK\r\n/, 'the in-flight request was answered 200')
  t.match(head, /\r\nconnection: close(\r\n|$)/i, 'with Connection: close')
  t.notMatch(head, /keep-alive/i, 'and no Keep-Alive header')
  t.equal(body, '{"ok":true,"ms":1000}')
  t.ok(closedAt - sentAt < 1000 + SLACK_MS, `the server closed the connection ${closedAt - sentAt} ms after the request`)
  t.equal(exit.code, 0, 'exit code 0')
  t.ok(completedAt(svc) - sentAt < 1000 + SLACK_MS, `shutdown complete ${completedAt(svc) - sentAt} ms after the request (< ${1000 + SLACK_MS})`)
  t.ok(exit.at - sentAt < 1000 + EXIT_MARGIN_MS, `exited ${exit.at - signalAt} ms after SIGTERM, ${exit.at - sentAt} ms after the request (< ${1000 + EXIT_MARGIN_MS})`)
  const counts = counterTotals(udp.lines(), 'http.requests', ['route', 'status_code'])
  t.equal(counts.get('/demo/io 200'), 1, 'the response was counted and delivered by the shutdown flush')
  t.comment(`repro: exit ${String(exit.code)} after ${exit.at - signalAt} ms; counts at the UDP receiver: ${JSON.stringify([...counts])}`)
})

t.test('http.Agent keepAlive: idle connections are closed at once, the busy one after its response', { skip }, async (t) => {
  const { svc, udp } = await start(t)
  const agent = new Agent({ keepAlive: true, maxSockets: 4 })
  t.teardown(() => agent.destroy())
  const sockets = new Set<Socket>()
  const closedAt = new Map<Socket, number>()
  let lastSocket: Socket | undefined
  const get = (path: string): Promise<{ status: number, connection: string | undefined, body: string }> => new Promise((resolve, reject) => {
    const req = request(`${svc.url}${path}`, { agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }))
    })
    req.on('socket', (s: Socket) => {
      lastSocket = s
      if (sockets.has(s)) return
      sockets.add(s)
      s.once('close', () => closedAt.set(s, Date.now()))
    })
    req.on('error', reject)
    req.end()
  })

  // Four connections, kept open by the agent, idle after their answer.
  const warm = await Promise.all([get('/items/none'), get('/items/none'), get('/items/none'), get('/items/none')])
  t.same(warm.map((r) => `${r.status} ${r.connection ?? ''}`), Array(4).fill('404 keep-alive'), 'four keep-alive connections')
  t.equal(sockets.size, 4)
  // The agent reuses one of them for the slow request; the other three stay idle.
  const sentAt = Date.now()
  const slow = get('/demo/io?ms=1500')
  await sleep(300)
  const busy = lastSocket
  const signalAt = Date.now()
  svc.kill('SIGTERM')
  const answer = await slow
  const exit = await svc.exited

  t.same(answer, { status: 200, connection: 'close', body: '{"ok":true,"ms":1500}' }, 'the in-flight request: 200 with Connection: close')
  t.equal(sockets.size, 4, 'no new connection for the slow request')
  const idle = [...sockets].filter((s) => s !== busy)
  t.equal(idle.length, 3, 'three idle connections at the signal')
  const idleClosed = idle.map((s) => (closedAt.get(s) ?? Infinity) - signalAt)
  t.ok(idleClosed.every((ms) => ms < 500), `idle connections closed at once (${idleClosed.join(', ')} ms after SIGTERM)`)
  await sleep(50)
  t.ok(busy !== undefined && closedAt.has(busy), 'the busy connection is closed after its response')
  t.equal(exit.code, 0, 'exit code 0')
  t.ok(completedAt(svc) - sentAt < 1500 + SLACK_MS, `shutdown complete ${completedAt(svc) - sentAt} ms after the slow request (< ${1500 + SLACK_MS})`)
  t.ok(exit.at - sentAt < 1500 + EXIT_MARGIN_MS, `exited ${exit.at - sentAt} ms after the slow request (< ${1500 + EXIT_MARGIN_MS})`)
  const counts = counterTotals(udp.lines(), 'http.requests', ['route', 'status_code'])
  t.equal(counts.get('/items/:key 404'), 4)
  t.equal(counts.get('/demo/io 200'), 1, 'final counts delivered by the shutdown flush')
})

t.test('a request that arrives on a busy connection after SIGTERM: 503 with Connection: close, counted', { skip }, async (t) => {
  const { svc, udp } = await start(t)
  const inFlight = await rawConnection(svc.port)
  inFlight.socket.write('GET /demo/io?ms=1000 HTTP/1.1\r\nHost: svc\r\n\r\n')
  // A slow client: half a request before the signal, so the connection is not idle.
  const late = await rawConnection(svc.port)
  late.socket.write('GET /items/late HTTP/1.1\r\nHost: svc\r\n')
  await sleep(200)
  svc.kill('SIGTERM')
  await svc.waitForLog((l) => l.msg === 'shutting down: finishing in-flight requests')
  await sleep(100)
  late.socket.write('\r\n')
  await late.closed
  const exit = await svc.exited
  await inFlight.closed

  const [head = '', body = ''] = late.text().split('\r\n\r\n')
  t.match(head, /^HTTP\/1\.1 503 Service Unavailable\r\n/, 'the late request: 503')
  t.match(head, /\r\nconnection: close(\r\n|$)/i, 'with Connection: close')
  t.same(JSON.parse(body), { statusCode: 503, error: 'Service Unavailable', message: 'service shutting down: retry on another instance' })
  t.match(inFlight.text(), /^HTTP\/1\.1 200 OK\r\n/, 'the request in flight at the signal: 200')
  t.equal(exit.code, 0)
  const counts = counterTotals(udp.lines(), 'http.requests', ['route', 'status_code'])
  t.equal(counts.get('/items/:key 503'), 1, 'the 503 sent while closing is counted under its route')
  t.equal(counts.get('/demo/io 200'), 1)
})
