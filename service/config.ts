import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'

/**
 * Service configuration. This module is the only reader of `process.env`.
 *
 * Every value has a default suitable for running next to a local `redis-server` and
 * statsd_exporter. An invalid value throws a {@link ConfigError} naming the variable, so the
 * process stops at start-up instead of misbehaving later.
 */
export interface Config {
  /** PORT: TCP port the HTTP server listens on (default 8080). */
  readonly port: number
  /** HOST: address to bind (default 0.0.0.0, every interface). */
  readonly host: string
  /** LOG_LEVEL: pino level (default info). */
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  /**
   * ACCESS_LOG: true writes Fastify's two `info` lines per request (`incoming request`,
   * `request completed` with status and response time); default false, because they cost more per
   * request than the whole instrumentation (docs/performance.md). Errors are logged either way.
   */
  readonly accessLog: boolean
  /** SERVICE_NAME: the `service` tag on every metric (default fastify-monitoring). */
  readonly serviceName: string
  /** SERVICE_INSTANCE: the `instance` tag on every metric (default: host name). */
  readonly serviceInstance: string
  /**
   * REDIS_URL: redis:// or rediss:// URL, may carry a password (default redis://127.0.0.1:6379).
   * With REDIS_PASSWORD_FILE set, the password read from that file is put into this URL.
   */
  readonly redisUrl: string
  /** REDIS_COMMAND_TIMEOUT_MS: a Redis command failing past this answers 503 (ms, default 500). */
  readonly redisCommandTimeoutMs: number
  /** REDIS_CONNECT_TIMEOUT_MS: one TCP connect attempt to Redis (ms, default 2000). */
  readonly redisConnectTimeoutMs: number
  /**
   * REDIS_WAIT_AT_START: true makes start-up wait for Redis and fail with a clear message after
   * REDIS_START_TIMEOUT_MS; false (default) starts at once, readiness answers 503 until Redis is
   * reachable.
   */
  readonly redisWaitAtStart: boolean
  /** REDIS_START_TIMEOUT_MS: with REDIS_WAIT_AT_START, how long start-up waits (ms, default 10000). */
  readonly redisStartTimeoutMs: number
  /** STATSD_HOST: where StatsD datagrams go (default 127.0.0.1). */
  readonly statsdHost: string
  /** STATSD_PORT: UDP port of statsd_exporter (default 9125). */
  readonly statsdPort: number
  /** METRICS_FLUSH_INTERVAL_MS: how often buffered metrics are sent (ms, default 1000). */
  readonly metricsFlushIntervalMs: number
  /** STATSD_MAX_DATAGRAM_BYTES: largest datagram sent; below the path MTU (default 1432). */
  readonly statsdMaxDatagramBytes: number
  /** RUNTIME_METRICS_INTERVAL_MS: how often runtime gauges are sampled (ms, default 5000). */
  readonly runtimeMetricsIntervalMs: number
  /** DEMO_ROUTES: register the /demo routes (default true). */
  readonly demoRoutes: boolean
  /** SHUTDOWN_TIMEOUT_MS: graceful shutdown bound before a forced exit (ms, default 10000). */
  readonly shutdownTimeoutMs: number
  /**
   * OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: mean event-loop delay over one sample above which
   * requests are answered 503 (ms, default 1000, 0 switches the check off).
   */
  readonly overloadMaxEventLoopDelayMs: number
  /**
   * OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: event-loop utilization over one sample (0..1) above
   * which requests are answered 503 (default 0: off). Off because it feeds itself: answering the
   * 503s keeps the loop busy, so under a closed-loop burst utilization stays at 1 and shedding
   * never stops while the burst lasts (scripts/bench/overload.ts, docs/reliability.md "Overload").
   */
  readonly overloadMaxEventLoopUtilization: number
  /** OVERLOAD_SAMPLE_INTERVAL_MS: how often the overload checks sample the loop (ms, default 1000). */
  readonly overloadSampleIntervalMs: number
  /** The service version, from package.json (not configurable). */
  readonly version: string
}

/** Thrown for an invalid environment variable; the message names the variable. */
export class ConfigError extends Error {
  constructor (readonly variable: string, detail: string) {
    super(`invalid ${variable}: ${detail}`)
    this.name = 'ConfigError'
  }
}

type Env = Record<string, string | undefined>

function text (env: Env, name: string, fallback: string, pattern?: RegExp): string {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (pattern !== undefined && !pattern.test(raw)) {
    throw new ConfigError(name, `${JSON.stringify(raw)} does not match ${String(pattern)}`)
  }
  return raw
}

function integer (env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `${JSON.stringify(raw)} is not a whole number`)
  const value = Number(raw)
  if (value < min || value > max) throw new ConfigError(name, `${value} is outside ${min}..${max}`)
  return value
}

function ratio (env: Env, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^(0(\.\d+)?|1(\.0+)?)$/.test(raw)) throw new ConfigError(name, `${JSON.stringify(raw)} is not a number from 0 to 1`)
  return Number(raw)
}

function bool (env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (/^(1|true|yes|on)$/i.test(raw)) return true
  if (/^(0|false|no|off)$/i.test(raw)) return false
  throw new ConfigError(name, `${JSON.stringify(raw)} is not a boolean (true/false, 1/0, yes/no, on/off)`)
}

/**
 * REDIS_PASSWORD_FILE: a file holding Redis's password (one line; a trailing newline is
 * dropped), as the compose stack's `secrets` service writes it, so the password is in no
 * environment variable or command line. Returns `url` with that password, percent-encoded.
 * @throws {ConfigError} naming REDIS_PASSWORD_FILE when the file cannot be read, is empty or
 *   holds more than one line, or when `url` already carries a password (which one wins would
 *   be a guess).
 */
function withPasswordFile (env: Env, url: string): string {
  const file = env.REDIS_PASSWORD_FILE
  if (file === undefined || file === '') return url
  let password: string
  try {
    password = readFileSync(file, 'utf8').replace(/\r?\n$/, '')
  } catch (err) {
    throw new ConfigError('REDIS_PASSWORD_FILE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  if (password === '' || /[\r\n]/.test(password)) throw new ConfigError('REDIS_PASSWORD_FILE', `${file} must hold the password on one line`)
  const parsed = new URL(url)
  if (parsed.password !== '') throw new ConfigError('REDIS_PASSWORD_FILE', 'REDIS_URL carries a password too: set only one of them')
  parsed.password = encodeURIComponent(password)
  return parsed.href
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** A tag value must not contain the DogStatsD separators `,`, `|`, `#` or white space. */
const TAG_VALUE = /^[A-Za-z0-9_.:/-]{1,64}$/

/**
 * Reads the configuration from an environment (default `process.env`).
 * @param env the environment to read; tests pass their own.
 * @param version the service version (default: from package.json, read by the caller).
 * @throws {ConfigError} for the first invalid variable.
 */
export function loadConfig (env: Env = process.env, version = '0.0.0'): Config {
  const logLevel = text(env, 'LOG_LEVEL', 'info')
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `${JSON.stringify(logLevel)} is not one of ${LOG_LEVELS.join(', ')}`)
  }
  const redisUrl = text(env, 'REDIS_URL', 'redis://127.0.0.1:6379')
  if (!/^rediss?:\/\/[^\s]+$/.test(redisUrl) || !URL.canParse(redisUrl)) {
    throw new ConfigError('REDIS_URL', 'expected redis://[:password@]host[:port][/db] or rediss://')
  }
  const instanceDefault = hostname().replace(/[^A-Za-z0-9_.:/-]/g, '_').slice(0, 64) || 'localhost'
  return {
    port: integer(env, 'PORT', 8080, 0, 65535),
    host: text(env, 'HOST', '0.0.0.0', /^[^\s]+$/),
    logLevel: logLevel as Config['logLevel'],
    accessLog: bool(env, 'ACCESS_LOG', false),
    serviceName: text(env, 'SERVICE_NAME', 'fastify-monitoring', TAG_VALUE),
    serviceInstance: text(env, 'SERVICE_INSTANCE', instanceDefault, TAG_VALUE),
    redisUrl: withPasswordFile(env, redisUrl),
    redisCommandTimeoutMs: integer(env, 'REDIS_COMMAND_TIMEOUT_MS', 500, 10, 60000),
    redisConnectTimeoutMs: integer(env, 'REDIS_CONNECT_TIMEOUT_MS', 2000, 10, 60000),
    redisWaitAtStart: bool(env, 'REDIS_WAIT_AT_START', false),
    redisStartTimeoutMs: integer(env, 'REDIS_START_TIMEOUT_MS', 10000, 100, 600000),
    statsdHost: text(env, 'STATSD_HOST', '127.0.0.1', /^[^\s]+$/),
    statsdPort: integer(env, 'STATSD_PORT', 9125, 1, 65535),
    metricsFlushIntervalMs: integer(env, 'METRICS_FLUSH_INTERVAL_MS', 1000, 10, 60000),
    statsdMaxDatagramBytes: integer(env, 'STATSD_MAX_DATAGRAM_BYTES', 1432, 512, 65000),
    runtimeMetricsIntervalMs: integer(env, 'RUNTIME_METRICS_INTERVAL_MS', 5000, 100, 300000),
    demoRoutes: bool(env, 'DEMO_ROUTES', true),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10000, 100, 600000),
    overloadMaxEventLoopDelayMs: integer(env, 'OVERLOAD_MAX_EVENT_LOOP_DELAY_MS', 1000, 0, 60000),
    overloadMaxEventLoopUtilization: ratio(env, 'OVERLOAD_MAX_EVENT_LOOP_UTILIZATION', 0),
    overloadSampleIntervalMs: integer(env, 'OVERLOAD_SAMPLE_INTERVAL_MS', 1000, 10, 60000),
    version
  }
}
