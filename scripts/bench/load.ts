import type { EventEmitter } from 'node:events'
import { createRequire } from 'node:module'

/** The part of autocannon's programmatic API used here (the package ships no types). */
interface AutocannonOptions {
  url: string
  connections: number
  amount?: number
  duration?: number
  overallRate?: number
  timeout?: number
}
interface AutocannonResult {
  errors: number
  timeouts: number
  non2xx: number
  totalCompletedRequests: number
  duration: number
}
type Autocannon = (opts: AutocannonOptions, done: (err: Error | null, result: AutocannonResult) => void) => EventEmitter

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

/** One load phase as the load generator saw it. */
export interface LoadResult {
  /** Responses received, and how many were not 2xx. */
  responses: number
  non2xx: number
  /** Connection errors and timeouts. */
  errors: number
  /** From the start to the last response, seconds. */
  seconds: number
  /** responses / seconds. */
  rps: number
  /**
   * Latency percentiles in ms at microsecond resolution, from every response's own time
   * (autocannon's histogram rounds to whole milliseconds, too coarse for a 0.1 ms budget).
   */
  p50Ms: number
  p99Ms: number
}

/** Percentile `p` (0..100) of the first `n` values of `sorted` (nearest rank). */
export function percentile (sorted: Float64Array, n: number, p: number): number {
  if (n === 0) return NaN
  return sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]
}

function run (opts: AutocannonOptions): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 16)
  let n = 0
  let last = 0
  const start = performance.now()
  return new Promise((resolve, reject) => {
    const tracker = autocannon({ timeout: 10, ...opts }, (err, result) => {
      if (err !== null) return reject(err)
      const sorted = latencies.subarray(0, n).sort()
      const seconds = ((last || performance.now()) - start) / 1000
      resolve({
        responses: n,
        non2xx: result.non2xx,
        errors: result.errors,
        seconds,
        rps: n / seconds,
        p50Ms: percentile(sorted, n, 50),
        p99Ms: percentile(sorted, n, 99)
      })
    })
    tracker.on('response', (_client: unknown, _status: number, _bytes: number, responseTimeMs: number) => {
      if (n === latencies.length) {
        const grown = new Float64Array(n * 2)
        grown.set(latencies)
        latencies = grown
      }
      latencies[n++] = responseTimeMs
      last = performance.now()
    })
  })
}

/**
 * Saturation: `connections` keep one request outstanding each until `amount` responses came
 * back. A fixed amount (not a duration) ends without cutting requests off, so the responses
 * counted here are exactly the responses the server sent and the metrics must add up to them.
 * A response slower than `timeoutSeconds` counts as an error (and its request is sent again).
 */
export function closedLoop (url: string, connections: number, amount: number, timeoutSeconds = 10): Promise<LoadResult> {
  return run({ url, connections, amount: Math.max(amount, connections), timeout: timeoutSeconds })
}

/**
 * A fixed overall rate for `seconds`. autocannon spreads the rate over the connections and
 * releases each second's quota at the start of the second, so the load comes in bursts; the
 * server's CPU time per request is what this phase is for.
 */
export function fixedRate (url: string, connections: number, rate: number, seconds: number): Promise<LoadResult> {
  return run({ url, connections, overallRate: rate, duration: seconds })
}

/** Closed-loop load for `seconds` (warm-up: JIT, connection pools, and a first rate estimate). */
export function forSeconds (url: string, connections: number, seconds: number): Promise<LoadResult> {
  return run({ url, connections, duration: seconds })
}
