import t, { type Test } from 'tap'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'
import { rawConnection, type RawConnection } from '../helpers/raw-connection.js'
import { redisCommands, startServiceWithPeers, WARN } from '../helpers/service-process.js'
import { counterTotals } from '../helpers/statsd-lines.js'

/**
 * SIGTERM while a client holds a connection without a request the service has received in
 * full (issue 18), in a real process with a real redis-server and a real UDP receiver. Before
 * the fix, a client that had sent `GET /items/a HTTP/1.1\r\nHost: x\r\n` (no final blank line)
 * held the shutdown until SHUTDOWN_TIMEOUT_MS: exit 1, no final flush, no Redis QUIT.
 *
 * Each case has a request in flight at the signal (`/demo/io?ms=1000`, answered after it) and
 * one slow client; it checks that the slow client's connection is closed before the in-flight
 * answer is sent (at once, not after the work), that the in-flight request is answered, that
 * the process exits 0 long before SHUTDOWN_TIMEOUT_MS (30 s here, so a forced exit would be
 * code 1 at 30 s: the check is "did not wait for the timeout", not a race against a clock),
 * that the final flush reached the UDP receiver and Redis got QUIT, and that the clean stop
 * logged no warning.
 *
 * Synchronisation is by events, never by sleeping: every connection first sends a probe
 * (`GET /health/live`) in the same write as its slow or in-flight request. One small write on
 * loopback is read and parsed as one chunk, so the probe's answer proves the server has parsed
 * what followed it: the in-flight request is dispatched, the half request's bytes are in
 * Node's parser (which then counts the connection as active, not idle).
 */

const skip = haveRedisServer() ? false : NO_REDIS
const SHUTDOWN_TIMEOUT_MS = 30_000
/** "Long before the timeout": a third of it, far above the ~1 s the in-flight work takes. */
const WELL_BEFORE_MS = SHUTDOWN_TIMEOUT_MS / 3
const PROBE = 'GET /health/live HTTP/1.1\r\nHost: svc\r\n\r\n'
const PROBE_ANSWERED = /^HTTP\/1\.1 200 OK\r\n[^]*?\r\n\r\n\{"status":"ok"\}/
const IN_FLIGHT_ANSWERED = /\r\n\r\n\{"ok":true,"ms":1000\}$/

interface Outcome {
  slow: RawConnection
  inFlight: RawConnection
  exitCode: number | null
  /** ms after SIGTERM: the slow client's connection closed, the in-flight answer arrived, the process exited. */
  slowClosedMs: number
  answeredMs: number
  exitMs: number
  counts: Map<string, number>
  aborted: Map<string, number>
  quit: boolean
  warnings: string[]
}

/**
 * Starts the service and its peers, opens the slow client's connection (`slowBytes` written
 * after the probe; `onSignal` runs right after SIGTERM) and one in-flight request, sends
 * SIGTERM and waits for the exit.
 */
async function shutdownWith (t: Test, slowBytes: string, onSignal: (slow: RawConnection) => void = () => {}): Promise<Outcome> {
  const { svc, udp, redis } = await startServiceWithPeers(t, {
    // No timer flush: whatever reaches the receiver was sent by the flush at shutdown.
    METRICS_FLUSH_INTERVAL_MS: '60000',
    RUNTIME_METRICS_INTERVAL_MS: '60000',
    SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0',
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0'
  })
  const commands = await redisCommands(t, redis)
  const slow = await rawConnection(svc.port)
  slow.socket.write(PROBE + slowBytes)
  await slow.waitFor(PROBE_ANSWERED)
  const inFlight = await rawConnection(svc.port)
  inFlight.socket.write(`${PROBE}GET /demo/io?ms=1000 HTTP/1.1\r\nHost: svc\r\n\r\n`)
  await inFlight.waitFor(PROBE_ANSWERED)

  const signalAt = Date.now()
  svc.kill('SIGTERM')
  onSignal(slow)
  // Both awaited together: each time is taken when its own event happens.
  const [slowClosedAt, answeredAt] = await Promise.all([slow.closed, inFlight.waitFor(IN_FLIGHT_ANSWERED).then(() => Date.now())])
  const exit = await svc.exited
  const lines = udp.lines()
  return {
    slow,
    inFlight,
    exitCode: exit.code,
    slowClosedMs: slowClosedAt - signalAt,
    answeredMs: answeredAt - signalAt,
    exitMs: exit.at - signalAt,
    counts: counterTotals(lines, 'http.requests', ['method', 'route', 'status_code']),
    aborted: counterTotals(lines, 'http.requests.aborted', ['method', 'route']),
    quit: commands.some((c) => c[0] === 'quit'),
    warnings: svc.logs.filter((l) => (l.level ?? 0) >= WARN).map((l) => JSON.stringify(l))
  }
}

/** The checks every case shares. */
function commonChecks (t: Test, o: Outcome): void {
  t.equal(o.exitCode, 0, 'exit code 0 (a forced exit at SHUTDOWN_TIMEOUT_MS is 1)')
  t.ok(o.exitMs < WELL_BEFORE_MS, `exited ${o.exitMs} ms after SIGTERM, long before SHUTDOWN_TIMEOUT_MS=${SHUTDOWN_TIMEOUT_MS}`)
  t.ok(o.slowClosedMs <= o.answeredMs, `the slow client's connection closed at once (${o.slowClosedMs} ms), before the in-flight answer (${o.answeredMs} ms)`)
  const answer = o.inFlight.text().replace(PROBE_ANSWERED, '')
  t.match(answer, /^HTTP\/1\.1 200 OK\r\n(?:[^\r\n]*\r\n)*?connection: close\r\n[^]*?\r\n\r\n\{"ok":true,"ms":1000\}$/i, 'the request in flight at the signal: 200 with Connection: close')
  t.equal(o.counts.get('GET /demo/io 200'), 1, 'the in-flight response was counted and delivered by the final flush')
  t.ok((o.counts.get('GET /health/live 200') ?? 0) >= 2, 'so were the probes answered before the signal')
  t.ok(o.quit, 'Redis got QUIT')
  t.same(o.warnings, [], 'a clean stop logs no warning or error')
  t.comment(`exit ${String(o.exitCode)} after ${o.exitMs} ms; slow client closed after ${o.slowClosedMs} ms; in-flight answered after ${o.answeredMs} ms; counts at the UDP receiver: ${JSON.stringify([...o.counts])}; aborted: ${JSON.stringify([...o.aborted])}`)
}

t.test('headers half sent: the connection is closed at once, unanswered', { skip }, async (t) => {
  const o = await shutdownWith(t, 'GET /items/a HTTP/1.1\r\nHost: x\r\n')
  commonChecks(t, o)
  t.match(o.slow.text(), new RegExp(`${PROBE_ANSWERED.source}$`), 'nothing was sent after the probe\'s answer')
  t.notOk([...o.counts.keys()].some((k) => k.includes('/items')), 'the half request was never a request: not counted')
})

t.test('body still arriving: the connection is closed at once, the request counted as aborted', { skip }, async (t) => {
  let trickle: NodeJS.Timeout | undefined
  t.teardown(() => clearInterval(trickle))
  const head = 'POST /items HTTP/1.1\r\nHost: svc\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n'
  // The client keeps sending a byte every 100 ms after the signal: slow, not gone (the whole
  // body would take minutes, far past SHUTDOWN_TIMEOUT_MS).
  const o = await shutdownWith(t, `${head}{"key":"slow","value":"`, (slow) => {
    trickle = setInterval(() => { if (!slow.isClosed()) slow.socket.write('x') }, 100)
  })
  commonChecks(t, o)
  t.match(o.slow.text(), new RegExp(`${PROBE_ANSWERED.source}$`), 'nothing was sent after the probe\'s answer')
  t.notOk([...o.counts.keys()].some((k) => k.includes('/items')), 'no response to the POST was counted')
  t.equal(o.aborted.get('POST /items'), 1, 'the POST cut off by the shutdown is counted in http.requests.aborted')
})

t.test('idle keep-alive connection: closed at once', { skip }, async (t) => {
  const o = await shutdownWith(t, '')
  commonChecks(t, o)
  t.match(o.slow.text(), /\r\nconnection: keep-alive\r\n/i, 'the probe was answered keep-alive, so the connection was idle at the signal')
})
