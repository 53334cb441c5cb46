import type { RedisCommands } from './redis-commands.js'

/**
 * Every item key is stored as ITEM_PREFIX + key. Keys reach here only after schema validation
 * (1-128 characters of `[A-Za-z0-9._:-]`), so no input can leave the namespace or contain a glob.
 */
export const ITEM_PREFIX = 'item:'

/** One item as the API shows it. */
export interface Item {
  key: string
  value: string
}

/** One page of a listing; `nextCursor` is null when the scan is complete. */
export interface ItemPage {
  items: Item[]
  nextCursor: string | null
}

/** Items API storage on Redis strings under {@link ITEM_PREFIX}. */
export class ItemStore {
  constructor (private readonly commands: RedisCommands) {}

  /**
   * Stores an item, replacing any previous value (and its TTL).
   * Uses `SET key value [EX ttl] GET`, one atomic command that also tells whether the key existed.
   * @param ttlSeconds expiry in seconds, or undefined for none.
   * @returns true when the item was created, false when it replaced one.
   * @throws {DependencyUnavailableError} when Redis fails; then nothing is acknowledged.
   */
  async put (key: string, value: string, ttlSeconds?: number): Promise<boolean> {
    const redisKey = ITEM_PREFIX + key
    const previous = await this.commands.run('set', (redis) => ttlSeconds === undefined
      ? redis.set(redisKey, value, 'GET')
      : redis.set(redisKey, value, 'EX', ttlSeconds, 'GET'))
    return previous === null
  }

  /**
   * Reads an item.
   * @returns the value, or null on a miss.
   * @throws {DependencyUnavailableError} when Redis fails.
   */
  get (key: string): Promise<string | null> {
    return this.commands.run('get', (redis) => redis.get(ITEM_PREFIX + key))
  }

  /**
   * Deletes an item.
   * @returns true when it existed.
   * @throws {DependencyUnavailableError} when Redis fails.
   */
  async delete (key: string): Promise<boolean> {
    const removed = await this.commands.run('del', (redis) => redis.del(ITEM_PREFIX + key))
    return removed > 0
  }

  /**
   * One page of items with SCAN (never KEYS, which blocks Redis) and MGET for their values.
   * `limit` is SCAN's COUNT hint: Redis may return somewhat more or fewer keys per page, and a
   * key may appear on two pages (SCAN's guarantee); items that expire between SCAN and MGET are
   * left out.
   * @param cursor a cursor from a previous page, "0" to start (validated by the route schema).
   * @param limit 1..100.
   * @throws {DependencyUnavailableError} when Redis fails.
   */
  async list (cursor: string, limit: number): Promise<ItemPage> {
    const [next, keys] = await this.commands.run('scan', (redis) =>
      redis.scan(cursor, 'MATCH', ITEM_PREFIX + '*', 'COUNT', limit))
    const items: Item[] = []
    if (keys.length > 0) {
      const values = await this.commands.run('mget', (redis) => redis.mget(keys))
      keys.forEach((redisKey, i) => {
        const value = values[i]
        if (value !== null && value !== undefined) items.push({ key: redisKey.slice(ITEM_PREFIX.length), value })
      })
    }
    return { items, nextCursor: next === '0' ? null : next }
  }
}
