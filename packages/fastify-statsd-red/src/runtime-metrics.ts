import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import type { MetricsSink } from './sink.js'

/** What the runtime sampler needs besides the Fastify instance. */
export interface RuntimeOptions {
  /** How often to sample (ms). */
  intervalMs: number
  /** The `version` tag of `service.info`. */
  version: string
  /** Requests in flight right now. */
  inFlight: () => number
  /** Called at every sample after the plugin's own gauges (applications' sampled gauges). */
  samplers: ReadonlyArray<() => void>
}

const NS_PER_S = 1e9
const US_PER_S = 1e6
/**
 * Sampling resolution of the event-loop delay histogram, in ms. Node records the time between
 * two timer wake-ups, which includes the resolution itself, so it is subtracted to report the
 * delay alone (an idle loop reads ~0, not ~10 ms).
 */
const DELAY_RESOLUTION_MS = 10
const DELAY_RESOLUTION_NS = DELAY_RESOLUTION_MS * 1e6

function delaySeconds (nanoseconds: number): number {
  return Math.max(0, nanoseconds - DELAY_RESOLUTION_NS) / NS_PER_S
}

/**
 * Runtime gauges: every `intervalMs` it samples event-loop delay
 * (p50, p99, max over the interval, from `perf_hooks.monitorEventLoopDelay`, in seconds),
 * event-loop utilization over the interval (0..1), V8 heap used and RSS (bytes), CPU seconds
 * spent since the previous sample (a counter) and in-flight requests, then runs the
 * application's samplers; it sends `service.info` once per sample so the series never goes stale.
 *
 * The timer is unref'd and cleared in `onClose`, where a last sample is taken before the
 * StatsD client flushes.
 */
export function runtimeMetrics (fastify: FastifyInstance, metrics: MetricsSink, opts: RuntimeOptions): void {
  const delay = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS })
  delay.enable()
  let elu = performance.eventLoopUtilization()
  let cpu = process.cpuUsage()

  const sample = (): void => {
    // The histogram is empty until the first timer wake-up; send nothing rather than a fake 0.
    if (delay.count > 0) {
      metrics.gauge('eventLoopDelayP50', delaySeconds(delay.percentile(50)))
      metrics.gauge('eventLoopDelayP99', delaySeconds(delay.percentile(99)))
      metrics.gauge('eventLoopDelayMax', delaySeconds(delay.max))
    }
    delay.reset()
    const nextElu = performance.eventLoopUtilization()
    metrics.gauge('eventLoopUtilization', performance.eventLoopUtilization(nextElu, elu).utilization)
    elu = nextElu
    const memory = process.memoryUsage()
    metrics.gauge('heapUsed', memory.heapUsed)
    metrics.gauge('residentMemory', memory.rss)
    const spent = process.cpuUsage(cpu)
    cpu = process.cpuUsage()
    metrics.cpuSeconds((spent.user + spent.system) / US_PER_S)
    metrics.gauge('httpRequestsInFlight', opts.inFlight())
    for (const sampler of opts.samplers) sampler()
    metrics.info(opts.version, process.versions.node)
  }

  const timer = setInterval(sample, opts.intervalMs)
  timer.unref()
  fastify.addHook('onReady', async () => { sample() })
  fastify.addHook('onClose', async () => {
    clearInterval(timer)
    delay.disable()
    sample()
  })
}
