import { createSocket } from 'node:dgram'
import { createRequire } from 'node:module'
import t from 'tap'
import { AggregatingSink, type AggregatingSinkOptions } from '../../packages/fastify-statsd-red/src/aggregating-sink.js'
import { serviceRecorder, type ServiceRecorder } from '../../service/metrics/recorder.js'
import { build, GLOBAL } from '../helpers/app.js'
import { haveRedisServer, NO_REDIS, type TestLike } from '../helpers/redis.js'
import { udpListener, type UdpListener } from '../helpers/udp.js'
import { until } from '../helpers/wait.js'

/** An aggregating sink sending to `udp` with the test global tags, closed at teardown. */
function sinkTo (t: TestLike, udp: UdpListener, opts: Partial<AggregatingSinkOptions> = {}): AggregatingSink {
  const sink = new AggregatingSink({
    host: '127.0.0.1',
    port: udp.port,
    globalTags: { service: 'svc', instance: 'test' },
    flushIntervalMs: 60_000,
    maxDatagramBytes: 1432,
    ...opts
  })
  t.teardown(() => sink.close())
  return sink
}

/** The service's declared metrics through a sink, one recorder per sink (the recorder holds the series). */
const recorders = new WeakMap<AggregatingSink, ServiceRecorder>()
function declared (sink: AggregatingSink): ServiceRecorder {
  let r = recorders.get(sink)
  if (r === undefined) recorders.set(sink, r = serviceRecorder(sink))
  return r
}
/** One item cache lookup, as the items route records it. */
function cacheLookup (sink: AggregatingSink, result: 'hit' | 'miss'): void {
  declared(sink).cacheLookups.add({ result })
}
/** One Redis command, as RedisCommands records it: its duration, and an error when it failed. */
function redisCommand (sink: AggregatingSink, command: 'get' | 'set', durationMs: number, failed: boolean): void {
  declared(sink).redisCommandDuration.observe({ command }, durationMs)
  if (failed) declared(sink).redisCommandErrors.add({ command })
}

/** The values of every `name:v1:v2|type|#tags` line with exactly these tags, in order. */
function values (lines: string[], name: string, type: string, tags: string): number[] {
  const suffix = `|${type}|#${tags}`
  return lines
    .filter((l) => l.startsWith(name + ':') && l.endsWith(suffix))
    .flatMap((l) => l.slice(name.length + 1, l.length - suffix.length).split(':').map(Number))
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
const HTTP = (method: string, route: string, status: number): string => `${GLOBAL},method:${method},route:${route},status_code:${status}`

t.test('counters are sums and timers multi-value lines, one line per tag set, global tags first', async (t) => {
  const udp = await udpListener(t)
  const sink = sinkTo(t, udp)
  sink.response('GET', '/a', 200, 1)
  sink.response('GET', '/a', 200, 2.5)
  sink.response('GET', '/a', 200, 0.125)
  sink.response('GET', '/a', 404, 3)
  sink.response('POST', '/b', 201, 4)
  sink.aborted('GET', '/a')
  sink.aborted('GET', '/a')
  for (let i = 0; i < 4; i++) cacheLookup(sink, 'hit')
  cacheLookup(sink, 'miss')
  redisCommand(sink, 'get', 0.25, false)
  redisCommand(sink, 'get', 0.5, true)
  await sink.flush()
  const lines = await udp.waitFor((l) => l.length >= 11)
  t.same(lines.sort(), [
    `cache.lookups:1|c|#${GLOBAL},result:miss`,
    `cache.lookups:4|c|#${GLOBAL},result:hit`,
    `http.request.duration:1:2.5:0.125|ms|#${HTTP('GET', '/a', 200)}`,
    `http.request.duration:3|ms|#${HTTP('GET', '/a', 404)}`,
    `http.request.duration:4|ms|#${HTTP('POST', '/b', 201)}`,
    `http.requests.aborted:2|c|#${GLOBAL},method:GET,route:/a`,
    `http.requests:1|c|#${HTTP('GET', '/a', 404)}`,
    `http.requests:1|c|#${HTTP('POST', '/b', 201)}`,
    `http.requests:3|c|#${HTTP('GET', '/a', 200)}`,
    `redis.command.duration:0.25:0.5|ms|#${GLOBAL},command:get`,
    `redis.command.errors:1|c|#${GLOBAL},command:get`
  ])
  t.equal(udp.datagrams.length, 1, 'all of it in one datagram')

  udp.clear()
  await sink.flush()
  await udp.barrier()
  t.same(udp.lines(), [], 'a flush with nothing recorded sends nothing')
})

t.test('timer values: rounded to the microsecond, trailing zeros dropped, NaN and negatives as 0', async (t) => {
  const udp = await udpListener(t)
  const sink = sinkTo(t, udp)
  for (const v of [0, 0.0004, 0.0005, 1, 1.5, 12.25, 0.1234, 99.9999, 0.01, 0.007, 1234567.891, Number.NaN, -3, 1e12]) {
    redisCommand(sink, 'get', v, false)
  }
  await sink.flush()
  const lines = await udp.waitFor((l) => l.length === 1)
  t.equal(lines[0], `redis.command.duration:0:0:0.001:1:1.5:12.25:0.123:100:0.01:0.007:1234567.891:0:0:999999999|ms|#${GLOBAL},command:get`)
})

t.test('gauges keep the last value, cpu seconds add up, info carries its tags', async (t) => {
  const udp = await udpListener(t)
  const sink = sinkTo(t, udp)
  sink.gauge('heapUsed', 100)
  sink.gauge('heapUsed', 123)
  sink.gauge('eventLoopUtilization', 0.25)
  sink.cpuSeconds(0.25)
  sink.cpuSeconds(0.5)
  sink.info('1.2.3', 'v20.0.0')
  await sink.flush()
  const lines = await udp.waitFor((l) => l.length === 4)
  t.same(lines.sort(), [
    `nodejs.eventloop.utilization:0.25|g|#${GLOBAL}`,
    `nodejs.heap.used:123|g|#${GLOBAL}`,
    `process.cpu.seconds:0.75|c|#${GLOBAL}`,
    `service.info:1|g|#${GLOBAL},version:1.2.3,node_version:v20.0.0`
  ])
})

t.test('every observation arrives; lines are never split and every datagram fits the limit', async (t) => {
  const udp = await udpListener(t, 0, 4 * 1024 * 1024)
  const max = 512
  const sink = sinkTo(t, udp, { maxDatagramBytes: max, flushObservations: 100_000 })
  const sent: number[] = []
  for (let i = 0; i < 5000; i++) {
    const v = Math.round(Math.random() * 5_000_000) / 1000
    sent.push(v)
    sink.response('GET', '/r', 200, v)
  }
  await sink.flush()
  const tags = HTTP('GET', '/r', 200)
  await udp.waitFor((l) => values(l, 'http.request.duration', 'ms', tags).length === 5000)
  const lines = udp.lines()
  t.ok(udp.datagrams.length > 1, `${udp.datagrams.length} datagrams`)
  t.ok(udp.datagrams.every((d) => Buffer.byteLength(d) <= max), 'no datagram exceeds the limit')
  const line = /^(http\.request\.duration(:\d+(\.\d{1,3})?)+\|ms|http\.requests:\d+\|c)\|#service:svc,instance:test,method:GET,route:\/r,status_code:200$/
  t.ok(lines.every((l) => line.test(l)), 'every line is whole')
  t.ok(lines.length > udp.datagrams.length, 'the slot was cut into several lines')
  t.same(values(lines, 'http.request.duration', 'ms', tags).sort((a, b) => a - b), sent.sort((a, b) => a - b), 'every value, exactly')
  t.same(values(lines, 'http.requests', 'c', tags), [5000], 'one counter line with the sum')
  t.equal(sink.stats().observations, 10_000)
})

t.test('a route too long for the datagram limit is sent alone, never split or lost', async (t) => {
  const udp = await udpListener(t)
  const sink = sinkTo(t, udp, { maxDatagramBytes: 512 })
  const route = '/' + 'x'.repeat(600)
  sink.response('GET', route, 200, 1.5)
  sink.response('GET', route, 200, 2)
  await sink.flush()
  const lines = await udp.waitFor((l) => l.length === 3)
  t.same(values(lines, 'http.request.duration', 'ms', HTTP('GET', route, 200)), [1.5, 2])
  t.same(values(lines, 'http.requests', 'c', HTTP('GET', route, 200)), [2])
})

t.test('flushes on the interval without being asked', async (t) => {
  const udp = await udpListener(t)
  const sink = sinkTo(t, udp, { flushIntervalMs: 20 })
  cacheLookup(sink, 'hit')
  const lines = await udp.waitFor((l) => l.length === 1, 2000)
  t.same(lines, [`cache.lookups:1|c|#${GLOBAL},result:hit`])
})

t.test('flushes on size: a datagram\'s worth of values leaves on the next turn of the event loop', async (t) => {
  const udp = await udpListener(t)
  const sink = sinkTo(t, udp, { flushObservations: 100 })
  for (let i = 0; i < 99; i++) sink.response('GET', '/s', 200, 1)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(sink.stats().flushes, 0, 'below the size: nothing sent')
  sink.response('GET', '/s', 200, 1)
  t.equal(sink.stats().flushes, 0, 'not in the recording call')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(sink.stats().flushes, 1, 'sent on the next turn, not after the 60 s interval')
  const lines = await udp.waitFor((l) => values(l, 'http.request.duration', 'ms', HTTP('GET', '/s', 200)).length === 100)
  t.same(values(lines, 'http.requests', 'c', HTTP('GET', '/s', 200)), [100])
})

t.test('a synchronous burst never holds more than maxObservations', async (t) => {
  const udp = await udpListener(t, 0, 4 * 1024 * 1024)
  const sink = sinkTo(t, udp, { flushObservations: 50, maxObservations: 500 })
  let most = 0
  for (let i = 0; i < 5000; i++) {
    sink.response('GET', '/burst', 200, 0.5)
    most = Math.max(most, sink.stats().pending)
  }
  t.ok(most <= 500, `at most ${most} values held`)
  await sink.flush()
  const lines = await udp.waitFor((l) => values(l, 'http.request.duration', 'ms', HTTP('GET', '/burst', 200)).length === 5000)
  t.equal(sum(values(lines, 'http.requests', 'c', HTTP('GET', '/burst', 200))), 5000)
})

t.test('close flushes what is pending; later calls are ignored; close twice is fine', async (t) => {
  const udp = await udpListener(t)
  const sink = sinkTo(t, udp)
  sink.response('DELETE', '/items/:key', 204, 0.75)
  await sink.close()
  const lines = await udp.waitFor((l) => l.length === 2)
  t.same(lines.sort(), [
    `http.request.duration:0.75|ms|#${HTTP('DELETE', '/items/:key', 204)}`,
    `http.requests:1|c|#${HTTP('DELETE', '/items/:key', 204)}`
  ])
  sink.response('DELETE', '/items/:key', 204, 0.75)
  sink.gauge('heapUsed', 1)
  await sink.flush()
  await sink.close()
  await udp.barrier()
  t.equal(udp.lines().length, 2, 'nothing after close')
})

t.test('flush resolves once the kernel took the datagrams', async (t) => {
  const udp = await udpListener(t)
  const sink = sinkTo(t, udp, { maxDatagramBytes: 512 })
  for (let i = 0; i < 1000; i++) redisCommand(sink, 'set', 1.25, false)
  await sink.flush()
  const { datagrams, lines, droppedDatagrams } = sink.stats()
  t.ok(datagrams > 1, `${datagrams} datagrams accepted when flush resolved`)
  t.equal(droppedDatagrams, 0)
  await udp.waitFor((l) => l.length === lines, 1000)
  t.equal(udp.datagrams.length, datagrams, 'and every one of them arrived')
})

t.test('receiver gone: nothing throws, nothing is reported, memory stays bounded', async (t) => {
  const gone = createSocket('udp4')
  await new Promise<void>((resolve) => gone.bind(0, '127.0.0.1', () => resolve()))
  const port = gone.address().port
  await new Promise<void>((resolve) => gone.close(() => resolve()))
  const errors: Error[] = []
  const sink = new AggregatingSink({
    host: '127.0.0.1',
    port,
    globalTags: { service: 'svc', instance: 'test' },
    flushIntervalMs: 60_000,
    maxDatagramBytes: 512,
    flushObservations: 100,
    maxObservations: 1000,
    onError: (err) => errors.push(err)
  })
  t.teardown(() => sink.close())
  const heapBefore = process.memoryUsage().heapUsed
  let most = 0
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 2000; i++) {
      sink.response('GET', '/gone', 200, 1.5)
      most = Math.max(most, sink.stats().pending)
    }
    await sink.flush()
    await new Promise((resolve) => setImmediate(resolve))
  }
  // A flush resolves once hot-shots settled every send so far: the counts below are exact.
  await sink.flush()
  const stats = sink.stats()
  t.ok(most <= 1000, `never more than ${most} values held`)
  // hot-shots sends on an unconnected UDP socket: Linux hands an ICMP port unreachable only to a
  // connected socket, so the kernel accepts every datagram and nothing reports the receiver gone
  // (statsd_exporter's `up` in Prometheus does). A hot-shots that starts reporting it fails here.
  t.ok(stats.datagrams > 0, `${stats.datagrams} datagrams taken by the kernel`)
  t.equal(stats.droppedDatagrams, 0)
  t.same(errors.map((e) => e.message), [], 'no error: the refusals never reach an unconnected socket')
  t.ok(process.memoryUsage().heapUsed - heapBefore < 32 * 1024 * 1024, 'heap did not grow with 100,000 unsent responses')
})

t.test('statsd host that does not resolve: datagrams dropped and counted, nothing throws', async (t) => {
  const errors: Error[] = []
  const sink = new AggregatingSink({
    host: 'no-such-host.invalid',
    port: 9125,
    flushIntervalMs: 60_000,
    maxDatagramBytes: 512,
    // A window longer than the test can take however slow the machine: exactly one report.
    reportEveryMs: 3_600_000,
    onError: (err) => errors.push(err)
  })
  t.teardown(() => sink.close())
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 300; i++) sink.response('GET', '/dns', 200, 1)
    await sink.flush()
  }
  // A flush waits at most 2 s for hot-shots' callbacks; a loaded machine may report the last
  // failed lookups later: wait for every datagram handed over to be reported failed.
  await until('every datagram reported dropped', () => sink.stats().datagrams === 0 && sink.stats().droppedDatagrams >= 5, { detail: () => JSON.stringify(sink.stats()) })
  const stats = sink.stats()
  t.ok(stats.droppedDatagrams >= 5, `${stats.droppedDatagrams} datagrams dropped`)
  t.equal(stats.datagrams, 0)
  t.equal(errors.length, 1, 'one report per reportEveryMs at most: a dead receiver must not cost an error object per datagram')
  t.match(errors.map((e) => e.message).join('\n'), /ENOTFOUND|EAI_AGAIN|not resolved/)
  t.match(errors.at(-1)?.message, /^statsd datagram dropped: .* \(so far \d+ datagrams dropped\)$/)
})

t.test('the service uses the aggregating sink by default', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const { app } = await build(t)
  t.ok(app.metrics instanceof AggregatingSink)
})

/** `http.requests` summed and `http.request.duration` observations counted, for one route and status. */
function httpTotals (lines: string[], method: string, route: string, status: number): { count: number, timed: number } {
  const tags = HTTP(method, route, status)
  return { count: sum(values(lines, 'http.requests', 'c', tags)), timed: values(lines, 'http.request.duration', 'ms', tags).length }
}

t.test('zero loss through the app: every response counted and timed once (app.inject)', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const { app, udp } = await build(t)
  t.equal((await app.inject({ method: 'POST', url: '/items', payload: { key: 'k1', value: 'v' } })).statusCode, 201)
  await app.metrics.flush()
  await udp.waitFor((l) => l.some((x) => x.startsWith('http.requests:1|c|') && x.includes('route:/items,')))
  udp.clear()
  const n = 2000
  // Statuses are tallied rather than assumed: on a loaded machine a Redis command may time out
  // (503). Every response must be counted and timed under the status it was sent with.
  const statuses = new Map<number, number>()
  for (let done = 0; done < n; done += 50) {
    const replies = await Promise.all(Array.from({ length: 50 }, () => app.inject({ method: 'GET', url: '/items/k1' })))
    for (const r of replies) statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1)
  }
  t.ok((statuses.get(200) ?? 0) > 0, `statuses: ${JSON.stringify([...statuses])}`)
  await app.metrics.flush()
  const all = (l: string[]): number => [...statuses.keys()].reduce((acc, s) => acc + httpTotals(l, 'GET', '/items/:key', s).timed, 0)
  const lines = await udp.waitFor((l) => all(l) >= n)
  for (const [status, k] of statuses) t.same(httpTotals(lines, 'GET', '/items/:key', status), { count: k, timed: k }, `status ${status}`)
  t.equal(sum(values(lines, 'cache.lookups', 'c', `${GLOBAL},result:hit`)), statuses.get(200), 'cache hits')
  t.equal(values(lines, 'redis.command.duration', 'ms', `${GLOBAL},command:get`).length, n, 'redis GET timings')
  t.ok(udp.datagrams.length < n / 20, `${udp.datagrams.length} datagrams for ${n} responses`)
})

t.test('zero loss at saturation over real sockets (autocannon)', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const { app, udp } = await build(t, { env: { METRICS_FLUSH_INTERVAL_MS: '1000' } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const autocannon = createRequire(import.meta.url)('autocannon') as (opts: object, cb: (err: Error | null, result: { non2xx: number, errors: number, requests: { total: number } }) => void) => void
  const n = 5000
  const result = await new Promise<{ non2xx: number, errors: number, requests: { total: number } }>((resolve, reject) => {
    autocannon({ url: `http://127.0.0.1:${port}/health/live`, connections: 20, amount: n }, (err, res) => err === null ? resolve(res) : reject(err))
  })
  t.equal(result.errors, 0)
  t.equal(result.non2xx, 0)
  await app.metrics.flush()
  const lines = await udp.waitFor((l) => httpTotals(l, 'GET', '/health/live', 200).timed >= n)
  t.same(httpTotals(lines, 'GET', '/health/live', 200), { count: n, timed: n })
})

t.test('limits that cannot work are refused at construction, naming the option', async (t) => {
  const to = { host: '127.0.0.1', port: 9125 }
  t.throws(() => new AggregatingSink({ ...to, flushIntervalMs: 0, maxDatagramBytes: 1432 }), /flushIntervalMs/)
  t.throws(() => new AggregatingSink({ ...to, flushIntervalMs: 10, maxDatagramBytes: 100 }), /maxDatagramBytes/)
  t.throws(() => new AggregatingSink({ ...to, flushIntervalMs: 10, maxDatagramBytes: 1432, flushObservations: 0 }), /flushObservations/)
  t.throws(() => new AggregatingSink({ ...to, flushIntervalMs: 10, maxDatagramBytes: 1432, flushObservations: 10, maxObservations: 5 }), /maxObservations/)
})
