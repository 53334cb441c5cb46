import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Bindings, ChildLoggerOptions, FastifyChildLoggerFactory } from 'fastify/types/logger.js'

type LogMethod = (...args: unknown[]) => void

/**
 * Fastify's per-request log lines only with ACCESS_LOG=true: `incoming request` and `request
 * completed` are each a pino line with the request or reply serialized, together more instructions
 * per request than every plugin of the service (docs/performance.md). A request that failed
 * while its response was sent (`request errored`) and the framework's other error lines
 * (stream, serializer, writeHead errors) are logged either way.
 */
export class AccessLogController extends LogController {
  constructor (private readonly accessLog: boolean) {
    super()
  }

  override incomingRequest (request: FastifyRequest, reply: FastifyReply): void {
    if (this.accessLog) super.incomingRequest(request, reply)
  }

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.accessLog || (error !== null && error !== undefined)) super.requestCompleted(error, request, reply)
  }
}

/**
 * A request's logger that becomes a pino child (with the request's `reqId` binding) on its first
 * use. Fastify makes one child logger per request; with ACCESS_LOG off most requests never log,
 * and building the child (bindings serialized, formatters rebuilt) is work a request that never
 * logs does not need (docs/performance.md measures the cost of both ways). A line logged through it is the line the child would write.
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
