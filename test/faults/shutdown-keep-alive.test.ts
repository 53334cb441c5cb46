import t from 'tap'
import { Agent, request } from 'node:http'
import type { Socket } from 'node:net'
import { haveRedisServer, NO_REDIS, type TestLike } from '../helpers/redis.js'
import { rawConnection } from '../helpers/raw-connection.js'
import { redisCommands, requestReceived, startServiceWithPeers, type ServiceProcess, type ServiceWithPeers } from '../helpers/service-process.js'
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
 *
 * No sleep orders anything (issue 20): SIGTERM is sent once the service has the slow request
 * (a probe answered on the same connection, or Fastify's request log line), and "idle closed
 * at once" is checked as an order of events: each idle connection closed before the in-flight
 * answer arrived.
 */

/** A probe sent in the same write as the request behind it: its answer proves the server parsed both. */
const PROBE = 'GET /health/live HTTP/1.1\r\nHost: svc\r\n\r\n'
const PROBE_ANSWERED = /^HTTP\/1\.1 200 OK\r\n[^]*?\r\n\r\n\{"status":"ok"\}/

const skip = haveRedisServer() ? false : NO_REDIS
const SLACK_MS = 1000
const EXIT_MARGIN_MS = 5000

/** When the service logged "shutdown complete" (its pino `time`, ms since the epoch), or Infinity. */
function completedAt (svc: ServiceProcess): number {
  const line = svc.logs.find((l) => l.msg === 'shutdown complete')
  return typeof line?.time === 'number' ? line.time : Infinity
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
  conn.socket.write(`${PROBE}GET /demo/io?ms=1000 HTTP/1.1\r\nHost: svc\r\nConnection: keep-alive\r\n\r\n`)
  await conn.waitFor(PROBE_ANSWERED)
  const signalAt = Date.now()
  svc.kill('SIGTERM')
  const exit = await svc.exited
  const closedAt = await conn.closed
  const [head = '', body = ''] = conn.text().replace(PROBE_ANSWERED, '').split('\r\n\r\n')

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
  const closed = new Map<Socket, Promise<number>>()
  let lastSocket: Socket | undefined
  const get = (path: string): Promise<{ status: number, connection: string | undefined, body: string, at: number }> => new Promise((resolve, reject) => {
    const req = request(`${svc.url}${path}`, { agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body, at: Date.now() }))
    })
    req.on('socket', (s: Socket) => {
      lastSocket = s
      if (sockets.has(s)) return
      sockets.add(s)
      closed.set(s, new Promise((resolve) => s.once('close', () => resolve(Date.now()))))
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
  await requestReceived(svc, '/demo/io?ms=1500')
  const busy = lastSocket
  svc.kill('SIGTERM')
  const { at: answeredAt, ...answer } = await slow
  const exit = await svc.exited

  t.same(answer, { status: 200, connection: 'close', body: '{"ok":true,"ms":1500}' }, 'the in-flight request: 200 with Connection: close')
  t.equal(sockets.size, 4, 'no new connection for the slow request')
  const idle = [...sockets].filter((s) => s !== busy)
  t.equal(idle.length, 3, 'three idle connections at the signal')
  const idleClosedAt = await Promise.all(idle.map(async (s) => await closed.get(s)))
  t.ok(idleClosedAt.every((at) => at !== undefined && at < answeredAt), `idle connections closed at once: ${idleClosedAt.map((at) => (at ?? Infinity) - answeredAt).join(', ')} ms relative to the in-flight answer`)
  t.ok(busy !== undefined && await closed.get(busy) !== undefined, 'the busy connection is closed after its response')
  t.equal(exit.code, 0, 'exit code 0')
  t.ok(completedAt(svc) - sentAt < 1500 + SLACK_MS, `shutdown complete ${completedAt(svc) - sentAt} ms after the slow request (< ${1500 + SLACK_MS})`)
  t.ok(exit.at - sentAt < 1500 + EXIT_MARGIN_MS, `exited ${exit.at - sentAt} ms after the slow request (< ${1500 + EXIT_MARGIN_MS})`)
  const counts = counterTotals(udp.lines(), 'http.requests', ['route', 'status_code'])
  t.equal(counts.get('/items/:key 404'), 4)
  t.equal(counts.get('/demo/io 200'), 1, 'final counts delivered by the shutdown flush')
})

t.test('a request pipelined behind the in-flight one after SIGTERM: never run, so nothing is written', { skip }, async (t) => {
  const { svc, redis, udp } = await start(t)
  const commands = await redisCommands(t, redis)
  const conn = await rawConnection(svc.port)
  conn.socket.write(`${PROBE}GET /demo/io?ms=1000 HTTP/1.1\r\nHost: svc\r\n\r\n`)
  await conn.waitFor(PROBE_ANSWERED)
  svc.kill('SIGTERM')
  // The drain plugin's preClose line: from here on the busy connection reads nothing more.
  await svc.waitForLog((l) => l.msg === 'closing: connections without a started request closed')
  const body = '{"key":"late","value":"must not be stored"}'
  conn.socket.write(`POST /items HTTP/1.1\r\nHost: svc\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
  await conn.closed
  const exit = await svc.exited

  const answers = conn.text().replace(PROBE_ANSWERED, '')
  t.match(answers, /^HTTP\/1\.1 200 OK\r\n(?:[^\r\n]*\r\n)*?connection: close\r\n[^]*?\r\n\r\n\{"ok":true,"ms":1000\}$/i, 'the request in flight at the signal: 200 with Connection: close, and nothing after it')
  t.equal(exit.code, 0, 'exit code 0')
  t.notOk(svc.logs.some((l) => l.msg === 'incoming request' && (l.req as { url?: unknown } | undefined)?.url === '/items'), 'the pipelined request never reached Fastify')
  t.same(commands.filter((c) => c.some((arg) => arg.includes('late'))), [], 'its handler never ran: Redis saw no command for its key')
  t.ok(commands.some((c) => c[0] === 'quit'), 'Redis got QUIT')
  // Its abort (the connection closing under it) races the final flush, so only this is certain:
  t.notOk(counterTotals(udp.lines(), 'http.requests', ['route']).has('/items'), 'its undelivered answer is not counted as a response')
})
