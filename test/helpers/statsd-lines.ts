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
