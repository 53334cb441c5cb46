import type { FastifyBaseLogger } from 'fastify'

/**
 * Returns an error handler that logs the first error, then at most one line per `intervalMs`
 * carrying how many errors were suppressed in between. A dead exporter, a DNS failure or ICMP
 * port unreachable then costs one log line per interval, not one per request.
 * @param intervalMs milliseconds between two log lines (default 10000).
 */
export function rateLimitedErrorLog (log: Pick<FastifyBaseLogger, 'warn'>, intervalMs = 10_000): (err: Error) => void {
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
