import type { StatsD } from 'hot-shots'
import { METRICS } from './catalogue.js'
import type { CacheResult, MetricsSink, SampledGauge } from './sink.js'

/** Milliseconds rounded to microseconds: enough for latency, and short on the wire. */
function ms (value: number): number {
  return Math.round(value * 1000) / 1000
}

/**
 * A {@link MetricsSink} that sends one StatsD line per measurement through a hot-shots client,
 * whose own buffer batches lines into datagrams (`maxBufferSize`, `bufferFlushInterval`).
 *
 * Tag arrays are built once per (method, route, status) and reused, so the hook never formats
 * the same tags twice. Sends never throw: hot-shots reports transport errors to the client's
 * `errorHandler` (see the statsd plugin).
 */
export class HotShotsSink implements MetricsSink {
  private readonly httpTags = new Map<string, string[]>()
  private readonly abortTags = new Map<string, string[]>()
  private readonly commandTags = new Map<string, string[]>()
  private closed = false

  constructor (private readonly client: StatsD) {}

  response (method: string, route: string, statusCode: number, durationMs: number): void {
    const key = method + ' ' + statusCode + ' ' + route
    let tags = this.httpTags.get(key)
    if (tags === undefined) {
      tags = [`method:${method}`, `route:${route}`, `status_code:${statusCode}`]
      this.httpTags.set(key, tags)
    }
    this.client.increment(METRICS.httpRequests.statsd, 1, tags)
    this.client.timing(METRICS.httpRequestDuration.statsd, ms(durationMs), tags)
  }

  aborted (method: string, route: string): void {
    const key = method + ' ' + route
    let tags = this.abortTags.get(key)
    if (tags === undefined) {
      tags = [`method:${method}`, `route:${route}`]
      this.abortTags.set(key, tags)
    }
    this.client.increment(METRICS.httpRequestsAborted.statsd, 1, tags)
  }

  cacheLookup (result: CacheResult): void {
    this.client.increment(METRICS.cacheLookups.statsd, 1, result === 'hit' ? HIT : MISS)
  }

  redisCommand (command: string, durationMs: number, failed: boolean): void {
    let tags = this.commandTags.get(command)
    if (tags === undefined) {
      tags = [`command:${command}`]
      this.commandTags.set(command, tags)
    }
    this.client.timing(METRICS.redisCommandDuration.statsd, ms(durationMs), tags)
    if (failed) this.client.increment(METRICS.redisCommandErrors.statsd, 1, tags)
  }

  gauge (metric: SampledGauge, value: number): void {
    this.client.gauge(METRICS[metric].statsd, value)
  }

  cpuSeconds (seconds: number): void {
    this.client.increment(METRICS.cpuSeconds.statsd, seconds)
  }

  info (version: string, nodeVersion: string): void {
    this.client.gauge(METRICS.serviceInfo.statsd, 1, [`version:${version}`, `node_version:${nodeVersion}`])
  }

  flush (): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve()
      this.client.flush(() => resolve())
    })
  }

  close (): Promise<void> {
    if (this.closed) return Promise.resolve()
    this.closed = true
    return new Promise((resolve) => {
      this.client.close(() => resolve())
    })
  }
}

const HIT = ['result:hit']
const MISS = ['result:miss']
