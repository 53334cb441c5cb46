import StatsDClient, { type StatsD } from 'hot-shots'

/** How the plugin's one hot-shots client is set up (values from the plugin options). */
export interface StatsdClientOptions {
  /** An IP address or a name, looked up by hot-shots and cached (`cacheDns`). */
  host: string
  /** UDP port of statsd_exporter. */
  port: number
  /** Tags hot-shots appends to every line, in this order (`service`, `instance`, extra tags). */
  globalTags?: Record<string, string>
  /** hot-shots' `maxBufferSize`, the largest datagram it sends (bytes). */
  maxDatagramBytes: number
  /** hot-shots' `bufferFlushInterval` (ms). */
  flushIntervalMs: number
  /** hot-shots' `errorHandler`: gets every send failure (one per datagram dropped) and socket error. */
  onError: (err: Error) => void
}

/**
 * A hot-shots UDP client as the project uses it (hot-shots README, "Usage"): it owns the socket
 * (unref'd, so metrics never keep the process alive), the DNS lookup of the host (`cacheDns`, the
 * address kept for `cacheDnsTtl`, 60 s), buffering lines into datagrams of at most
 * `maxDatagramBytes` (a line is never split: when the next line does not fit, the buffer is sent
 * first), the flush interval, the global tags, errors (`errorHandler`) and close-with-flush.
 *
 * No Datadog extras on the wire (`includeDataDogTags`, `datadog`, telemetry off): statsd_exporter
 * would turn them into stray labels or series.
 */
export function statsdClient (opts: StatsdClientOptions): StatsD {
  return new StatsDClient({
    host: opts.host,
    port: opts.port,
    protocol: 'udp',
    cacheDns: true,
    maxBufferSize: opts.maxDatagramBytes,
    bufferFlushInterval: opts.flushIntervalMs,
    globalTags: opts.globalTags ?? {},
    includeDataDogTags: false,
    datadog: false,
    includeDatadogTelemetry: false,
    errorHandler: opts.onError
  })
}

/**
 * Sends one DogStatsD multi-value timer line, `name:v1:v2:...|ms|#global,tags`, through
 * hot-shots' public `timing()`.
 *
 * The one place the project steps outside hot-shots' TypeScript types: `timing()` is typed
 * `value: number | Date`, but it writes the value into the line as `${value}` without looking at
 * it (lib/statsFunctions.js, `timing` -> `sendAll` -> `sendStat`; only the metric name and the tags
 * are sanitized, see README "Sanitization"), so a string of values joined by `:` goes out as one
 * multi-value line, which statsd_exporter counts as one observation per value. hot-shots has no
 * typed way to send several values in one line, and sending them one call each would be one line
 * per value (the cost this design avoids). The repository's test/metrics/statsd-client.test.ts pins
 * the exact bytes over a real UDP socket for the installed hot-shots, so an upgrade that changes this fails there.
 *
 * @param packed values in milliseconds, already formatted and joined with `:` (no spaces).
 * @param tags per-line tags as `key:value`, after the client's global tags on the wire.
 */
export function sendTimerValues (client: StatsD, name: string, packed: string, tags: string[]): void {
  client.timing(name, packed as unknown as number, undefined, tags)
}
