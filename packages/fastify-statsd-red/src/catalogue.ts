/**
 * The plugin's metric catalogue: every generic metric the plugin emits (HTTP RED, runtime gauges,
 * the info metric), in one place. Applications add their own with `defineMetrics` (./declare.ts).
 *
 * Each entry names the StatsD metric sent (DogStatsD tags, `|#k:v`), its StatsD type, the tag
 * keys it carries, and the Prometheus series statsd_exporter turns it into (through the mapping
 * that `renderMapping` (./mapping.ts) writes from these entries plus the application's). The
 * instrumentation reads names and tags from here, so a metric that is not catalogued cannot be
 * sent.
 *
 * Units: timers are sent in **milliseconds** (the StatsD convention) and statsd_exporter
 * observes them in **seconds** (see `../shared/reference/statsd-exporter-0.27.2/README.md`), so
 * every timer becomes a `_seconds` histogram. Gauges are sent in base units (bytes, seconds,
 * ratios 0..1).
 *
 * Names must not collide with statsd_exporter's own metrics: it serves the mapped metrics and its
 * Go process collector (`process_cpu_seconds_total`, `process_resident_memory_bytes`, ...) from one
 * registry, and a duplicate name with other help text makes its whole /metrics page fail. Hence
 * the `nodejs_process_` prefix on the process metrics.
 *
 * Every metric also carries the global tags `service` and `instance` (plugin options, the
 * instance defaulting to the host name), so that gauges from two replicas are two series instead
 * of overwriting each other.
 */

/** StatsD types used here. `timer` is `|ms`, mapped to a Prometheus histogram. */
export type StatsdType = 'counter' | 'timer' | 'gauge'

/** Prometheus type statsd_exporter produces for the StatsD type. */
export type PrometheusType = 'counter' | 'histogram' | 'gauge'

/** One catalogue entry. */
export interface MetricDefinition {
  /** StatsD metric name as sent on the wire, e.g. `http.requests`. */
  readonly statsd: string
  readonly type: StatsdType
  /** Tag keys set per sample, besides the global tags. Closed sets only. */
  readonly tags: readonly string[]
  /** Prometheus metric name statsd_exporter exposes (histograms add `_bucket`/`_sum`/`_count`). */
  readonly prometheus: string
  readonly prometheusType: PrometheusType
  /** Unit of the Prometheus series (`seconds`, `bytes`, `ratio`, `requests`...). */
  readonly unit: string
  readonly help: string
  /** Histogram bucket upper bounds, in seconds (timers only). */
  readonly buckets?: readonly number[]
}

/** Global tags added to every metric by the StatsD client. */
export const GLOBAL_TAGS = ['service', 'instance'] as const

/**
 * Latency objective of the API routes, in seconds: 99% of non-demo requests complete within it.
 * It must be one of the request duration bucket bounds so that the SLO can be read exactly
 * from `le="0.1"`.
 */
export const LATENCY_OBJECTIVE_SECONDS = 0.1

/** The `route` tag value for requests that matched no route (never the raw URL). */
export const UNMATCHED_ROUTE = '__unmatched__'

/** Request duration buckets (seconds): fine below the objective, coarse up to the demo routes' 5 s. */
export const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const

const HTTP_TAGS = ['method', 'route', 'status_code'] as const

/** The plugin's catalogue. Keys are the names the code uses; values describe the wire and the series. */
export const PLUGIN_METRICS = {
  httpRequests: {
    statsd: 'http.requests',
    type: 'counter',
    tags: HTTP_TAGS,
    prometheus: 'http_requests_total',
    prometheusType: 'counter',
    unit: 'requests',
    help: 'HTTP responses sent, by method, route template and status code.'
  },
  httpRequestDuration: {
    statsd: 'http.request.duration',
    type: 'timer',
    tags: HTTP_TAGS,
    prometheus: 'http_request_duration_seconds',
    prometheusType: 'histogram',
    unit: 'seconds',
    help: 'Time from request received to response sent (Fastify reply.elapsedTime).',
    buckets: REQUEST_BUCKETS
  },
  httpRequestsInFlight: {
    statsd: 'http.requests.in_flight',
    type: 'gauge',
    tags: [],
    prometheus: 'http_requests_in_flight',
    prometheusType: 'gauge',
    unit: 'requests',
    help: 'Requests received and not yet answered, sampled every RUNTIME_METRICS_INTERVAL_MS.'
  },
  httpRequestsAborted: {
    statsd: 'http.requests.aborted',
    type: 'counter',
    tags: ['method', 'route'],
    prometheus: 'http_requests_aborted_total',
    prometheusType: 'counter',
    unit: 'requests',
    help: 'Requests the client aborted before the response was sent.'
  },
  eventLoopDelayP50: {
    statsd: 'nodejs.eventloop.delay.p50',
    type: 'gauge',
    tags: [],
    prometheus: 'nodejs_eventloop_delay_p50_seconds',
    prometheusType: 'gauge',
    unit: 'seconds',
    help: 'Median event-loop delay over the last sampling interval.'
  },
  eventLoopDelayP99: {
    statsd: 'nodejs.eventloop.delay.p99',
    type: 'gauge',
    tags: [],
    prometheus: 'nodejs_eventloop_delay_p99_seconds',
    prometheusType: 'gauge',
    unit: 'seconds',
    help: '99th percentile event-loop delay over the last sampling interval.'
  },
  eventLoopDelayMax: {
    statsd: 'nodejs.eventloop.delay.max',
    type: 'gauge',
    tags: [],
    prometheus: 'nodejs_eventloop_delay_max_seconds',
    prometheusType: 'gauge',
    unit: 'seconds',
    help: 'Largest event-loop delay over the last sampling interval.'
  },
  eventLoopUtilization: {
    statsd: 'nodejs.eventloop.utilization',
    type: 'gauge',
    tags: [],
    prometheus: 'nodejs_eventloop_utilization_ratio',
    prometheusType: 'gauge',
    unit: 'ratio',
    help: 'Share of the last sampling interval the event loop was busy (0..1).'
  },
  heapUsed: {
    statsd: 'nodejs.heap.used',
    type: 'gauge',
    tags: [],
    prometheus: 'nodejs_heap_size_used_bytes',
    prometheusType: 'gauge',
    unit: 'bytes',
    help: 'V8 heap in use.'
  },
  residentMemory: {
    statsd: 'process.memory.rss',
    type: 'gauge',
    tags: [],
    prometheus: 'nodejs_process_resident_memory_bytes',
    prometheusType: 'gauge',
    unit: 'bytes',
    help: 'Resident set size of the service process.'
  },
  cpuSeconds: {
    statsd: 'process.cpu.seconds',
    type: 'counter',
    tags: [],
    prometheus: 'nodejs_process_cpu_seconds_total',
    prometheusType: 'counter',
    unit: 'seconds',
    help: 'User and system CPU time spent by the service process (rate() gives cores used).'
  },
  serviceInfo: {
    statsd: 'service.info',
    type: 'gauge',
    tags: ['version', 'node_version'],
    prometheus: 'service_info',
    prometheusType: 'gauge',
    unit: 'info',
    help: 'Always 1; carries the service version and Node.js version as labels.'
  }
} as const satisfies Record<string, MetricDefinition>

export type PluginMetricKey = keyof typeof PLUGIN_METRICS

/** The plugin's catalogue entries as a list, in declaration order. */
export const PLUGIN_METRIC_LIST: readonly MetricDefinition[] = Object.values(PLUGIN_METRICS)

/**
 * Prometheus series names a metric produces: the name itself, or `_bucket`, `_sum` and `_count`
 * for a histogram.
 */
export function seriesNames (metric: MetricDefinition): string[] {
  if (metric.prometheusType === 'histogram') {
    return ['_bucket', '_sum', '_count'].map((suffix) => metric.prometheus + suffix)
  }
  return [metric.prometheus]
}
