import type { RedisCommands } from './redis-commands.js'

/** Redis key of the hit counter; items live under ITEM_PREFIX, so the two never collide. */
export const HITS_KEY = 'counter:hits'

/** The classic compose hit counter. */
export class HitCounter {
  constructor (private readonly commands: RedisCommands) {}

  /**
   * Increments the counter with INCR and returns the new value (acknowledged by Redis).
   * @throws {DependencyUnavailableError} when Redis fails.
   */
  increment (): Promise<number> {
    return this.commands.run('incr', (redis) => redis.incr(HITS_KEY))
  }
}
