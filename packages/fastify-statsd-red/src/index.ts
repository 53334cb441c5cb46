/**
 * fastify-statsd-red: RED metrics, runtime gauges and the application's declared metrics of a
 * Fastify 5 app, aggregated on the client and sent as DogStatsD over UDP (hot-shots) to
 * statsd_exporter. One plugin, registered with one call:
 *
 *   await app.register(fastifyStatsdRed, { service: 'checkout', host: 'statsd-exporter' })
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { AggregatingSink } from './aggregating-sink.js'
import { httpMetrics } from './http-metrics.js'
import { checkOptions, type FastifyStatsdRedOptions } from './options.js'
import { rateLimitedErrorLog } from './error-log.js'
import { runtimeMetrics } from './runtime-metrics.js'
import type { MetricsSink } from './sink.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Where every measurement goes (the plugin's aggregating sink); record declared metrics through `recorder(fastify.metrics, ...)`. */
    metrics: MetricsSink
    /** Requests received and not yet answered or aborted (the `http.requests.in_flight` gauge). */
    inFlight: () => number
    /** Adds a function run at every runtime sample, after the plugin's gauges: set the application's sampled gauges there. */
    addMetricsSampler: (sampler: () => void) => void
  }
}

/** The name the plugin registers under: give it in another plugin's `dependencies`. */
export const PLUGIN_NAME = 'fastify-statsd-red'

/**
 * The plugin: decorates `metrics` (a {@link MetricsSink}), `inFlight` and `addMetricsSampler`;
 * measures every response of the routes registered after it (`onResponse`, by method, route
 * template and status code), aborted requests and requests in flight; samples runtime gauges
 * every `runtimeIntervalMs`; flushes and closes the sink in `onClose`, after a last sample (so the
 * last responses are counted). Options are checked at registration, with errors naming the option.
 */
async function fastifyStatsdRed (fastify: FastifyInstance, options: FastifyStatsdRedOptions): Promise<void> {
  const opts = checkOptions(options)
  const onError = options.onError ?? rateLimitedErrorLog(options.logger ?? fastify.log, opts.errorLogIntervalMs)
  const sink: MetricsSink = options.sink ?? new AggregatingSink({
    host: opts.host,
    port: opts.port,
    globalTags: opts.globalTags,
    flushIntervalMs: opts.flushIntervalMs,
    maxDatagramBytes: opts.maxDatagramBytes,
    onError
  })
  fastify.decorate('metrics', sink)
  // onClose hooks run last-added first: the runtime sampler's last sample, then this close.
  fastify.addHook('onClose', async () => {
    await sink.close()
  })
  const inFlight = opts.http ? httpMetrics(fastify, sink, new Set(opts.excludeRoutes)) : () => 0
  fastify.decorate('inFlight', inFlight)
  const samplers: Array<() => void> = []
  fastify.decorate('addMetricsSampler', (sampler: () => void) => { samplers.push(sampler) })
  if (opts.runtimeIntervalMs > 0) runtimeMetrics(fastify, sink, { intervalMs: opts.runtimeIntervalMs, version: opts.version, inFlight, samplers })
}

export default fp(fastifyStatsdRed, { name: PLUGIN_NAME, fastify: '5.x' })
export { fastifyStatsdRed }
export type { FastifyStatsdRedOptions } from './options.js'
export { DEFAULTS } from './options.js'
export { rateLimitedErrorLog } from './error-log.js'
export { methodTag, routeTag } from './http-metrics.js'
export {
  PLUGIN_METRICS, PLUGIN_METRIC_LIST, GLOBAL_TAGS, LATENCY_OBJECTIVE_SECONDS, UNMATCHED_ROUTE, REQUEST_BUCKETS, seriesNames,
  type MetricDefinition, type StatsdType, type PrometheusType, type PluginMetricKey
} from './catalogue.js'
export {
  defineMetrics, recorder,
  type MetricDeclaration, type DeclaredMetric, type TagValues, type TagsOf, type Counter, type Timer, type Gauge, type Recorder
} from './declare.js'
export { renderMapping, GAUGE_TTL, type MappingOptions } from './mapping.js'
export type { MetricsSink, Series, SampledGauge } from './sink.js'
export { AggregatingSink, type AggregatingSinkOptions, type SinkStats } from './aggregating-sink.js'
export { statsdClient, sendTimerValues, type StatsdClientOptions } from './statsd-client.js'
