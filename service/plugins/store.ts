import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { ItemStore } from '../repositories/items.js'
import { HitCounter } from '../repositories/hits.js'
import { RedisCommands } from '../repositories/redis-commands.js'
import { PLUGIN_NAME } from 'fastify-statsd-red'
import { serviceRecorder, type ServiceRecorder } from '../metrics/recorder.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Items API storage; see service/repositories/items.ts. */
    items: ItemStore
    /** The hit counter; see service/repositories/hits.ts. */
    hits: HitCounter
    /** Instrumented Redis commands shared by the repositories and the readiness check. */
    redisCommands: RedisCommands
    /** The service's declared metrics (cache, Redis), recorded through the plugin's sink. */
    serviceMetrics: ServiceRecorder
  }
}

/**
 * The repositories, as a plugin: every Redis command the service runs goes through them. It also
 * sets up the service's declared metrics and samples `redis.connection.up` with the plugin's
 * runtime gauges.
 */
async function storePlugin (fastify: FastifyInstance): Promise<void> {
  const metrics = serviceRecorder(fastify.metrics)
  fastify.decorate('serviceMetrics', metrics)
  const commands = new RedisCommands(fastify.redis, metrics)
  const connectionUp = metrics.redisConnectionUp.with({})
  fastify.addMetricsSampler(() => { connectionUp.record(commands.connected ? 1 : 0) })
  fastify.decorate('redisCommands', commands)
  fastify.decorate('items', new ItemStore(commands))
  fastify.decorate('hits', new HitCounter(commands))
}

export default fp(storePlugin, { name: 'store', fastify: '5.x', dependencies: ['redis', PLUGIN_NAME] })
