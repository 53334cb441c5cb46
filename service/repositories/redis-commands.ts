import type { Redis } from 'ioredis'
import { DependencyUnavailableError } from '../errors.js'
import type { MetricsSink } from '../metrics/sink.js'

/** The Redis commands the service runs: the closed set of `command` tag values. */
export type CommandName = 'get' | 'set' | 'del' | 'incr' | 'scan' | 'mget' | 'ping'

/**
 * Runs Redis commands with a measurement around each one.
 *
 * Every command's round trip is recorded as `redis.command.duration{command}` and every failure
 * as `redis.command.errors{command}`. Failures (connection down, command timeout, an error reply
 * such as LOADING while Redis replays its append-only file) become a
 * {@link DependencyUnavailableError}, which the error handler answers with 503.
 */
export class RedisCommands {
  constructor (readonly client: Redis, private readonly metrics: MetricsSink) {}

  /**
   * Runs `fn` as the Redis command `command`.
   * @throws {DependencyUnavailableError} when the command fails or times out.
   */
  async run<T> (command: CommandName, fn: (client: Redis) => Promise<T>): Promise<T> {
    const start = performance.now()
    try {
      const result = await fn(this.client)
      this.metrics.redisCommand(command, performance.now() - start, false)
      return result
    } catch (err) {
      this.metrics.redisCommand(command, performance.now() - start, true)
      throw new DependencyUnavailableError('redis', err)
    }
  }

  /** True when the client holds a ready connection (the `redis.connection.up` gauge). */
  get connected (): boolean {
    return this.client.status === 'ready'
  }
}
