/**
 * What the instrumentation records, independent of how it is sent.
 *
 * The plugin's hooks and the application's declared metrics (./declare.ts) call a
 * {@link MetricsSink}; the sink decides how measurements reach statsd_exporter: the plugin uses
 * the client-side aggregating sink (./aggregating-sink.ts: sums and multi-value timer lines,
 * flushed on an interval, on size and on close), sent through one hot-shots client set up by
 * ./statsd-client.ts. Swapping the sink changes the wire, never the contract: names, tags and
 * units come from the catalogue (./catalogue.ts) and the application's declarations.
 */
import type { MetricDefinition } from './catalogue.js'

/** Gauges the plugin samples on an interval (catalogue keys of the gauge entries without per-sample tags). */
export type SampledGauge =
  | 'httpRequestsInFlight'
  | 'eventLoopDelayP50'
  | 'eventLoopDelayP99'
  | 'eventLoopDelayMax'
  | 'eventLoopUtilization'
  | 'heapUsed'
  | 'residentMemory'

/** One series of a metric (a metric with one fixed tag set), ready to record into. */
export interface Series {
  /**
   * Counter: adds `value`. Timer: one observation of `value` milliseconds. Gauge: sets `value`.
   * Never throws, never does I/O in the call.
   */
  record (value: number): void
}

export interface MetricsSink {
  /**
   * One response sent: counts `http.requests` and times `http.request.duration`.
   * @param method HTTP method, already reduced to the closed set (`methodTag`).
   * @param route route template as registered, or UNMATCHED_ROUTE.
   * @param statusCode the status code sent.
   * @param durationMs Fastify's `reply.elapsedTime`, in milliseconds.
   */
  response (method: string, route: string, statusCode: number, durationMs: number): void
  /** A request the client aborted before the response: counts `http.requests.aborted`. */
  aborted (method: string, route: string): void
  /** Sets a sampled gauge to `value` (base units: bytes, seconds, ratio, count). */
  gauge (metric: SampledGauge, value: number): void
  /** Adds CPU seconds spent since the previous call to `process.cpu.seconds`. */
  cpuSeconds (seconds: number): void
  /** Sends `service.info` = 1 with the version tags. */
  info (version: string, nodeVersion: string): void
  /**
   * The series of a declared metric with these tags (`key:value`, in the metric's tag order).
   * Call once per tag set and keep the result: building it formats the tags.
   */
  series (metric: MetricDefinition, tags: readonly string[]): Series
  /** Sends whatever is buffered now. Never rejects. */
  flush (): Promise<void>
  /** Flushes and releases the socket. Never rejects; later calls are no-ops. */
  close (): Promise<void>
}
