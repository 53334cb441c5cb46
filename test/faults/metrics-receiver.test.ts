import t from 'tap'
import { spawn } from 'node:child_process'
import { runLoadInChild, startLoadInChild, type Operation } from '../helpers/load.js'
import { freePort, haveRedisServer, NO_REDIS, startRedis, type TestLike } from '../helpers/redis.js'
import { startService, WARN } from '../helpers/service-process.js'

/**
 * The metrics pipeline must never hurt the service: with statsd_exporter absent (nothing on the
 * port), unresolvable (no such host) or flooded (a receiver that never reads, its kernel buffer
 * full), responses stay exactly what they are with a healthy receiver, memory stays bounded and
 * the error log is rate-limited instead of one line per failed send. Memory here is the RSS of
 * the real process (a coarse guard); metrics-receiver-heap.test.ts measures the heap precisely.
 */

const skip = haveRedisServer() ? false : NO_REDIS

/** Healthy answers per operation of the load generator's mix. */
const HEALTHY: Record<string, number[]> = { put: [201], get: [200], hits: [200], ready: [200] }
/**
 * Warning lines allowed: the first failure, then one per 10 s at most, counted over the time the
 * test actually took (3 for a run of up to 10 s; a busy machine takes longer, and may log more).
 */
const maxWarnings = (elapsedMs: number): number => 2 + Math.ceil(elapsedMs / 10_000)
/** Requests of the flood: 6 s at 300/s. The load stops once this many were answered, however long that takes. */
const FLOOD_REQUESTS = 1800
/** RSS may grow this much while serving 1,800 requests: a coarse guard, the heap test below is the precise one. */
const MAX_RSS_GROWTH = 48 * 1024 * 1024

/**
 * A UDP receiver in its own process that binds, shrinks its receive buffer to the kernel
 * minimum and then blocks forever (Atomics.wait) without reading: every datagram past the
 * first few kilobytes is dropped by the kernel, as with an exporter that cannot keep up.
 */
async function deafReceiver (t: TestLike): Promise<number> {
  const code = `
    const s = require('node:dgram').createSocket('udp4')
    s.bind(0, '127.0.0.1', () => {
      s.setRecvBufferSize(1)
      process.stdout.write(String(s.address().port) + '\\n')
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
    })`
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } })
  t.teardown(() => { child.kill('SIGKILL') })
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').once('data', (line: string) => resolve(Number(line.trim())))
    child.once('exit', (code) => reject(new Error(`receiver exited ${code}`)))
  })
}

const receivers: Array<{ name: string, env: (t: TestLike) => Promise<Record<string, string>>, expectWarning: boolean }> = [
  { name: 'absent: nothing listens on the port', env: async () => ({ STATSD_HOST: '127.0.0.1', STATSD_PORT: String(await freePort()) }), expectWarning: false },
  { name: 'unresolvable host name', env: async () => ({ STATSD_HOST: 'statsd-exporter.invalid', STATSD_PORT: '9125' }), expectWarning: true },
  { name: 'flooded: a receiver that never reads', env: async (t) => ({ STATSD_HOST: '127.0.0.1', STATSD_PORT: String(await deafReceiver(t)) }), expectWarning: false }
]

for (const receiver of receivers) {
  t.test(`metrics receiver ${receiver.name}: responses unchanged, RSS bounded, warnings rate-limited`, { skip }, async (t) => {
    const redis = await startRedis(t)
    const started = Date.now()
    const svc = await startService(t, {
      env: { REDIS_URL: redis.url, METRICS_FLUSH_INTERVAL_MS: '20', RUNTIME_METRICS_INTERVAL_MS: '200', LOG_LEVEL: 'warn', ...await receiver.env(t) }
    })
    const plan = { url: svc.url, maxInFlight: 32, timeoutMs: 5000, mix: ['put', 'get', 'hits', 'ready'] as Operation[] }
    // Warm-up: code paths compiled, tag caches and pools filled, so RSS after it is the baseline.
    const warm = await runLoadInChild({ ...plan, keyPrefix: 'warm', rate: 200, durationMs: 1500 })
    const rssBefore = svc.rssBytes()
    const warningsBefore = svc.logs.filter((l) => (l.level ?? 0) >= WARN).length
    const flood = startLoadInChild({ ...plan, keyPrefix: 'run', rate: 300, durationMs: 600_000 })
    await flood.until(`${FLOOD_REQUESTS} answered requests`, (answered) => answered.length >= FLOOD_REQUESTS, 300_000)
    flood.stop()
    const run = await flood.result
    const rssAfter = svc.rssBytes()
    const samples = [...warm.samples, ...run.samples]

    // A read issued before the first write was acknowledged asks for a key never written: 404.
    const unhealthy = samples.filter((s) => !(HEALTHY[s.op] ?? []).includes(s.status) && !(s.status === 404 && s.key?.endsWith('-never') === true))
    t.same(unhealthy.map((s) => `${s.op} ${s.status} ${s.error ?? s.body}`), [], `all ${samples.length} responses are the healthy ones`)
    t.ok(run.samples.length >= FLOOD_REQUESTS, `the flood ran (${run.samples.length} requests at up to 300/s)`)
    t.ok(svc.alive(), 'the service is up')
    const growth = rssAfter - rssBefore
    t.ok(growth < MAX_RSS_GROWTH, `RSS grew ${(growth / 1048576).toFixed(1)} MiB over ${run.samples.length} requests (< ${MAX_RSS_GROWTH / 1048576} MiB)`)

    const warnings = svc.logs.filter((l) => (l.level ?? 0) >= WARN)
    const during = warnings.length - warningsBefore
    const elapsed = Date.now() - started
    const allowed = maxWarnings(elapsed)
    t.ok(warnings.length <= allowed, `${warnings.length} warning lines in ${(elapsed / 1000).toFixed(0)} s of failing sends (<= ${allowed}): ${warnings.map((l) => String(l.msg)).join(' | ')}`)
    if (receiver.expectWarning) t.ok(warnings.length >= 1, 'the failure is reported (at least one warning)')
    t.comment(`${during} warning lines during the flood`)

    svc.kill('SIGTERM')
    const exit = await svc.exited
    t.equal(exit.code, 0, 'graceful shutdown does not hang on the dead receiver')
  })
}
