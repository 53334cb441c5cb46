import type { Redis } from 'ioredis'
import { DependencyUnavailableError } from '../errors.js'
import type { Series } from 'fastify-statsd-red'
import type { ServiceRecorder } from '../metrics/recorder.js'
import { COMMAND_NAMES, type CommandName } from './command-names.js'

export type { CommandName } from './command-names.js'

/** The two series one command records into. */
interface CommandSeries { duration: Series, errors: Series }

/**
 * Runs Redis commands with a measurement around each one.
 *
 * Every command's round trip is recorded as `redis.command.duration{command}` and every failure
 * as `redis.command.errors{command}`. Failures (connection down, command timeout, an error reply
 * such as LOADING while Redis replays its append-only file) become a
 * {@link DependencyUnavailableError}, which the error handler answers with 503.
 */
export class RedisCommands {
  private readonly series: Record<CommandName, CommandSeries>

  constructor (readonly client: Redis, metrics: ServiceRecorder) {
    // Looked up once per command here, so a command's measurement costs no tag lookup.
    this.series = Object.fromEntries(COMMAND_NAMES.map((command) => [command, {
      duration: metrics.redisCommandDuration.with({ command }),
      errors: metrics.redisCommandErrors.with({ command })
    }])) as Record<CommandName, CommandSeries>
  }

  /**
   * Runs `fn` as the Redis command `command`.
   * @throws {DependencyUnavailableError} when the command fails or times out.
   */
  async run<T> (command: CommandName, fn: (client: Redis) => Promise<T>): Promise<T> {
    const start = performance.now()
    try {
      const result = await fn(this.client)
      this.series[command].duration.record(performance.now() - start)
      return result
    } catch (err) {
      const series = this.series[command]
      series.duration.record(performance.now() - start)
      series.errors.record(1)
      throw new DependencyUnavailableError('redis', err)
    }
  }

  /** True when the client holds a ready connection (the `redis.connection.up` gauge). */
  get connected (): boolean {
    return this.client.status === 'ready'
  }
}
