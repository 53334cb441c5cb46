import type { FastifyBaseLogger } from 'fastify'
import type { Bindings, ChildLoggerOptions, FastifyChildLoggerFactory } from 'fastify/types/logger.js'

type LogMethod = (...args: unknown[]) => void

/**
 * A request's logger that becomes a pino child (with the request's `reqId` binding) on its first
 * use. Fastify makes one child logger per request; with ACCESS_LOG off most requests never log,
 * and building the child (bindings serialized, formatters rebuilt) was about 9k instructions per
 * request (README "Performance"). A line logged through it is the line the child would write.
 */
class LazyChildLogger {
  #child: FastifyBaseLogger | undefined

  constructor (private readonly parent: FastifyBaseLogger, private readonly bindings: Bindings, private readonly opts: ChildLoggerOptions) {}

  private get real (): FastifyBaseLogger {
    this.#child ??= this.parent.child(this.bindings, this.opts)
    return this.#child
  }

  get level (): string { return this.#child?.level ?? this.opts.level ?? this.parent.level }
  set level (level: string) { this.real.level = level }

  fatal (...args: unknown[]): void { (this.real.fatal as LogMethod)(...args) }
  error (...args: unknown[]): void { (this.real.error as LogMethod)(...args) }
  warn (...args: unknown[]): void { (this.real.warn as LogMethod)(...args) }
  info (...args: unknown[]): void { (this.real.info as LogMethod)(...args) }
  debug (...args: unknown[]): void { (this.real.debug as LogMethod)(...args) }
  trace (...args: unknown[]): void { (this.real.trace as LogMethod)(...args) }
  silent (): void {}
  child (bindings: Bindings, opts?: ChildLoggerOptions): FastifyBaseLogger { return this.real.child(bindings, opts) }
}

/**
 * Fastify's `childLoggerFactory` (server option): every request gets a {@link LazyChildLogger},
 * so `request.log` costs a pino child only when the request logs.
 */
export const lazyChildLoggerFactory: FastifyChildLoggerFactory = (logger, bindings, opts) =>
  new LazyChildLogger(logger, bindings, opts) as unknown as FastifyBaseLogger
