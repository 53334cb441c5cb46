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
 * Resolves when the client is ready; otherwise disconnects it (so no reconnect loop outlives a
 * failed start) and throws.
 * @param timeoutMs how long to wait (REDIS_START_TIMEOUT_MS).
 * @throws {Error} naming the variable, when Redis is not ready in time.
 */
async function waitUntilReady (client: Redis, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs)
    client.once('ready', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
  if (!ready) {
    client.disconnect()
    throw new Error(`Redis was not ready within REDIS_START_TIMEOUT_MS=${timeoutMs} ms and REDIS_WAIT_AT_START is true`)
  }
}

/**
 * The Redis connection, as a plugin. Decorates `redis` (an ioredis client) and closes it in
 * `onClose` (QUIT when connected, disconnect otherwise, so shutdown never waits on a dead Redis).
 * The connection's state changes are logged once each: `redis connection ready` (info),
 * `redis connection down; retrying in the background` (warn), and at shutdown `redis connection
 * closed` (info: the close that follows the service's own QUIT is not an outage).
 *
 * With REDIS_WAIT_AT_START, start-up waits up to REDIS_START_TIMEOUT_MS for the connection and
 * fails with a message naming the variables; the ready client is then handed to @fastify/redis.
 * Otherwise the client is decorated directly and the service starts at once (readiness answers
 * 503 until Redis is up): @fastify/redis's registration always waits for Redis, with no way to
 * skip the wait, which is why this path decorates by itself.
 */
async function redisPlugin (fastify: FastifyInstance, opts: { config: Config }): Promise<void> {
  const client = new Redis(opts.config.redisUrl, redisOptions(opts.config))
  // One log line per change between up and down: a reconnect loop emits 'error' and 'close' on
  // every attempt, which must not become a warning per second for the whole outage.
  let up: boolean | undefined
  // Set in onClose: the connection then closes because the service QUITs it, which is no outage.
  let closing = false
  const setUp = (next: boolean, err?: Error): void => {
    if (next === up) return
    up = next
    if (next) fastify.log.info('redis connection ready')
    else if (closing) fastify.log.info('redis connection closed')
    else fastify.log.warn({ err }, 'redis connection down; retrying in the background')
  }
  client.on('ready', () => setUp(true))
  client.on('error', (err: Error) => setUp(false, err))
  client.on('close', () => setUp(false))

  if (opts.config.redisWaitAtStart) {
    await waitUntilReady(client, opts.config.redisStartTimeoutMs)
    await fastify.register(fastifyRedis, { client, closeClient: false })
  } else {
    // Same shape as @fastify/redis's decorator (without namespaces, which we do not use).
    fastify.decorate('redis', client as unknown as FastifyInstance['redis'])
  }
  fastify.addHook('onClose', async () => {
    closing = true
    if (client.status === 'ready') {
      await client.quit().catch(() => client.disconnect())
    } else {
      client.disconnect()
    }
  })
}

export default fp(redisPlugin, { name: 'redis', fastify: '5.x' })
