import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Config } from '../config.js'
import { AggregatingSink } from '../metrics/aggregating-sink.js'
import { HotShotsSink } from '../metrics/hot-shots-sink.js'
import type { MetricsSink } from '../metrics/sink.js'
import { statsdClient } from '../metrics/statsd-client.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Where every measurement goes; see service/metrics/sink.ts. */
    metrics: MetricsSink
  }
}

/** At most one metrics-pipeline error log line per this many milliseconds. */
export const ERROR_LOG_INTERVAL_MS = 10_000

/**
 * Returns an error handler that logs the first error, then at most one line per
 * `intervalMs` carrying how many errors were suppressed in between. A dead exporter, a DNS
 * failure or ICMP port unreachable then costs one log line per interval, not one per request.
 */
export function rateLimitedErrorLog (log: FastifyBaseLogger, intervalMs = ERROR_LOG_INTERVAL_MS): (err: Error) => void {
  let last = -Infinity
  let suppressed = 0
  return (err: Error) => {
    const now = Date.now()
    if (now - last < intervalMs) {
      suppressed++
      return
    }
    log.warn({ err, suppressed }, 'metrics pipeline error; responses are unaffected')
    last = now
    suppressed = 0
  }
}

/**
 * The service's sink: client-side aggregation ({@link AggregatingSink}) sent through one
 * hot-shots UDP client to STATSD_HOST:STATSD_PORT, flushed every METRICS_FLUSH_INTERVAL_MS and
 * whenever about a datagram's worth of timer values is pending, datagrams of at most
 * STATSD_MAX_DATAGRAM_BYTES, global tags `service` and `instance`. Send failures go to `onError`
 * (give it {@link rateLimitedErrorLog}).
 */
export function aggregatingSink (config: Config, onError: (err: Error) => void): AggregatingSink {
  return new AggregatingSink({
    host: config.statsdHost,
    port: config.statsdPort,
    globalTags: { service: config.serviceName, instance: config.serviceInstance },
    flushIntervalMs: config.metricsFlushIntervalMs,
    maxDatagramBytes: config.statsdMaxDatagramBytes,
    onError
  })
}

/**
 * The naive sink, kept for comparison (the benchmark's `hot-shots` variant): one StatsD line per
 * measurement through the same hot-shots client setup (./metrics/statsd-client.ts), buffered into
 * datagrams of at most STATSD_MAX_DATAGRAM_BYTES and flushed every METRICS_FLUSH_INTERVAL_MS.
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

/**
 * The metrics sink, as a plugin: decorates `metrics` with a {@link MetricsSink}, by default
 * {@link aggregatingSink} built from the config with a rate-limited error log, and flushes and
 * closes it in `onClose` (after the server stopped answering, so the last responses are
 * counted).
 *
 * Pass `sink` to use another sink (tests, benchmarks); the plugin then still closes it.
 */
async function statsdPlugin (fastify: FastifyInstance, opts: { config: Config, sink?: MetricsSink }): Promise<void> {
  const sink = opts.sink ?? aggregatingSink(opts.config, rateLimitedErrorLog(fastify.log))
  fastify.decorate('metrics', sink)
  fastify.addHook('onClose', async () => {
    await sink.close()
  })
}

export default fp(statsdPlugin, { name: 'statsd', fastify: '5.x' })
