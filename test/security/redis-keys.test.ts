import t from 'tap'
import { Redis } from 'ioredis'
import { build } from '../helpers/app.js'
import { fuzzSeed, itemBody, key, query, Rng } from '../helpers/fuzz.js'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'

/**
 * What reaches Redis, watched with MONITOR while hostile input hits the items API: every key is
 * in a namespace (`item:` + a validated key, or the hit counter), SCAN only ever gets a
 * validated cursor, the fixed `item:*` pattern and a COUNT of 1..100, and nothing outside the
 * service's closed set of commands is ever sent. This proves the repositories build keys only
 * from validated input, whatever the request looked like.
 */

const ITEM_KEY = /^item:[A-Za-z0-9._:-]{1,128}$/
const CURSOR = /^(0|[1-9][0-9]{0,19})$/
const MAX_CURSOR = 18446744073709551615n
/** Commands the service may send: its repositories' closed set, plus the driver's connection set-up and QUIT. */
const COMMANDS = new Set(['get', 'set', 'del', 'incr', 'scan', 'mget', 'ping', 'hello', 'info', 'client', 'select', 'auth', 'quit'])

t.test('every key the service sends is namespaced and validated; SCAN cursors are validated', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const seed = fuzzSeed()
  t.comment(`FUZZ_SEED=${seed}`)
  const { app, redis } = await build(t, { env: { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0' } })
  const monitorClient = new Redis(redis.url, { lazyConnect: true })
  await monitorClient.connect()
  const monitor = await monitorClient.monitor()
  const commands: string[][] = []
  monitor.on('monitor', (_time: string, args: string[]) => { commands.push(args) })
  t.teardown(() => {
    monitor.disconnect()
    monitorClient.disconnect()
  })

  const rng = new Rng(seed)
  const json = { 'content-type': 'application/json' }
  // Some real data first, so listings return keys and MGET runs.
  for (let i = 0; i < 30; i++) await app.inject({ method: 'POST', url: '/items', headers: json, payload: JSON.stringify({ key: `seed-${i}`, value: 'v' }) })
  for (let i = 0; i < 1500; i++) {
    const k = key(rng)
    const encoded = rng.chance(0.7) ? encodeURIComponent(k) : k
    switch (rng.int(5)) {
      case 0: await app.inject({ method: 'POST', url: '/items', headers: json, payload: itemBody(rng) }); break
      case 1: await app.inject({ url: `/items/${encoded}` }).catch(() => undefined); break
      case 2: await app.inject({ method: 'DELETE', url: `/items/${encoded}` }).catch(() => undefined); break
      case 3: await app.inject({ url: `/items${query(rng)}` }); break
      default: await app.inject({ url: '/' })
    }
  }
  // Follow one listing to its end: every cursor the service hands out is also valid input.
  let cursor: string | null = '0'
  let pages = 0
  while (cursor !== null && pages < 100) {
    const res: { statusCode: number, json: () => unknown } = await app.inject({ url: `/items?cursor=${cursor}&limit=7` })
    t.equal(res.statusCode, 200)
    cursor = (res.json() as { next_cursor: string | null }).next_cursor
    pages++
  }
  t.equal(cursor, null, `a full scan ends (${pages} pages)`)
  // MONITOR reports commands in the order Redis ran them: once a marker sent from another
  // connection is reported, every command the service sent before it has been reported too.
  const marker = `monitor-barrier-${seed}-${Date.now()}`
  const other = new Redis(redis.url, { lazyConnect: true })
  await other.connect()
  const seen = new Promise<void>((resolve) => monitor.on('monitor', (_time: string, args: string[]) => { if (args[1] === marker) resolve() }))
  await other.echo(marker)
  other.disconnect()
  await seen
  const markerAt = commands.findIndex((args) => args[1] === marker)
  commands.splice(markerAt)

  const problems: string[] = []
  let keys = 0
  let scans = 0
  for (const [name = '', ...args] of commands) {
    const command = name.toLowerCase()
    if (!COMMANDS.has(command)) problems.push(`unexpected command ${name} ${JSON.stringify(args).slice(0, 80)}`)
    const keyArgs = command === 'mget' || command === 'del' ? args : command === 'get' || command === 'set' || command === 'incr' ? args.slice(0, 1) : []
    for (const k of keyArgs) {
      keys++
      if (!ITEM_KEY.test(k) && k !== 'counter:hits') problems.push(`${command} on un-namespaced or invalid key ${JSON.stringify(k).slice(0, 80)}`)
    }
    if (command === 'scan') {
      scans++
      const [c = '', match, pattern, count, n = ''] = args
      if (!CURSOR.test(c) || BigInt(c) > MAX_CURSOR) problems.push(`scan cursor ${JSON.stringify(c).slice(0, 40)}`)
      if (match?.toLowerCase() !== 'match' || pattern !== 'item:*') problems.push(`scan pattern ${JSON.stringify(args.slice(1, 3))}`)
      if (count?.toLowerCase() !== 'count' || !/^\d+$/.test(n) || Number(n) < 1 || Number(n) > 100) problems.push(`scan count ${JSON.stringify(args.slice(3))}`)
    }
  }
  t.ok(keys > 200 && scans > 20, `watched ${commands.length} commands: ${keys} key arguments, ${scans} SCANs`)
  t.same(problems.slice(0, 20), [], `no un-namespaced key, no unvalidated cursor (${problems.length} problems)`)
})
