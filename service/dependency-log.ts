import type { FastifyBaseLogger } from 'fastify'
import type { DependencyUnavailableError } from './errors.js'

/**
 * Window of the outage log, in milliseconds: the first 503 after a quiet window is logged at
 * once, later ones are counted and logged as one line when the window ends. Same cadence as
 * the overload shedding warning (`SHED_LOG_INTERVAL_MS`) and the metrics send errors.
 */
export const DEPENDENCY_LOG_INTERVAL_MS = 10_000

/**
 * Bounded logging of the 503s answered because a dependency (Redis) failed: expected during an
 * outage, so each is a `warn` without a stack trace, and an outage of D ms logs at most
 * `1 + ceil(D / intervalMs)` lines (plus one at {@link DependencyLog.close}). Every line carries
 * `count`, the 503s since the previous line, so the counts of an outage add up to its 503s
 * (which `http_requests_total{status_code="503"}` also counts).
 *
 * Line shape: `{ level: 40, dependency: 'redis', cause: 'Connection is closed.', count, intervalMs,
 * msg: 'dependency unavailable: answering 503' }`; `cause` is the driver's message, never sent to
 * the client.
 */
export class DependencyLog {
  private pending = 0
  private last: DependencyUnavailableError | undefined
  private timer: NodeJS.Timeout | undefined

  /**
   * @param log where lines go (the server's pino logger).
   * @param intervalMs window length in milliseconds (default {@link DEPENDENCY_LOG_INTERVAL_MS}).
   */
  constructor (private readonly log: FastifyBaseLogger, private readonly intervalMs = DEPENDENCY_LOG_INTERVAL_MS) {}

  /** Counts one 503 answered for `error`; logs now when no window is open. */
  record (error: DependencyUnavailableError): void {
    this.pending++
    this.last = error
    if (this.timer !== undefined) return
    this.write()
    this.timer = setTimeout(() => this.tick(), this.intervalMs)
    // The window must not keep a closing process alive.
    this.timer.unref()
  }

  /** Logs what the open window counted, if anything, and closes it (call at server close). */
  close (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.pending > 0) this.write()
  }

  /** End of a window: log its count and open the next one, or stay quiet until the next 503. */
  private tick (): void {
    this.timer = undefined
    if (this.pending === 0) return
    this.write()
    this.timer = setTimeout(() => this.tick(), this.intervalMs)
    this.timer.unref()
  }

  private write (): void {
    const cause = this.last?.cause
    this.log.warn({
      dependency: this.last?.dependency,
      cause: cause instanceof Error ? cause.message : String(cause),
      count: this.pending,
      intervalMs: this.intervalMs
    }, 'dependency unavailable: answering 503')
    this.pending = 0
  }
}
