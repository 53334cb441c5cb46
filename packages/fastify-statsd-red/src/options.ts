import { hostname } from 'node:os'
import type { FastifyBaseLogger } from 'fastify'
import type { MetricsSink } from './sink.js'

/** Options of the plugin. Every one is optional; defaults are in {@link DEFAULTS}. */
export interface FastifyStatsdRedOptions {
  /** StatsD (statsd_exporter) host: a name or an address, looked up once and cached 60 s. Default `127.0.0.1`. */
  host?: string
  /** StatsD UDP port. Default `9125` (statsd_exporter's). */
  port?: number
  /** The `service` tag on every metric: the dashboard's and the rules' `service` label. Default `fastify`. */
  service?: string
  /** The `instance` tag on every metric, one per replica. Default: the host name. */
  instance?: string
  /** Extra tags on every metric, after `service` and `instance` (values from closed sets: a region, a tier). Default none. */
  tags?: Readonly<Record<string, string>>
  /** Everything pending is sent at least this often, in milliseconds. Default `1000`. */
  flushIntervalMs?: number
  /** Largest datagram sent, in bytes: keep it below the path MTU (1432 fits a 1500-byte Ethernet MTU with IPv6/UDP headers). Default `1432`, at least 128. */
  maxDatagramBytes?: number
  /** How often runtime gauges are sampled, in milliseconds; `0` turns them off. Default `5000`. */
  runtimeIntervalMs?: number
  /** The `version` tag of `service.info` (your app's version). Default `unknown`. */
  version?: string
  /** Route templates (as registered, e.g. `/health/live`) left out of the HTTP metrics. Default none. */
  excludeRoutes?: readonly string[]
  /** Where send failures are logged (`warn`, at most once per `errorLogIntervalMs`). Default: the Fastify instance's logger. */
  logger?: Pick<FastifyBaseLogger, 'warn'>
  /** Milliseconds between two error log lines; the suppressed count is in the next line. Default `10000`. */
  errorLogIntervalMs?: number
  /** Gets every rate-limited send failure instead of `logger`. */
  onError?: (err: Error) => void
  /** Measure HTTP responses (`false`: only runtime and declared metrics). Default `true`. */
  http?: boolean
  /** A sink to use instead of the UDP one (tests, benchmarks); the plugin still closes it. */
  sink?: MetricsSink
}

/** The defaults of {@link FastifyStatsdRedOptions}. */
export const DEFAULTS = {
  host: '127.0.0.1',
  port: 9125,
  service: 'fastify',
  flushIntervalMs: 1000,
  maxDatagramBytes: 1432,
  runtimeIntervalMs: 5000,
  version: 'unknown',
  errorLogIntervalMs: 10_000
} as const

/** The options after defaults and checks. */
export interface CheckedOptions {
  host: string
  port: number
  globalTags: Record<string, string>
  flushIntervalMs: number
  maxDatagramBytes: number
  runtimeIntervalMs: number
  version: string
  excludeRoutes: readonly string[]
  errorLogIntervalMs: number
  http: boolean
}

/** A tag value StatsD can carry: no `,` `|` `#` `:` or white space (they delimit DogStatsD tags). */
const TAG_VALUE = /^[^,|#:\s]+$/
const TAG_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

function fail (option: string, detail: string, value: unknown): never {
  throw new TypeError(`fastify-statsd-red: option ${option} ${detail}, got ${JSON.stringify(value)}`)
}

function integer (option: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(option, `must be an integer from ${min} to ${max}`, value)
  return value as number
}

function tagValue (option: string, value: unknown): string {
  if (typeof value !== 'string' || !TAG_VALUE.test(value)) fail(option, 'must be a non-empty string without , | # : or white space', value)
  return value as string
}

/**
 * Applies the defaults and checks every option.
 * @throws {TypeError} naming the option and the value given.
 */
export function checkOptions (o: FastifyStatsdRedOptions): CheckedOptions {
  const host = o.host ?? DEFAULTS.host
  if (typeof host !== 'string' || host === '') fail('host', 'must be a non-empty string', host)
  const globalTags: Record<string, string> = {
    service: tagValue('service', o.service ?? DEFAULTS.service),
    instance: tagValue('instance', o.instance ?? hostname())
  }
  for (const [name, value] of Object.entries(o.tags ?? {})) {
    if (!TAG_NAME.test(name)) fail('tags', `has a key that is not a Prometheus label name (${name})`, name)
    if (name in globalTags) fail('tags', `must not set ${name} (use the ${name} option)`, name)
    globalTags[name] = tagValue(`tags.${name}`, value)
  }
  const excludeRoutes = o.excludeRoutes ?? []
  if (!Array.isArray(excludeRoutes) || excludeRoutes.some((r) => typeof r !== 'string')) fail('excludeRoutes', 'must be an array of route templates', excludeRoutes)
  if (o.onError !== undefined && typeof o.onError !== 'function') fail('onError', 'must be a function', typeof o.onError)
  if (o.logger !== undefined && typeof o.logger?.warn !== 'function') fail('logger', 'must have a warn() method', typeof o.logger)
  if (o.sink !== undefined && typeof o.sink?.response !== 'function') fail('sink', 'must be a MetricsSink', typeof o.sink)
  if (o.http !== undefined && typeof o.http !== 'boolean') fail('http', 'must be a boolean', o.http)
  const version = o.version ?? DEFAULTS.version
  return {
    host,
    port: integer('port', o.port ?? DEFAULTS.port, 1, 65535),
    globalTags,
    flushIntervalMs: integer('flushIntervalMs', o.flushIntervalMs ?? DEFAULTS.flushIntervalMs, 1),
    maxDatagramBytes: integer('maxDatagramBytes', o.maxDatagramBytes ?? DEFAULTS.maxDatagramBytes, 128, 65507),
    runtimeIntervalMs: integer('runtimeIntervalMs', o.runtimeIntervalMs ?? DEFAULTS.runtimeIntervalMs, 0),
    version: tagValue('version', version),
    excludeRoutes,
    errorLogIntervalMs: integer('errorLogIntervalMs', o.errorLogIntervalMs ?? DEFAULTS.errorLogIntervalMs, 0),
    http: o.http ?? true
  }
}
