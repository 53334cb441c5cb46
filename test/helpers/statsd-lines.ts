import type { UdpListener } from './udp.js'

/** One DogStatsD line, parsed: `name:value|type[|@rate][|#k:v,...]`. */
export interface StatsdSample {
  name: string
  value: number
  /** c, ms, g, h, d, s. */
  type: string
  /** Sample rate (1 when the line has none). */
  rate: number
  tags: Record<string, string>
}

/**
 * Parses one DogStatsD line; undefined when it is not one. Works for one line per
 * measurement and for client-side aggregated lines alike (a counter's value is then a sum).
 */
export function parseLine (line: string): StatsdSample | undefined {
  const m = /^([^:|]+):([^|]+)\|([a-z]+)((?:\|[@#][^|]*)*)$/.exec(line)
  if (m === null) return undefined
  const [, name, value, type, rest] = m as unknown as [string, string, string, string, string]
  const sample: StatsdSample = { name, value: Number(value), type, rate: 1, tags: {} }
  for (const part of rest.split('|').slice(1)) {
    if (part.startsWith('@')) sample.rate = Number(part.slice(1))
    if (part.startsWith('#')) {
      for (const tag of part.slice(1).split(',')) {
        const i = tag.indexOf(':')
        if (i > 0) sample.tags[tag.slice(0, i)] = tag.slice(i + 1)
      }
    }
  }
  return sample
}

/**
 * Sums a counter over lines, scaled by the sample rate, grouped by the values of `keys`
 * joined with a space (e.g. keys ['route', 'status_code'] -> "/items 201").
 */
export function counterTotals (lines: string[], name: string, keys: string[]): Map<string, number> {
  const totals = new Map<string, number>()
  for (const line of lines) {
    const s = parseLine(line)
    if (s === undefined || s.name !== name || s.type !== 'c') continue
    const group = keys.map((k) => s.tags[k] ?? '').join(' ')
    totals.set(group, (totals.get(group) ?? 0) + s.value / s.rate)
  }
  return totals
}

/** Distinct values of tag `key` on metric `name`. */
export function tagValues (lines: string[], name: string, key: string): Set<string> {
  const values = new Set<string>()
  for (const line of lines) {
    const s = parseLine(line)
    if (s !== undefined && s.name === name && s.tags[key] !== undefined) values.add(s.tags[key])
  }
  return values
}

/** Sum of the `http.requests` counter values in `lines`, or of those whose tags match `only`. */
export function countedResponses (lines: string[], only?: RegExp): number {
  let sum = 0
  for (const line of lines) {
    const match = /^http\.requests:(\d+)\|c(\||$)/.exec(line)
    if (match?.[1] !== undefined && (only === undefined || only.test(line))) sum += Number(match[1])
  }
  return sum
}

/** Tags of {@link flushMarker}'s count: scripts/load.sh never sends a DELETE. */
export const FLUSH_MARKER = /,method:DELETE,route:\/items\/:key,/

/**
 * Sends a DELETE to the service at `baseUrl` (a method scripts/load.sh never sends) and waits
 * until its count has arrived at `udp`, then for the rest of that burst of datagrams (a barrier):
 * a flush sends every count the service holds, so every response answered before the marker is
 * counted in what `udp` holds now. Subtract `countedResponses(lines, FLUSH_MARKER)` for the
 * markers themselves.
 */
export async function flushMarker (udp: UdpListener, baseUrl: string, timeoutMs = 30_000): Promise<void> {
  const before = countedResponses(udp.lines(), FLUSH_MARKER)
  await (await fetch(`${baseUrl}/items/flush-marker`, { method: 'DELETE' })).arrayBuffer()
  await udp.waitFor((lines) => countedResponses(lines, FLUSH_MARKER) > before, timeoutMs)
  await udp.barrier()
}
