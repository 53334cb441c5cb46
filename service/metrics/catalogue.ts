/**
 * The service's metric catalogue: the plugin's generic metrics (fastify-statsd-red: HTTP RED,
 * runtime gauges, `service.info`) and the service's own, declared with `defineMetrics` as any
 * application declares its metrics: the items cache and the Redis commands.
 *
 * `scripts/generate.ts` writes `etc/statsd/mapping.yml` from {@link SERVICE_METRICS} through the
 * plugin's `renderMapping`, and a test checks it for drift. The code records the declared metrics
 * through a typed recorder (`recorder(fastify.metrics, SERVICE_METRICS)`, see plugins/store.ts),
 * so a metric that is not declared cannot be sent.
 */
import { PLUGIN_METRICS, defineMetrics, type MetricDefinition } from 'fastify-statsd-red'
import { COMMAND_NAMES } from '../repositories/command-names.js'

export { GLOBAL_TAGS, LATENCY_OBJECTIVE_SECONDS, UNMATCHED_ROUTE, seriesNames, type MetricDefinition } from 'fastify-statsd-red'

/** Redis command buckets (seconds): a healthy command takes well under a millisecond on loopback. */
const REDIS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const

/** The service's own metrics: what the plugin cannot know (the cache, Redis). */
export const SERVICE_METRICS = defineMetrics({
  cacheLookups: {
    statsd: 'cache.lookups',
    type: 'counter',
    tags: { result: ['hit', 'miss'] },
    prometheus: 'cache_lookups_total',
    unit: 'lookups',
    help: 'Item cache lookups, by result (hit or miss).'
  },
  redisCommandDuration: {
    statsd: 'redis.command.duration',
    type: 'timer',
    tags: { command: COMMAND_NAMES },
    prometheus: 'redis_command_duration_seconds',
    unit: 'seconds',
    help: 'Redis command round trip as seen by the service, including failed commands.',
    buckets: REDIS_BUCKETS
  },
  redisCommandErrors: {
    statsd: 'redis.command.errors',
    type: 'counter',
    tags: { command: COMMAND_NAMES },
    prometheus: 'redis_command_errors_total',
    unit: 'errors',
    help: 'Redis commands that failed (timeout, connection down, error reply).'
  },
  redisConnectionUp: {
    statsd: 'redis.connection.up',
    type: 'gauge',
    tags: {},
    prometheus: 'redis_connection_up',
    unit: 'boolean',
    help: '1 when the service has a ready connection to Redis, 0 otherwise.'
  }
})

/** Every metric the service emits, by the name the code uses: the plugin's and the service's. */
export const METRICS = { ...PLUGIN_METRICS, ...SERVICE_METRICS }

export type MetricKey = keyof typeof METRICS

/** Every metric the service emits, as a list: the plugin's first, then the service's. */
export const ALL_METRICS: readonly MetricDefinition[] = Object.values(METRICS)
