import t from 'tap'
import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import { buildApp } from '../../service/app.js'
import { loadConfig } from '../../service/config.js'
import type { MetricsSink } from 'fastify-statsd-red'
import { noopSink } from '../helpers/noop-sink.js'
import { freePort, haveRedisServer, NO_REDIS, startRedis, type TestLike } from '../helpers/redis.js'

/**
 * The precise half of metrics-receiver.test.ts: with the receiver absent or its name
 * unresolvable, the in-process app serves 60,000 requests and the heap after a full GC must not
 * have grown by more than a few bytes per request, so no queue of lines or datagrams builds up.
 * A control run with a sink that keeps one line per response shows the measurement catches it.
 */

const skip = haveRedisServer() ? false : NO_REDIS

/** `gc()` without starting Node with --expose-gc (the flag is honoured for new contexts). */
function collector (): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

/** Per-request heap growth (bytes) of the in-process app over 60,000 requests after a warm-up. */
async function heapPerRequest (t: TestLike, env: Record<string, string>, sink?: MetricsSink): Promise<number> {
  const redis = await startRedis(t)
  const config = loadConfig({
    REDIS_URL: redis.url,
    LOG_LEVEL: 'silent',
    METRICS_FLUSH_INTERVAL_MS: '1000',
    RUNTIME_METRICS_INTERVAL_MS: '60000',
    // The loop below keeps the event loop busy; this test is about the metrics pipeline.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0',
    ...env
  })
  const app = await buildApp(config, {}, sink)
  t.teardown(() => app.close())
  await app.ready()
  const gc = collector()
  const requests = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const res = await app.inject({ method: 'GET', url: i % 2 === 0 ? '/health/live' : `/no/such/${i}` })
      if (res.statusCode !== (i % 2 === 0 ? 200 : 404)) throw new Error(`unexpected ${res.statusCode}`)
      // light-my-request releases each request's objects on a later turn of the event loop
      // (~9 KiB each, measured); a server always gets those turns between sockets, a tight
      // inject loop does not, so let the loop turn as a real one would.
      if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve))
    }
  }
  const heap = async (): Promise<number> => {
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
    gc()
    gc()
    return process.memoryUsage().heapUsed
  }
  // Warm-up: JIT, tag caches and pools settle (about 1 MiB once, measured).
  await requests(10_000)
  // Two windows, the smaller growth counts: a leak grows the heap in both, a one-time growth in
  // one only. On a busy machine more timer values pile up between two flushes, so a slot's
  // Float64Array doubles once more (bounded by maxObservations) and V8 tiers up more code: seen
  // in CI as +1.2 MB in large_object_space within one window (29 bytes per request), none after.
  const start = await heap()
  await requests(HEAP_REQUESTS)
  const middle = await heap()
  await requests(HEAP_REQUESTS)
  const end = await heap()
  return Math.min(middle - start, end - middle) / HEAP_REQUESTS
}

const HEAP_REQUESTS = 60_000
/** Keeping even one StatsD line (~100 bytes) per response would be 5x this bound. */
const MAX_BYTES_PER_REQUEST = 20

const receivers: Array<{ name: string, env: () => Promise<Record<string, string>> }> = [
  { name: 'absent (nothing listens on the port)', env: async () => ({ STATSD_HOST: '127.0.0.1', STATSD_PORT: String(await freePort()) }) },
  { name: 'unresolvable (no such host name)', env: async () => ({ STATSD_HOST: 'statsd-exporter.invalid', STATSD_PORT: '9125' }) }
]

for (const receiver of receivers) {
  t.test(`heap stays flat with the metrics receiver ${receiver.name}: nothing per request is retained`, { skip }, async (t) => {
    const perRequest = await heapPerRequest(t, await receiver.env())
    t.ok(perRequest < MAX_BYTES_PER_REQUEST, `${perRequest.toFixed(1)} bytes per request, the smaller of two windows of ${HEAP_REQUESTS} requests (< ${MAX_BYTES_PER_REQUEST})`)
  })
}

t.test('control: a sink that keeps one line per response is caught by the same measurement', { skip }, async (t) => {
  const kept: string[] = []
  const hoarder: MetricsSink = {
    ...noopSink(),
    response: (method, route, status) => { kept.push(`http.requests:1|c|#method:${method},route:${route},status_code:${status}`) }
  }
  const perRequest = await heapPerRequest(t, {}, hoarder)
  t.ok(perRequest > MAX_BYTES_PER_REQUEST, `${perRequest.toFixed(1)} bytes per request (the smaller of two windows): over the bound, so a leak like this fails the tests above`)
})
