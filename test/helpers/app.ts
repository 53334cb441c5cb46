import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../service/app.js'
import { loadConfig, type Config } from '../../service/config.js'
import type { MetricsSink } from 'fastify-statsd-red'
import { startRedis, type RedisServer, type RedisServerOptions, type TestLike } from './redis.js'
import { udpListener, type UdpListener } from './udp.js'
import { until } from './wait.js'

/** What {@link build} gives a test: the app (never listening), its Redis and its UDP receiver. */
export interface Harness {
  app: FastifyInstance
  config: Config
  redis: RedisServer
  udp: UdpListener
}

export interface BuildOptions {
  /** Environment variables on top of the test defaults. */
  env?: Record<string, string>
  /** Options for the test's own redis-server. */
  redis?: RedisServerOptions
  /** Use this sink instead of the hot-shots UDP client. */
  sink?: MetricsSink
}

/**
 * Builds the service the way server.ts does, against a real redis-server started for this
 * test and a real UDP socket on 127.0.0.1 standing in for statsd_exporter. Metrics are flushed
 * every 10 ms and runtime gauges sampled once a minute, so a test sees its own lines quickly
 * and no runtime noise. Everything is closed at teardown.
 */
export async function build (t: TestLike, opts: BuildOptions = {}): Promise<Harness> {
  const redis = await startRedis(t, opts.redis)
  const udp = await udpListener(t)
  const config = loadConfig({
    REDIS_URL: redis.url,
    STATSD_HOST: '127.0.0.1',
    STATSD_PORT: String(udp.port),
    SERVICE_NAME: 'svc',
    SERVICE_INSTANCE: 'test',
    LOG_LEVEL: 'silent',
    METRICS_FLUSH_INTERVAL_MS: '10',
    RUNTIME_METRICS_INTERVAL_MS: '60000',
    REDIS_COMMAND_TIMEOUT_MS: '300',
    // No load shedding unless a test asks for it: on a busy machine the event loop of a test
    // process can lag past any threshold, and a 503 would mask what the test checks.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0',
    ...opts.env
  }, '1.2.3')
  const app = await buildApp(config, {}, opts.sink)
  t.teardown(() => app.close())
  await app.ready()
  await until('connection to Redis', () => app.redisCommands.connected)
  // The first runtime sample is sent at onReady; tests assert on what their requests send.
  await app.metrics.flush()
  await udp.waitFor((lines) => lines.some((l) => l.startsWith('service.info:')))
  udp.clear()
  return { app, config, redis, udp }
}

/** Global tags every line ends with in tests (SERVICE_NAME=svc, SERVICE_INSTANCE=test). */
export const GLOBAL = 'service:svc,instance:test'
