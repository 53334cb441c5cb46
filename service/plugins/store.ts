import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { ItemStore } from '../repositories/items.js'
import { HitCounter } from '../repositories/hits.js'
import { RedisCommands } from '../repositories/redis-commands.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Items API storage; see service/repositories/items.ts. */
    items: ItemStore
    /** The hit counter; see service/repositories/hits.ts. */
    hits: HitCounter
    /** Instrumented Redis commands shared by the repositories and the readiness check. */
    redisCommands: RedisCommands
  }
}

/** The repositories, as a plugin: every Redis command the service runs goes through them. */
async function storePlugin (fastify: FastifyInstance): Promise<void> {
  const commands = new RedisCommands(fastify.redis, fastify.metrics)
  fastify.decorate('redisCommands', commands)
  fastify.decorate('items', new ItemStore(commands))
  fastify.decorate('hits', new HitCounter(commands))
}

export default fp(storePlugin, { name: 'store', fastify: '5.x', dependencies: ['redis', 'statsd'] })
