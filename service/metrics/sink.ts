/**
 * What the instrumentation records, independent of how it is sent.
 *
 * Hooks and repositories call a {@link MetricsSink}; the sink decides how measurements reach
 * statsd_exporter: the service uses the client-side aggregating sink (./aggregating-sink.ts:
 * sums and multi-value timer lines, flushed on an interval, on size and on close), the benchmark
 * also runs ./hot-shots-sink.ts (one line per call). Both send through one hot-shots client set
 * up by ./statsd-client.ts. Swapping the sink
 * changes the wire, never the contract: names, tags and units come from ./catalogue.ts.
 */

/** Cache lookup outcome: the `result` tag of `cache.lookups`. */
export type CacheResult = 'hit' | 'miss'

/** Gauges sampled on an interval (catalogue keys of the gauge entries without per-sample tags). */
export type SampledGauge =
  | 'httpRequestsInFlight'
  | 'redisConnectionUp'
  | 'eventLoopDelayP50'
  | 'eventLoopDelayP99'
  | 'eventLoopDelayMax'
  | 'eventLoopUtilization'
  | 'heapUsed'
  | 'residentMemory'

export interface MetricsSink {
  /**
   * One response sent: counts `http.requests` and times `http.request.duration`.
   * @param method HTTP method, already reduced to the closed set (see http-metrics plugin).
   * @param route route template as registered, or UNMATCHED_ROUTE.
   * @param statusCode the status code sent.
   * @param durationMs Fastify's `reply.elapsedTime`, in milliseconds.
   */
  response (method: string, route: string, statusCode: number, durationMs: number): void
  /** A request the client aborted before the response: counts `http.requests.aborted`. */
  aborted (method: string, route: string): void
  /** One item cache lookup: counts `cache.lookups{result}`. */
  cacheLookup (result: CacheResult): void
  /**
   * One Redis command finished: times `redis.command.duration{command}` and, when it failed,
   * counts `redis.command.errors{command}`.
   * @param command lower-case Redis command name (a closed set chosen by the repositories).
   * @param durationMs round trip in milliseconds.
   */
  redisCommand (command: string, durationMs: number, failed: boolean): void
  /** Sets a sampled gauge to `value` (base units: bytes, seconds, ratio, count). */
  gauge (metric: SampledGauge, value: number): void
  /** Adds CPU seconds spent since the previous call to `process.cpu.seconds`. */
  cpuSeconds (seconds: number): void
  /** Sends `service.info` = 1 with the version tags. */
  info (version: string, nodeVersion: string): void
  /** Sends whatever is buffered now. Never rejects. */
  flush (): Promise<void>
  /** Flushes and releases the socket. Never rejects; later calls are no-ops. */
  close (): Promise<void>
}
