import fp from 'fastify-plugin'
import fastifyRedis from '@fastify/redis'
import { Redis, type RedisOptions } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config.js'

/**
 * ioredis options that bound every request's wait on Redis.
 *
 * - `commandTimeout`: a command unanswered after REDIS_COMMAND_TIMEOUT_MS rejects (route: 503).
 * - `enableOfflineQueue: false`: while disconnected a command fails at once instead of queueing,
 *   so a request never waits for a reconnect and nothing runs later that was answered 503.
 * - `autoResendUnfulfilledCommands: false`: for the same reason, nothing is replayed after a
 *   reconnect.
 * - `retryStrategy`: reconnect forever, backing off to 2 s, so the service recovers by itself.
 */
export function redisOptions (config: Config): RedisOptions {
  return {
    commandTimeout: config.redisCommandTimeoutMs,
    connectTimeout: config.redisConnectTimeoutMs,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times: number) => Math.min(times * 100, 2000),
    lazyConnect: false
  }
}

/**
 * The Redis connection, as a plugin. Decorates `redis` (an ioredis client) and closes it in
 * `onClose` (QUIT when connected, disconnect otherwise, so shutdown never waits on a dead Redis).
 *
 * With REDIS_WAIT_AT_START the client is handed to @fastify/redis, whose registration waits for
 * the connection to be ready: start-up fails after Fastify's plugin timeout when Redis is absent.
 * Otherwise the client is decorated directly and the service starts at once; @fastify/redis
 * offers no way to skip that wait, which is why both paths exist.
 */
async function redisPlugin (fastify: FastifyInstance, opts: { config: Config }): Promise<void> {
  const client = new Redis(opts.config.redisUrl, redisOptions(opts.config))
  let lastState = ''
  const logState = (state: string, err?: Error): void => {
    if (state === lastState) return
    lastState = state
    if (state === 'ready') fastify.log.info('redis connection ready')
    else fastify.log.warn({ err }, `redis connection ${state}`)
  }
  client.on('ready', () => logState('ready'))
  client.on('error', (err: Error) => logState('error', err))
  client.on('close', () => logState('closed'))

  if (opts.config.redisWaitAtStart) {
    await fastify.register(fastifyRedis, { client, closeClient: false })
  } else {
    // Same shape as @fastify/redis's decorator (without namespaces, which we do not use).
    fastify.decorate('redis', client as unknown as FastifyInstance['redis'])
  }
  fastify.addHook('onClose', async () => {
    if (client.status === 'ready') {
      await client.quit().catch(() => client.disconnect())
    } else {
      client.disconnect()
    }
  })
}

export default fp(redisPlugin, { name: 'redis', fastify: '5.x' })
