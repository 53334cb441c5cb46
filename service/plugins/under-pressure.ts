import fp from 'fastify-plugin'
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { PLUGIN_NAME } from 'fastify-statsd-red'
import type { Config } from '../config.js'

/** Options of the overload plugin; app.ts passes them from the config with {@link overloadOptions}. */
export interface OverloadOptions {
  /**
   * Mean event-loop delay over one sample above which requests are shed, in milliseconds
   * (OVERLOAD_MAX_EVENT_LOOP_DELAY_MS). 0 switches this check off.
   */
  maxEventLoopDelayMs: number
  /**
   * Event-loop utilization over one sample (0..1) above which requests are shed
   * (OVERLOAD_MAX_EVENT_LOOP_UTILIZATION). 0 switches this check off, and is the default: writing
   * 503s keeps the loop as busy as serving, so under a closed-loop burst this check never lets go
   * (docs/reliability.md "Overload", scripts/bench/overload.ts).
   */
  maxEventLoopUtilization: number
  /** How often the event loop is sampled, in milliseconds (OVERLOAD_SAMPLE_INTERVAL_MS). */
  sampleIntervalMs: number
  /**
   * `Retry-After` of a shed request, in seconds. Default: two sample intervals, rounded up,
   * because the shedding decision can change no sooner than the next sample.
   */
  retryAfterSeconds?: number
}

/** The plugin options a config asks for (OVERLOAD_* variables, see config.ts). */
export function overloadOptions (config: Config): OverloadOptions {
  return {
    maxEventLoopDelayMs: config.overloadMaxEventLoopDelayMs,
    maxEventLoopUtilization: config.overloadMaxEventLoopUtilization,
    sampleIntervalMs: config.overloadSampleIntervalMs
  }
}

/** The message of every 503 the plugin sends (ErrorResponse shape). */
export const OVERLOAD_MESSAGE = 'service overloaded: retry later'

/**
 * Liveness stays exempt: an overloaded process is still alive, and restarting it would drop
 * its in-flight requests without removing the cause. Were the loop truly stuck, the probe
 * would get no answer at all and the orchestrator's probe timeout would catch that.
 */
export const EXEMPT_ROUTES: ReadonlySet<string> = new Set(['/health/live'])

/**
 * Readiness answers 503 in its own body shape (routes/health.ts), so a balancer stops sending
 * traffic while the process drains its backlog; it turns 200 again at the first calm sample.
 */
export const READINESS_ROUTE = '/health/ready'

/** At most one "shedding" warning per this many milliseconds; the count in between is logged. */
export const SHED_LOG_INTERVAL_MS = 10_000

function check (condition: boolean, option: string, detail: string): void {
  if (!condition) throw new TypeError(`under-pressure option ${option} ${detail}`)
}

/**
 * Load shedding, as a plugin around @fastify/under-pressure: every OVERLOAD_SAMPLE_INTERVAL_MS
 * it samples the mean event-loop delay and the event-loop utilization of that interval; while
 * either is above its threshold, a request is answered at once (in `onRequest`, before any
 * parsing or Redis work) with 503, a `Retry-After` header and the ErrorResponse body
 * `{statusCode: 503, error: 'Service Unavailable', message}`. Latency then stays bounded instead
 * of growing with the backlog. `/health/live` is exempt; `/health/ready` answers
 * `{status: 'unavailable'}` with 503.
 *
 * Register it after fastify-statsd-red (the HTTP metrics), so a shed request is counted (status 503, its route
 * template) and the in-flight gauge stays balanced. Shedding is logged as a warning, at most
 * once per {@link SHED_LOG_INTERVAL_MS}, with the number of requests shed since the last line.
 *
 * @throws {TypeError} naming the option when an option is out of range.
 */
async function overloadPlugin (fastify: FastifyInstance, opts: OverloadOptions): Promise<void> {
  const { maxEventLoopDelayMs, maxEventLoopUtilization, sampleIntervalMs } = opts
  check(Number.isInteger(maxEventLoopDelayMs) && maxEventLoopDelayMs >= 0, 'maxEventLoopDelayMs', 'must be a whole number of milliseconds >= 0')
  check(maxEventLoopUtilization >= 0 && maxEventLoopUtilization <= 1, 'maxEventLoopUtilization', 'must be between 0 and 1')
  check(Number.isInteger(sampleIntervalMs) && sampleIntervalMs >= 10, 'sampleIntervalMs', 'must be a whole number of milliseconds >= 10')
  const retryAfter = opts.retryAfterSeconds ?? Math.max(1, Math.ceil((2 * sampleIntervalMs) / 1000))
  check(Number.isInteger(retryAfter) && retryAfter >= 1, 'retryAfterSeconds', 'must be a whole number of seconds >= 1')

  let lastLog = -Infinity
  let shed = 0
  const logShedding = (type: string, value: number | undefined): void => {
    shed++
    const now = Date.now()
    if (now - lastLog < SHED_LOG_INTERVAL_MS) return
    fastify.log.warn({ pressure: type, value, shed }, 'overloaded: answering 503 until the event loop recovers')
    lastLog = now
    shed = 0
  }

  // A non-nullish return value is sent by @fastify/under-pressure with reply.send (documented
  // in its README); undefined lets the request through. Its typings only allow void, hence
  // the wider signature here.
  const pressureHandler = (request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined): object | undefined => {
    const route = request.routeOptions.url
    if (route !== undefined && EXEMPT_ROUTES.has(route)) return undefined
    logShedding(type, value)
    reply.code(503).header('retry-after', String(retryAfter))
    if (route === READINESS_ROUTE) return { status: 'unavailable' }
    return { statusCode: 503, error: 'Service Unavailable', message: OVERLOAD_MESSAGE }
  }

  await fastify.register(underPressure, {
    maxEventLoopDelay: maxEventLoopDelayMs,
    maxEventLoopUtilization,
    // Utilization of the last interval, not since start-up (the library's default), so the
    // check reacts to a burst and recovers when it ends.
    eventLoopUtilizationMode: 'interval',
    sampleInterval: sampleIntervalMs,
    retryAfter,
    pressureHandler: pressureHandler as NonNullable<underPressure.FastifyUnderPressureOptions['pressureHandler']>
  })
}

export default fp(overloadPlugin, { name: 'overload', fastify: '5.x', dependencies: [PLUGIN_NAME] })
