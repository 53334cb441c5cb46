import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { parse } from 'yaml'
import { startLoadInChild, type Sample } from '../helpers/load.js'
import { haveRedisServer, NO_REDIS, startRedis, type RedisServer } from '../helpers/redis.js'
import { startService } from '../helpers/service-process.js'

/**
 * Durability of acknowledged writes across Redis process crashes and restarts.
 *
 * Policy (docker-compose.yml): `appendonly yes`, `appendfsync everysec`. Redis appends each
 * write to the AOF with write(2) before it replies, and fsyncs the file once a second in the
 * background. So when the service answers 201, the write is at least in the kernel's page
 * cache. What this proves: a crash of the Redis process (SIGKILL: no shutdown code runs) or a
 * clean restart loses no acknowledged write. What it cannot prove: an OS crash or power loss,
 * which can lose up to about a second (two in the worst case) of writes still only in the page
 * cache; that needs `appendfsync always` (an fsync per write) or replication, and a machine we
 * can pull the plug on.
 */

const COMPOSE = fileURLToPath(new URL('../../docker-compose.yml', import.meta.url))
const POLICY = ['--appendonly', 'yes', '--appendfsync', 'everysec']

/** The redis-server flags of docker-compose.yml that decide persistence, in pairs. */
function composePersistence (): string[] | undefined {
  if (!existsSync(COMPOSE)) return undefined
  const doc = parse(readFileSync(COMPOSE, 'utf8')) as { services?: { redis?: { command?: string[] | string } } }
  const command = doc.services?.redis?.command
  const args = Array.isArray(command) ? command.map(String) : String(command ?? '').split(/\s+/)
  const out: string[] = []
  for (const flag of ['--appendonly', '--appendfsync', '--save']) {
    const i = args.indexOf(flag)
    if (i !== -1) out.push(flag, args[i + 1] ?? '')
  }
  return out
}

const skip = haveRedisServer() ? false : NO_REDIS

t.test('docker-compose.yml runs Redis with the persistence this file proves', { skip: existsSync(COMPOSE) ? false : 'docker-compose.yml is not in the repository yet: nothing to compare the policy with' }, async (t) => {
  const flags = composePersistence() ?? []
  t.equal(flags[flags.indexOf('--appendonly') + 1], 'yes', 'append-only file on')
  t.equal(flags[flags.indexOf('--appendfsync') + 1], 'everysec', 'fsync every second')
})

/** Reads every key (with the `item:` prefix) in batches; missing ones come back null. */
async function readAll (redis: RedisServer, keys: string[]): Promise<Map<string, string | null>> {
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await client.connect()
  const out = new Map<string, string | null>()
  try {
    for (let i = 0; i < keys.length; i += 500) {
      const batch = keys.slice(i, i + 500)
      const values = await client.mget(batch.map((k) => `item:${k}`))
      batch.forEach((k, j) => out.set(k, values[j] ?? null))
    }
  } finally {
    client.disconnect()
  }
  return out
}

/** Keys whose stored value differs from the acknowledged one (missing or changed). */
function lost (acked: Map<string, string>, stored: Map<string, string | null>): string[] {
  return [...acked].filter(([k, v]) => stored.get(k) !== v).map(([k]) => k)
}

t.test('every write acknowledged with 2xx survives Redis SIGKILL and clean restarts', { skip }, async (t) => {
  const redis = await startRedis(t, { args: POLICY })
  const svc = await startService(t, {
    env: { REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '500', REDIS_CONNECT_TIMEOUT_MS: '500', STATSD_PORT: '9', LOG_LEVEL: 'warn' }
  })

  // Writes at 150/s; Redis is killed mid-stream (in-flight writes get 503) and restarted. Each
  // step waits for what the load has done, so the outage falls inside the load however long
  // its process takes to start: 300 writes acknowledged, then 30 answered 503 while Redis is
  // away, then 150 acknowledged again after the restart.
  const load = startLoadInChild({ url: svc.url, rate: 150, durationMs: 120_000, maxInFlight: 64, timeoutMs: 10_000, mix: ['put'], keyPrefix: 'durable' })
  const acknowledged = (s: Sample): boolean => s.status >= 200 && s.status < 300
  await load.until('300 acknowledged writes', (a) => a.filter(acknowledged).length >= 300)
  await redis.stop('SIGKILL')
  const killedAt = Date.now()
  await load.until('30 writes answered 503 after the kill', (a) => a.filter((s) => s.status === 503 && s.end >= killedAt).length >= 30)
  await redis.start()
  const restartedAt = Date.now()
  await load.until('150 writes acknowledged after the restart', (a) => a.filter((s) => acknowledged(s) && s.start >= restartedAt).length >= 150)
  load.stop()
  const { samples } = await load.result
  // Killed again right after the last acknowledgement: the newest writes are at most a few
  // milliseconds old, certainly not yet fsynced (everysec), only written to the page cache.
  await redis.stop('SIGKILL')

  const acked = new Map(samples.filter((s) => s.status >= 200 && s.status < 300).map((s) => [s.key as string, s.value as string]))
  const unknown = samples.filter((s) => s.status === 503)
  t.ok(acked.size > 300, `${acked.size} writes acknowledged`)
  t.ok(unknown.length > 0, `${unknown.length} writes answered 503 while Redis was down (not acknowledged)`)
  t.same(samples.filter((s) => s.status !== 201 && s.status !== 503).map((s) => `${s.status} ${s.error ?? ''}`), [], 'every write got 201 or 503')

  await redis.start()
  let stored = await readAll(redis, [...acked.keys()])
  t.same(lost(acked, stored), [], `after SIGKILL + restart (AOF replay): all ${acked.size} acknowledged writes present with their exact values`)
  const appliedAnyway = unknown.filter((s) => stored.get(s.key as string) !== null && stored.get(s.key as string) !== undefined)
  t.comment(`${appliedAnyway.length} of the ${unknown.length} writes answered 503 were applied anyway (Redis died after applying, before replying): 503 means "unknown", never "acknowledged"`)

  // A clean restart (SIGTERM: Redis fsyncs and closes the AOF) keeps everything too.
  await redis.stop('SIGTERM')
  await redis.start()
  stored = await readAll(redis, [...acked.keys()])
  t.same(lost(acked, stored), [], 'after a clean restart: all acknowledged writes present')
  t.ok(svc.alive(), 'the service rode through both restarts')
})

t.test('kill -9 right after the acknowledgement loses nothing (the AOF write precedes the reply)', { skip }, async (t) => {
  const redis = await startRedis(t, { args: POLICY })
  const svc = await startService(t, {
    env: { REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '500', REDIS_CONNECT_TIMEOUT_MS: '500', STATSD_PORT: '9', LOG_LEVEL: 'warn' }
  })
  const acked = new Map<string, string>()
  for (let round = 0; round < 5; round++) {
    // Wait until the service is connected again after the previous round's restart.
    let res: Response | undefined
    const deadline = Date.now() + 10_000
    const key = `instant-${round}`
    const value = `v-${round}-${Date.now()}`
    while (Date.now() < deadline) {
      res = await fetch(`${svc.url}/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, value }) })
      if (res.status === 201) break
      await res.arrayBuffer()
      await sleep(100)
    }
    t.equal(res?.status, 201, `round ${round}: write acknowledged`)
    // No await between the acknowledgement and the kill.
    const killed = redis.stop('SIGKILL')
    acked.set(key, value)
    await killed
    await redis.start()
  }
  const stored = await readAll(redis, [...acked.keys()])
  t.same(lost(acked, stored), [], 'all 5 acknowledged writes survived an immediate SIGKILL')
})

t.test('control: without the append-only file the same SIGKILL loses the write, so the check above can fail', { skip }, async (t) => {
  const redis = await startRedis(t, { args: ['--appendonly', 'no', '--save', ''] })
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await client.connect()
  await client.set('item:volatile', 'v')
  client.disconnect()
  await redis.stop('SIGKILL')
  await redis.start()
  const stored = await readAll(redis, ['volatile'])
  t.same(lost(new Map([['volatile', 'v']]), stored), ['volatile'], 'the acknowledged write is gone')
})
