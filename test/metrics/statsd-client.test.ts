import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import t from 'tap'
import { sendTimerValues, statsdClient } from '../../packages/fastify-statsd-red/src/statsd-client.js'
import type { TestLike } from '../helpers/redis.js'
import { udpListener } from '../helpers/udp.js'

/**
 * The bytes the service's hot-shots client really writes, over a real UDP socket. The aggregating
 * sink relies on two things hot-shots does not promise in its types: a packed string passed to
 * `timing()` goes out as one multi-value line, and the buffer is sent when the next line would
 * not fit (so the writer can size lines to fill datagrams). An upgrade that changes either fails
 * here.
 */

const version = (JSON.parse(readFileSync(createRequire(import.meta.url).resolve('hot-shots/package.json'), 'utf8')) as { version: string }).version

function client (t: TestLike, port: number, errors: Error[], maxDatagramBytes = 1432): ReturnType<typeof statsdClient> {
  const c = statsdClient({
    host: '127.0.0.1',
    port,
    globalTags: { service: 'svc', instance: 'test' },
    maxDatagramBytes,
    flushIntervalMs: 60_000,
    onError: (err) => errors.push(err)
  })
  t.teardown(() => new Promise<void>((resolve) => c.close(() => resolve())))
  return c
}

const flushed = (c: ReturnType<typeof statsdClient>): Promise<void> => new Promise((resolve) => c.flush(() => resolve()))

t.test(`hot-shots ${version}: a packed timing, a counter and a gauge, byte for byte in one datagram`, async (t) => {
  const udp = await udpListener(t)
  const errors: Error[] = []
  const c = client(t, udp.port, errors)
  sendTimerValues(c, 'http.request.duration', '1:2.5:0.125', ['method:GET', 'route:/items/:key', 'status_code:200'])
  c.increment('http.requests', 3, undefined, ['method:GET', 'route:/items/:key', 'status_code:200'])
  c.gauge('nodejs.heap.used', 123, undefined, [])
  await flushed(c)
  await udp.waitFor((l) => l.length === 3)
  t.same(udp.datagrams, [
    'http.request.duration:1:2.5:0.125|ms|#service:svc,instance:test,method:GET,route:/items/:key,status_code:200\n' +
    'http.requests:3|c|#service:svc,instance:test,method:GET,route:/items/:key,status_code:200\n' +
    'nodejs.heap.used:123|g|#service:svc,instance:test'
  ])
  t.same(errors, [])
})

t.test(`hot-shots ${version}: the buffer leaves when the next line would not fit; a line is never split`, async (t) => {
  const udp = await udpListener(t)
  const max = 128
  const errors: Error[] = []
  const c = client(t, udp.port, errors, max)
  const tail = '|ms|#service:svc,instance:test'
  // Lines of exactly 60 and 67 bytes fill 60 + 1 (newline) + 67 = 128 bytes, the limit; the
  // next line must open a new datagram.
  const fixed = Buffer.byteLength('x:' + tail)
  const line60 = '1'.repeat(60 - fixed)
  const line67 = '2'.repeat(67 - fixed)
  sendTimerValues(c, 'x', line60, [])
  sendTimerValues(c, 'x', line67, [])
  sendTimerValues(c, 'x', '3', [])
  // Longer than the limit on its own: sent alone, whole.
  const long = '4:'.repeat(80) + '4'
  sendTimerValues(c, 'x', long, [])
  sendTimerValues(c, 'x', '5', [])
  await flushed(c)
  await udp.waitFor((l) => l.length === 5)
  t.same(udp.datagrams, [
    `x:${line60}${tail}\nx:${line67}${tail}`,
    `x:3${tail}`,
    `x:${long}${tail}`,
    `x:5${tail}`
  ])
  t.equal(Buffer.byteLength(udp.datagrams[0]), max, 'the first datagram is filled to the byte')
  t.same(errors, [])
})
