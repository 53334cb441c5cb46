/**
 * The PromQL vocabulary of the dashboard: metric names, the label matchers the variables drive,
 * the recording rules it reads, and small helpers that keep every expression in one shape.
 *
 * Metric names come from the catalogue (the plugin's and `service/metrics/catalogue.ts`), so a rename there shows
 * up as drift in the generated JSON instead of as an empty panel. Recording rule names are the
 * ones fixed by the project brief (`etc/prometheus/rules/records.yml`, `level:metric:operations`).
 */
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { METRICS } from '../../service/metrics/catalogue.js'

/** Prometheus series names of the service, from the catalogue. */
export const M = {
  requests: METRICS.httpRequests.prometheus,
  duration: METRICS.httpRequestDuration.prometheus,
  inFlight: METRICS.httpRequestsInFlight.prometheus,
  aborted: METRICS.httpRequestsAborted.prometheus,
  cacheLookups: METRICS.cacheLookups.prometheus,
  redisDuration: METRICS.redisCommandDuration.prometheus,
  redisErrors: METRICS.redisCommandErrors.prometheus,
  redisUp: METRICS.redisConnectionUp.prometheus,
  loopDelayP50: METRICS.eventLoopDelayP50.prometheus,
  loopDelayP99: METRICS.eventLoopDelayP99.prometheus,
  loopDelayMax: METRICS.eventLoopDelayMax.prometheus,
  loopUtilization: METRICS.eventLoopUtilization.prometheus,
  heapUsed: METRICS.heapUsed.prometheus,
  rss: METRICS.residentMemory.prometheus,
  cpu: METRICS.cpuSeconds.prometheus,
  info: METRICS.serviceInfo.prometheus
} as const

/** statsd_exporter self-metrics the Pipeline row reads (names as exposed by 0.27.2). */
export const EXPORTER = {
  udpPackets: 'statsd_exporter_udp_packets_total',
  udpDrops: 'statsd_exporter_udp_packet_drops_total',
  lines: 'statsd_exporter_lines_total',
  samples: 'statsd_exporter_samples_total',
  sampleErrors: 'statsd_exporter_sample_errors_total',
  tagErrors: 'statsd_exporter_tag_errors_total',
  conflicts: 'statsd_exporter_events_conflict_total',
  unmapped: 'statsd_exporter_events_unmapped_total',
  actions: 'statsd_exporter_events_actions_total',
  metrics: 'statsd_exporter_metrics_total'
} as const

/** Recording rules (exact names from the brief; `service` kept, `route` where named). */
export const RULES = {
  requestsRate: 'service:http_requests:rate5m',
  routeRequestsRate: 'service_route:http_requests:rate5m',
  ratio5xx: 'service:http_requests_5xx:ratio_rate5m',
  ratio4xx: 'service:http_requests_4xx:ratio_rate5m',
  p50: 'service_route:http_request_duration_seconds:p50_rate5m',
  p90: 'service_route:http_request_duration_seconds:p90_rate5m',
  p99: 'service_route:http_request_duration_seconds:p99_rate5m',
  cacheHitRatio: 'service:cache_lookups_hit:ratio_rate5m',
  sloErrors5m: 'service:slo_errors:ratio_rate5m',
  sloErrors1h: 'service:slo_errors:ratio_rate1h',
  sloSlow5m: 'service:slo_latency_slow:ratio_rate5m',
  sloSlow1h: 'service:slo_latency_slow:ratio_rate1h'
} as const

/** Prometheus job that scrapes statsd_exporter (brief: fixed job names). */
export const EXPORTER_JOB = 'statsd-exporter'

/** Availability objective of the API routes (5xx share), from the brief: 99.9 %. */
export const ERROR_BUDGET_RATIO = 0.001
/** Latency objective of the API routes (share slower than the objective), from the brief: 99 %. */
export const SLOW_BUDGET_RATIO = 0.01
/**
 * Burn rate of the paging alert over 1h and 5m (etc/prometheus/rules/alerts.yml, Google SRE
 * workbook): 14.4 times the budget spends 2 % of a 30-day budget in an hour.
 */
export const FAST_BURN = 14.4

/**
 * Matcher the `service` variable drives: every panel reading a service's series or a recording
 * rule carries it, so one dashboard serves every service that runs the plugin.
 */
export const BY_SERVICE = 'service=~"$service"'
/** Matchers the `service` and `instance` variables drive; every service selector carries them. */
export const BY_INSTANCE = `${BY_SERVICE}, instance=~"$instance"`
/** Matcher the `route` variable drives; every selector of a metric with a `route` label carries it. */
export const BY_ROUTE = 'route=~"$route"'
/**
 * Keeps only series the service sent (they all carry `service`). The service's process metrics
 * are named `nodejs_process_*` so they never meet the exporter's or Prometheus's own
 * `process_*` collectors; the matcher keeps runtime panels to the service all the same.
 */
export const FROM_SERVICE = 'service!=""'

/** `metric{m1, m2}`: a selector with the given matchers (none gives a bare name). */
export function sel (metric: string, ...matchers: string[]): string {
  return matchers.length === 0 ? metric : `${metric}{${matchers.join(', ')}}`
}

/**
 * `rate(selector[$__rate_interval])`. `$__rate_interval` is at least four scrape intervals (the
 * datasource's `timeInterval`, 10 s), so a rate always spans enough samples whatever the zoom.
 */
export function rate (selector: string): string {
  return `rate(${selector}[$__rate_interval])`
}

/** `sum by (labels) (inner)`, or `sum(inner)` without labels. */
export function sumBy (labels: readonly string[], inner: string): string {
  return labels.length === 0 ? `sum(${inner})` : `sum by (${labels.join(', ')}) (${inner})`
}

/**
 * `(part or 0 * all) / all`: a windowed share that reads 0, not "No data", while `part` has no
 * series (a 5xx or hit series only exists once the first one was counted). The same shape as
 * the recording rules in etc/prometheus/rules/records.yml. Both sides must be single-series sums.
 */
export function ratio (part: string, all: string): string {
  return `(${part} or 0 * ${all}) / ${all}`
}

/** `histogram_quantile(q, sum by (labels, le) (rate(bucket[...])))`. */
export function quantile (q: number, bucketSelector: string, labels: readonly string[] = []): string {
  return `histogram_quantile(${q}, ${sumBy([...labels, 'le'], rate(bucketSelector))})`
}

/**
 * The project's own alerts as a label matcher, `alertname=~"A|B|..."`, with the names read from
 * `etc/prometheus/rules/alerts.yml` (the one source). On a shared Prometheus (kube-prometheus-stack
 * always fires `Watchdog`, and other teams' alerts live there too) an unfiltered `ALERTS` would
 * count alerts that say nothing about this service.
 */
export const OWN_ALERTS = ((): string => {
  const file = readFileSync(new URL('../../etc/prometheus/rules/alerts.yml', import.meta.url), 'utf8')
  const groups = (parse(file) as { groups: Array<{ rules: Array<{ alert?: string }> }> }).groups
  const names = [...new Set(groups.flatMap((g) => g.rules.flatMap((r) => r.alert ?? [])))].sort()
  return `alertname=~"${names.join('|')}"`
})()
