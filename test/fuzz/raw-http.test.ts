import t from 'tap'
import { connect } from 'node:net'
import { UNMATCHED_ROUTE } from '../../service/metrics/catalogue.js'
import { loadConfig } from '../../service/config.js'
import { fuzzSeed, itemBody, key, registeredRoutes, Rng, segment } from '../helpers/fuzz.js'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'
import { startServiceWithPeers } from '../helpers/service-process.js'
import { counterTotals, tagValues } from '../helpers/statsd-lines.js'

/**
 * Malformed HTTP over real sockets to a real service process: what app.inject cannot send,
 * because it never goes through Node's HTTP parser (llhttp): bad request lines, unknown
 * methods, giant and duplicate headers, conflicting framing (Content-Length with
 * Transfer-Encoding, two Content-Lengths), bad chunking, raw bytes in the URL, pipelining.
 * Seeded like inject.test.ts (FUZZ_SEED replays a run).
 *
 * Every exchange must end with a complete HTTP response (none may hang or be dropped without
 * one), no 5xx except the demo routes built to fail, every 4xx body JSON with a message, no
 * framework headers; the process stays up, and the route tags it sent stay within the
 * registered templates plus the unmatched value.
 */

const EXCHANGES = Number(process.env.FUZZ_RAW_EXCHANGES ?? 600)
const CONCURRENCY = 8
/** An exchange that neither completes nor closes within this is a hang. */
const EXCHANGE_TIMEOUT_MS = 5000

interface RawResponse { status: number, headers: Record<string, string>, body: string }
interface Exchange {
  kind: string
  request: string
  /** Per request in the bytes: its target (path) and whether it is a HEAD. */
  targets: string[]
  heads: boolean[]
  /** Half-close after writing (the message is incomplete or the class needs EOF). */
  halfClose: boolean
}

/** Parses consecutive HTTP/1.1 responses out of what the server wrote (interim 1xx skipped). */
function parseResponses (raw: Buffer, heads: boolean[]): RawResponse[] {
  const out: RawResponse[] = []
  let rest = raw
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n')
    if (end === -1) break
    const lines = rest.subarray(0, end).toString('latin1').split('\r\n')
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0)
    const headers: Record<string, string> = {}
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':')
      if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim()
    }
    rest = rest.subarray(end + 4)
    if (status >= 100 && status < 200) continue
    const head = heads[out.length] ?? false
    let length = head || status === 204 || status === 304 ? 0 : Number(headers['content-length'] ?? 0)
    if (!head && headers['transfer-encoding'] === 'chunked') {
      const endChunked = rest.indexOf('0\r\n\r\n')
      length = endChunked === -1 ? rest.length + 1 : endChunked + 5
    }
    if (rest.length < length) break
    out.push({ status, headers, body: rest.subarray(0, length).toString('utf8') })
    rest = rest.subarray(length)
  }
  return out
}

/**
 * Writes the bytes (half-closing if asked) and collects what the server writes, until it has
 * answered every request, or closed the connection, or EXCHANGE_TIMEOUT_MS passed (`done`
 * false: a hang).
 */
function exchange (port: number, ex: Exchange): Promise<{ raw: Buffer, done: boolean, error?: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let error: string | undefined
    let settled = false
    const finish = (done: boolean): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ raw: Buffer.concat(chunks), done, error })
    }
    const timer = setTimeout(() => finish(false), EXCHANGE_TIMEOUT_MS)
    socket.on('data', (c: Buffer) => {
      chunks.push(c)
      if (parseResponses(Buffer.concat(chunks), ex.heads).length >= ex.heads.length) finish(true)
    })
    socket.on('error', (err) => { error = err.message })
    socket.on('close', () => finish(true))
    socket.write(Buffer.from(ex.request, 'latin1'), () => { if (ex.halfClose) socket.end() })
  })
}

const CRLF = '\r\n'

function message (startLine: string, headers: string[], body = ''): string {
  return startLine + CRLF + headers.map((h) => h + CRLF).join('') + CRLF + body
}

function path (rng: Rng, routes: string[]): string {
  if (rng.chance(0.5)) return rng.pick(routes).replace(':key', encodeURIComponent(key(rng)))
  return '/' + Array.from({ length: 1 + rng.int(4) }, () => segment(rng)).join('/')
}

/** One generated exchange: its class, the bytes, and whether each request was a HEAD. */
function generate (rng: Rng, routes: string[]): Exchange {
  const host = 'Host: 127.0.0.1'
  const close = 'Connection: close'
  const json = itemBody(rng)
  const jsonHeaders = ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(json, 'latin1')}`]
  const p = path(rng, routes)
  const plain = (kind: string, startLine: string, headers: string[], body = '', halfClose = false): Exchange =>
    ({ kind, request: message(startLine, headers, body), targets: [startLine.split(' ')[1] ?? ''], heads: [startLine.startsWith('HEAD ')], halfClose })
  switch (rng.int(16)) {
    case 0: return plain('valid', `${rng.pick(['GET', 'HEAD', 'DELETE', 'OPTIONS'])} ${p} HTTP/1.1`, [host, close])
    case 1: return plain('valid body', 'POST /items HTTP/1.1', [host, close, ...jsonHeaders], json)
    case 2: return plain('bad request line', rng.pick([
      'GET', 'GET /', 'GET / HTTP/9.9', 'GET / HTTP/1.1 extra', 'GET  / HTTP/1.1', 'GET\t/\tHTTP/1.1', ' GET / HTTP/1.1',
      'GET / HTTP/1.1x', 'GET / http/1.1', '/ HTTP/1.1', 'GET http://evil.example/items HTTP/1.1', 'OPTIONS * HTTP/1.1',
      'GET /a\u0000b HTTP/1.1', 'GET /a b HTTP/1.1', 'GET /\u00e9 HTTP/1.1', 'GET /\u007f HTTP/1.1', 'PRI * HTTP/2.0',
      'GET ' + '/x'.repeat(rng.pick([500, 5000, 40000])) + ' HTTP/1.1'
    ]), [host, close])
    case 3: return plain('unknown method', `${rng.pick(['FOO', 'get', 'G-E-T', 'GETT', 'DELETE2', 'BREW', 'G\u0000T', 'POST\u00e9', 'X'.repeat(100)])} ${p} HTTP/1.1`, [host, close])
    case 4: return plain('giant header', `GET ${p} HTTP/1.1`, [host, close, `X-Giant: ${'g'.repeat(rng.pick([8000, 17000, 70000]))}`])
    case 5: return plain('many headers', `GET ${p} HTTP/1.1`, [host, close, ...Array.from({ length: rng.pick([100, 600, 2500]) }, (_, i) => `X-H${i}: ${'v'.repeat(20)}`)])
    case 6: return plain('duplicate headers', 'POST /items HTTP/1.1', [host, close, ...rng.pick([
      [host, ...jsonHeaders],
      ['Content-Type: application/json', 'Content-Type: text/plain', `Content-Length: ${Buffer.byteLength(json, 'latin1')}`],
      ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(json, 'latin1')}`, `Content-Length: ${Buffer.byteLength(json, 'latin1')}`],
      ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(json, 'latin1')}`, 'Content-Length: 1'],
      ['Content-Type: application/json', 'Authorization: a', 'Authorization: b', `Content-Length: ${Buffer.byteLength(json, 'latin1')}`]
    ])], json)
    case 7: {
      const chunked = `${Buffer.byteLength(json, 'latin1').toString(16)}\r\n${json}\r\n0\r\n\r\n`
      return plain('framing conflicts', 'POST /items HTTP/1.1', [host, close, 'Content-Type: application/json', ...rng.pick([
        [`Content-Length: ${chunked.length}`, 'Transfer-Encoding: chunked'],
        ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'],
        ['Transfer-Encoding: chunked, identity'],
        ['Transfer-Encoding: xchunked'],
        ['Transfer-Encoding: chunked'],
        ['Transfer-Encoding : chunked'],
        ['Content-Length: -1'],
        ['Content-Length: 1e3'],
        ['Content-Length: 99999999999999999999']
      ])], chunked)
    }
    case 8: return plain('bad chunking', 'POST /items HTTP/1.1', [host, close, 'Content-Type: application/json', 'Transfer-Encoding: chunked'], rng.pick([
      'zz\r\n{}\r\n0\r\n\r\n', '2\r\n{}\r\n', '2;ext=1\r\n{}\r\n0\r\n\r\n', '-1\r\n\r\n', 'ffffffffffffffff\r\n{}\r\n0\r\n\r\n', '2\r\n{}0\r\n\r\n'
    ]), true)
    case 9: return plain('malformed header lines', `GET ${p} HTTP/1.1`, [host, close, rng.pick([
      'NoColon', 'Bad Name: x', 'X-Fold: a\r\n  folded', 'X-Nul: a\u0000b', 'X-Cr: a\rb', ': empty-name', 'X-Ctl: \u0001\u0002', 'X-Utf: \u00e9\u00e8',
      'Host: second.example', 'Content-Length: abc'
    ])])
    case 10: return plain('no Host', `GET ${p} HTTP/1.1`, [close])
    case 11: return plain('HTTP/1.0', `GET ${p} HTTP/1.0`, [])
    case 12: {
      // Pipelined: three requests in one write, the last closes.
      // A small body: a 413 in the middle closes the connection while the first response may
      // still be unread, and the kernel then resets it (TCP, not the service).
      const small = JSON.stringify({ key: key(rng), value: 'v' })
      const targets = [path(rng, routes), '/items', path(rng, routes)]
      const a = message(`GET ${targets[0] ?? ''} HTTP/1.1`, [host])
      const b = message('POST /items HTTP/1.1', [host, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(small, 'latin1')}`], small)
      const c = message(`HEAD ${targets[2] ?? ''} HTTP/1.1`, [host, close])
      return { kind: 'pipelined', request: a + b + c, targets, heads: [false, false, true], halfClose: false }
    }
    case 13: return plain('body shorter than Content-Length', 'POST /items HTTP/1.1', [host, close, 'Content-Type: application/json', `Content-Length: ${json.length + 10}`], json, true)
    case 14: return plain('Expect: 100-continue', 'POST /items HTTP/1.1', [host, close, 'Expect: 100-continue', ...jsonHeaders], json)
    default: return plain('upgrade (no upgrade handler)', `GET ${p} HTTP/1.1`, [host, 'Connection: Upgrade', 'Upgrade: websocket'])
  }
}

/** Demo routes answer 5xx on purpose. */
function deliberate (target: string, status: number): boolean {
  target = target.split('?')[0] ?? ''
  return (target === '/demo/error' && status === 500) || (target === '/demo/random-status' && (status === 500 || status === 503))
}

t.test('hundreds of malformed HTTP messages over real sockets', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const seed = fuzzSeed()
  t.comment(`FUZZ_SEED=${seed} (replay with FUZZ_SEED=${seed} npx tap test/fuzz/raw-http.test.ts)`)
  const env = { METRICS_FLUSH_INTERVAL_MS: '100', LOG_LEVEL: 'warn', OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0' }
  const { redis, udp, svc } = await startServiceWithPeers(t, env)
  const routes = [...await registeredRoutes(loadConfig({ ...env, REDIS_URL: redis.url, STATSD_PORT: String(udp.port) }))]
  const rng = new Rng(seed)
  const plan = Array.from({ length: EXCHANGES }, () => generate(rng, routes))

  const failures: string[] = []
  const outcomes = new Map<string, Map<string, number>>()
  let responses = 0
  let parserLevel = 0
  let noHost = 0
  let resets = 0
  let unreadMax = 0
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < plan.length) {
      const i = next++
      const ex = plan[i] as (typeof plan)[number]
      const label = `#${i} ${ex.kind}: ${JSON.stringify(ex.request.slice(0, 100))}`
      const result = await exchange(svc.port, ex)
      const heads = ex.heads
      const parsed = parseResponses(result.raw, heads)
      const seen = outcomes.get(ex.kind) ?? new Map<string, number>()
      outcomes.set(ex.kind, seen)
      const outcome = parsed.length === 0 ? `no response (${result.error ?? 'closed'}, ${result.raw.length} bytes)` : parsed.map((r) => r.status).join('+')
      seen.set(outcome, (seen.get(outcome) ?? 0) + 1)
      if (!result.done) failures.push(`${label}: neither answered nor closed within ${EXCHANGE_TIMEOUT_MS} ms`)
      if (parsed.length === 0 && /EPIPE|ECONNRESET/.test(result.error ?? '') && ex.kind !== 'no Host') {
        // The service answered and closed while bytes of the request were still unread (the parser
        // rejected the head of a large request, or a framing error closed the connection), the
        // kernel reset the connection over them, and the reset discarded the answer, in part or
        // whole, on the client side (TCP, RFC 9112 section 9.6). Whether the status line arrived
        // first is timing. Such an exchange is excused here only provisionally: the count check
        // below demands that the service counted at least one response for each of them, so a
        // request closed without an answer (never counted) still fails.
        resets++
        unreadMax += ex.heads.length
        continue
      }
      if (parsed.length === 0) failures.push(`${label}: closed without any HTTP response (${result.error ?? 'closed'}, ${result.raw.length} bytes before it) ${JSON.stringify(result.raw.toString('latin1').slice(0, 100))}`)
      const bare = parsed.length === 1 && parsed[0]?.status === 400 && parsed[0].body.replace(/^0\r\n\r\n$/, '') === '' && parsed[0].headers.connection === 'close'
      if (ex.kind === 'no Host' && bare) {
        // Node's own check (requireHostHeader, RFC 9112 section 3.2) answers before Fastify
        // exists for the request: 400, empty body, not counted. A known exception, see the report.
        noHost++
        continue
      }
      for (const [j, res] of parsed.entries()) {
        responses++
        // The clientError handler (service/client-error.ts) writes its 400/431 straight to the
        // socket, without the Date header every routed response has: the parser rejected the
        // bytes, no request ever existed, no hook ran; the handler counts it itself.
        if (res.headers.date === undefined) parserLevel++
        for (const header of ['x-powered-by', 'server']) if (res.headers[header] !== undefined) failures.push(`${label}: ${header}: ${res.headers[header]}`)
        if (res.status >= 500 && !deliberate(ex.targets[j] ?? '', res.status)) failures.push(`${label}: unexpected ${res.status} ${res.body.slice(0, 120)}`)
        if (res.status < 400 || (heads[j] ?? false)) continue
        let body: { message?: unknown, statusCode?: unknown }
        try {
          body = JSON.parse(res.body) as typeof body
        } catch {
          failures.push(`${label}: ${res.status} body is not JSON: ${JSON.stringify(res.body.slice(0, 120))}`)
          continue
        }
        if (typeof body.message !== 'string' || body.message === '') failures.push(`${label}: ${res.status} without a message`)
        if (body.statusCode !== res.status) failures.push(`${label}: statusCode ${String(body.statusCode)} in a ${res.status}`)
        // Fastify's clientError handler: the parser rejected the bytes, no request ever existed.
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))

  for (const [kind, seen] of [...outcomes].sort()) t.comment(`${kind}: ${JSON.stringify(Object.fromEntries(seen))}`)
  t.same(failures.slice(0, 30), [], `${EXCHANGES} exchanges, ${responses} responses: all well-formed (${failures.length} failures, first 30 shown)`)
  t.ok(svc.alive(), 'the service process is still up')
  const ready = await fetch(`${svc.url}/health/ready`)
  t.equal(ready.status, 200, 'and ready')

  svc.kill('SIGTERM')
  t.equal((await svc.exited).code, 0, 'and shuts down cleanly')
  // Every response is counted once, parser-level rejections by the clientError handler; only
  // Node's missing-Host 400 never reaches Fastify (docs/reliability.md, "Answers below Fastify"). +2: startService's
  // probe and the readiness check. The last datagrams may still be queued.
  const expected = responses + 2
  const total = (l: string[]): number => [...counterTotals(l, 'http.requests', []).values()].reduce((a, b) => a + b, 0)
  const lines = await udp.waitFor((l) => total(l) >= expected + resets, 3000).catch(() => udp.lines())
  const seenRoutes = tagValues(lines, 'http.requests', 'route')
  const allowed = new Set([...routes, UNMATCHED_ROUTE])
  t.same([...seenRoutes].filter((r) => !allowed.has(r)), [], `route tags only from the ${routes.length} templates and ${UNMATCHED_ROUTE} (${seenRoutes.size} seen)`)
  const methods = tagValues(lines, 'http.requests', 'method')
  t.ok([...methods].every((m) => ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'OTHER'].includes(m)), `method tags from the closed set: ${[...methods].join(',')}`)
  // Each exchange the kernel reset (see above) was answered and counted at least once (one
  // response, or up to one per pipelined request) although the client read none of it.
  const counted = total(lines)
  t.ok(counted >= expected + resets && counted <= expected + unreadMax,
    `http.requests counts every response: ${counted} counted, ${expected} read by the client + ${resets} to ${unreadMax} answered but reset by TCP before the client read them (${parserLevel} rejected by the HTTP parser; not counted: ${noHost} without Host)`)
})
