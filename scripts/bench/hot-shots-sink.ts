import type { StatsD } from 'hot-shots'
import { PLUGIN_METRICS as METRICS, statsdClient, type MetricDefinition, type MetricsSink, type SampledGauge, type Series } from 'fastify-statsd-red'
import type { Config } from '../../service/config.js'

/** Milliseconds rounded to microseconds: enough for latency, and short on the wire. */
function ms (value: number): number {
  return Math.round(value * 1000) / 1000
}

/**
 * The benchmark's naive sink (the `hot-shots` variant), for comparison with the plugin's
 * aggregating one: a {@link MetricsSink} that sends one StatsD line per measurement through a hot-shots client,
 * whose own buffer batches lines into datagrams (`maxBufferSize`, `bufferFlushInterval`).
 *
 * Tag arrays are built once per (method, route, status) and reused, so the hook never formats
 * the same tags twice. Sends never throw: hot-shots reports transport errors to the client's
 * `errorHandler` (see the statsd plugin).
 */
export class HotShotsSink implements MetricsSink {
  private readonly httpTags = new Map<string, string[]>()
  private readonly abortTags = new Map<string, string[]>()
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

  series (metric: MetricDefinition, tags: readonly string[]): Series {
    const own = [...tags]
    if (metric.type === 'timer') return { record: (value) => { this.client.timing(metric.statsd, ms(value), own) } }
    if (metric.type === 'counter') return { record: (value) => { this.client.increment(metric.statsd, value, own) } }
    return { record: (value) => { this.client.gauge(metric.statsd, value, own) } }
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

/**
 * The naive sink for a config: the same hot-shots client setup as the plugin's (statsdClient),
 * buffered into datagrams of at most STATSD_MAX_DATAGRAM_BYTES and flushed every
 * METRICS_FLUSH_INTERVAL_MS.
 */
export function hotShotsSink (config: Config, onError: (err: Error) => void): HotShotsSink {
  return new HotShotsSink(statsdClient({
    host: config.statsdHost,
    port: config.statsdPort,
    globalTags: { service: config.serviceName, instance: config.serviceInstance },
    maxDatagramBytes: config.statsdMaxDatagramBytes,
    flushIntervalMs: config.metricsFlushIntervalMs,
    onError
  }))
}
