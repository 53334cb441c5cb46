import Fastify from 'fastify'
import fp from 'fastify-plugin'
import { app as appPlugin, BODY_LIMIT_BYTES, serverOptions } from '../../service/app.js'
import type { Config } from '../../service/config.js'
import { noopSink } from './noop-sink.js'

/**
 * A seeded pseudo-random generator (mulberry32): the same seed gives the same request sequence,
 * so a failing run is replayed with FUZZ_SEED=<seed>.
 */
export class Rng {
  private state: number
  constructor (readonly seed: number) {
    this.state = seed >>> 0
  }

  /** A float in [0, 1). */
  next (): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let x = this.state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [0, n). */
  int (n: number): number {
    return Math.floor(this.next() * n)
  }

  pick<T> (items: readonly T[]): T {
    return items[this.int(items.length)] as T
  }

  chance (p: number): boolean {
    return this.next() < p
  }
}

/** The seed: FUZZ_SEED when set (replay), else a fresh one. Tests print it. */
export function fuzzSeed (): number {
  const fromEnv = process.env.FUZZ_SEED
  return fromEnv !== undefined && /^\d+$/.test(fromEnv) ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31)
}

/**
 * The route templates the app registers for a config, read from an `onRoute` hook on a
 * separate instance (never started), so the fuzz tests compare the metric `route` tags with
 * what the app really has, not with a list kept by hand.
 */
export async function registeredRoutes (config: Config): Promise<Set<string>> {
  const noop = noopSink()
  const fastify = Fastify(serverOptions({ ...config, logLevel: 'silent' }))
  const urls = new Set<string>()
  fastify.addHook('onRoute', (route) => { urls.add(route.url ?? route.path) })
  await fastify.register(fp(appPlugin, { name: 'app' }), { config, sink: noop })
  await fastify.ready()
  await fastify.close()
  return urls
}

/** Keys: valid at the edges, and every way to be invalid. */
export function key (rng: Rng): string {
  const valid = 'abcXYZ019._:-'
  switch (rng.int(12)) {
    case 0: return 'k'.repeat(128)
    case 1: return rng.chance(0.5) ? 'k'.repeat(129) : 'k'.repeat(300)
    case 2: return ''
    case 3: return '..'
    case 4: return 'item:*'
    case 5: return 'a b'
    case 6: return 'é'
    case 7: return '🙂'
    case 8: return 'a\u0000b'
    case 9: return 'a\r\nSET x y'
    case 10: return '*'
    default: return Array.from({ length: 1 + rng.int(20) }, () => rng.pick([...valid])).join('')
  }
}

/** A path segment from the hostile pool: traversal, encodings, unicode, control characters, length. */
export function segment (rng: Rng): string {
  return rng.pick([
    '..', '.', '%2e%2e', '%2E%2e%2f', '%2F', '', 'items', 'health', 'demo', ':key', '*', '%00', '%0d%0a',
    '%1b%5b31m', '%ff', '%C0%AF', '%zz', '%', '%%', 'é', '%C3%A9', '日本', '🙂', '%F0%9F%99%82', '\u202egnp.exe',
    'a;b', 'a,b', 'a|b', 'a#b', '~', '\\..\\', '%5c', 'x'.repeat(129), 'x'.repeat(257), 'y'.repeat(4000), 'item:*', '__proto__',
    'constructor', 'live', 'ready', 'io', 'cpu', 'error', 'random-status'
  ])
}

/** Query strings for the list route and the demo routes: edges, junk, duplicates, unknowns. */
export function query (rng: Rng): string {
  const cursor = rng.pick(['0', '1', '17', '18446744073709551615', '18446744073709551616', '99999999999999999999',
    '999999999999999999999', '-1', '01', '1e3', 'abc', '', ' ', '%00', '0x10', '1.0', 'z'.repeat(300)])
  const limit = rng.pick(['1', '20', '100', '0', '101', '-5', '1.5', 'abc', '', '1e2', '100000000000000000000'])
  const parts: string[] = []
  if (rng.chance(0.6)) parts.push(`cursor=${cursor}`)
  if (rng.chance(0.6)) parts.push(`limit=${limit}`)
  if (rng.chance(0.1)) parts.push(`cursor=${cursor}`)
  if (rng.chance(0.1)) parts.push('colour=red')
  if (rng.chance(0.05)) parts.push('__proto__[x]=1')
  // Demo parameters, kept cheap: never a long sleep or a long CPU burn.
  if (rng.chance(0.2)) parts.push(`ms=${rng.pick(['0', '1', '-1', '2001', 'x', '1e9'])}`)
  if (rng.chance(0.2)) parts.push(`iterations=${rng.pick(['1', '10', '0', '200001', 'x'])}`)
  if (rng.chance(0.2)) parts.push(`max_ms=${rng.pick(['1', '0', '5001', 'x'])}`)
  return parts.length === 0 ? '' : `?${parts.join('&')}`
}

/** Nested arrays `depth` deep, as JSON text. */
export function deepJson (depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth)
}

/** A JSON (or not quite JSON) body for POST /items. */
export function itemBody (rng: Rng): string {
  switch (rng.int(20)) {
    case 0: return JSON.stringify({ key: key(rng), value: 'v'.repeat(65536) })
    case 1: return JSON.stringify({ key: key(rng), value: 'v'.repeat(65537) })
    case 2: return JSON.stringify({ key: 'big', value: 'é'.repeat(65536) })
    case 3: return JSON.stringify({ key: 'k', value: 'v', ttl: rng.pick([0, 1, 2592000, 2592001, -1, 1.5, '5', null, true]) })
    case 4: return JSON.stringify({ key: 'k', value: 'v', colour: 'red' })
    case 5: return JSON.stringify({ key: 'k' })
    case 6: return JSON.stringify({ key: 'k', value: 42 })
    case 7: return JSON.stringify({ key: 'k', value: { nested: true } })
    case 8: return `{"key":"k","value":${deepJson(rng.pick([100, 10_000, 60_000]))}}`
    case 9: return `{"key":"k","value":"v","extra":${deepJson(50_000)}}`
    case 10: return '{"__proto__":{"polluted":1},"key":"k","value":"v"}'
    case 11: return '{"key":"k","value":"v","constructor":{"prototype":{"polluted":1}}}'
    case 12: return rng.pick(['', '{', '{"key":"k",}', "{'key':'k'}", 'null', '[]', '"str"', '123', 'NaN', '{"key":"k","value":"v"}garbage'])
    case 13: return JSON.stringify({ key: 'k'.repeat(5000), value: 'v' })
    case 14: return `{"key":"k","value":"${'\\u00e9'.repeat(66_000)}"}`
    case 15: return JSON.stringify({ key: 'x', value: 'a'.repeat(BODY_LIMIT_BYTES) }) // over the limit: 413
    case 16: return '{"key":"k","key":"k2","value":"v"}'
    default: return JSON.stringify({ key: key(rng), value: `v${rng.int(1000)}` })
  }
}

/** Content types, right and wrong. */
export function contentType (rng: Rng): string | undefined {
  return rng.pick([
    'application/json', 'application/json', 'application/json', 'application/json; charset=utf-8',
    'application/json; charset=utf-16', 'APPLICATION/JSON', 'text/plain', 'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x', 'application/jsonx', 'application/json, text/plain', 'application/*',
    '', 'application/vnd.api+json', 'text/html', undefined
  ])
}

/**
 * Methods: the routed ones, the ones no route has, lower case. All are HTTP method tokens the
 * Node parser and light-my-request accept; raw-http.test.ts adds unknown tokens.
 */
export function method (rng: Rng): string {
  return rng.pick(['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'SEARCH', 'PURGE', 'M-SEARCH', 'get'])
}
