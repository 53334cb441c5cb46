import type { RouteName, Variant } from './app.js'
import type { LoadResult } from './load.js'

/** What the UDP receiver got from one server during a saturation phase. */
export interface UdpCounts {
  datagrams: number
  lines: number
  /** Sum of `http.requests` for the route, and `http.request.duration` observations. */
  requests: number
  durations: number
  /** Redis route only: `cache.lookups{result:hit}` sum and `redis.command.duration{command:get}` observations. */
  cacheHits: number
  redisGets: number
}

/** What one saturation phase cost statsd_exporter, per response (when the benchmark ran one). */
export interface ExporterCost {
  /** Exporter user + system CPU, microseconds per response. */
  cpuUsPerReq: number
  /** `statsd_exporter_lines_total` and `statsd_exporter_udp_packets_total` added, per response. */
  linesPerReq: number
  packetsPerReq: number
}

/** One measurement of one variant on one route in one round. */
export interface Sample {
  round: number
  route: RouteName
  variant: Variant
  /** Closed-loop saturation, with the server's CPU µs per response and RSS (bytes) at its end. */
  sat: LoadResult & { cpuUsPerReq: number, rss: number }
  /** Fixed overall rate, with the server's CPU µs per response. */
  rate: LoadResult & { cpuUsPerReq: number }
  /** null for variants that send no StatsD. */
  udp: UdpCounts | null
  /** null (or absent) without a statsd_exporter binary, and for variants that send no StatsD. */
  exporter?: ExporterCost | null
  /** Empty when every response was 2xx and (for the aggregating sink) every count arrived. */
  problems: string[]
}

export function median (values: number[]): number {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (xs.length === 0) return NaN
  const mid = xs.length >> 1
  return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2
}

/** Median over rounds of `f(variant sample) / f(ref sample)` taken in the same round: a paired ratio. */
function pairedRatio (samples: Sample[], route: RouteName, variant: Variant, f: (s: Sample) => number, ref: Variant = 'bare'): number {
  const ratios: number[] = []
  for (const s of samples) {
    if (s.route !== route || s.variant !== variant) continue
    const bare = samples.find((b) => b.route === route && b.variant === ref && b.round === s.round)
    if (bare !== undefined) ratios.push(f(s) / f(bare))
  }
  return median(ratios)
}

/** Median over rounds of `f(variant) - f(bare)`, paired by round. */
function pairedDelta (samples: Sample[], route: RouteName, variant: Variant, f: (s: Sample) => number): number {
  const deltas: number[] = []
  for (const s of samples) {
    if (s.route !== route || s.variant !== variant) continue
    const bare = samples.find((b) => b.route === route && b.variant === 'bare' && b.round === s.round)
    if (bare !== undefined) deltas.push(f(s) - f(bare))
  }
  return median(deltas)
}

/** One row of the summary: medians over rounds, and ratios to bare paired by round. */
export interface Row {
  route: RouteName
  variant: Variant
  rps: number
  rpsRatio: number
  p50Ms: number
  p99Ms: number
  addedP99Ms: number
  satCpuUs: number
  rateCpuUs: number
  /** bare CPU per request / this CPU per request at the fixed rate: the capacity left, steadier than rps. */
  cpuCapacityRatio: number
  rateP50Ms: number
  rateP99Ms: number
  addedRateP99Ms: number
  rssMiB: number
  rssRatio: number
  datagramsPerS: number
  linesPerS: number
  /** Counts received / responses, at saturation (1 = nothing lost). */
  countedRatio: number
  timedRatio: number
  /** Medians of {@link ExporterCost} (NaN without the exporter), and service + exporter CPU per request at saturation. */
  exporterCpuUs: number
  totalCpuUs: number
  exporterLinesPerReq: number
  exporterPacketsPerReq: number
}

/** Variants that send no StatsD: nothing for an exporter to do. */
const STATSD_FREE: Variant[] = ['bare', 'fastify-metrics', 'empty-hooks']

export function summarize (samples: Sample[], routes: RouteName[], variants: Variant[]): Row[] {
  const rows: Row[] = []
  for (const route of routes) {
    for (const variant of variants) {
      const mine = samples.filter((s) => s.route === route && s.variant === variant)
      if (mine.length === 0) continue
      const m = (f: (s: Sample) => number): number => median(mine.map(f))
      rows.push({
        route,
        variant,
        rps: m((s) => s.sat.rps),
        rpsRatio: pairedRatio(samples, route, variant, (s) => s.sat.rps),
        p50Ms: m((s) => s.sat.p50Ms),
        p99Ms: m((s) => s.sat.p99Ms),
        addedP99Ms: pairedDelta(samples, route, variant, (s) => s.sat.p99Ms),
        satCpuUs: m((s) => s.sat.cpuUsPerReq),
        rateCpuUs: m((s) => s.rate.cpuUsPerReq),
        cpuCapacityRatio: 1 / pairedRatio(samples, route, variant, (s) => s.rate.cpuUsPerReq),
        rateP50Ms: m((s) => s.rate.p50Ms),
        rateP99Ms: m((s) => s.rate.p99Ms),
        addedRateP99Ms: pairedDelta(samples, route, variant, (s) => s.rate.p99Ms),
        rssMiB: m((s) => s.sat.rss / 1048576),
        rssRatio: pairedRatio(samples, route, variant, (s) => s.sat.rss),
        datagramsPerS: m((s) => s.udp === null ? NaN : s.udp.datagrams / s.sat.seconds),
        linesPerS: m((s) => s.udp === null ? NaN : s.udp.lines / s.sat.seconds),
        countedRatio: m((s) => s.udp === null ? NaN : s.udp.requests / s.sat.responses),
        timedRatio: m((s) => s.udp === null ? NaN : s.udp.durations / s.sat.responses),
        exporterCpuUs: m((s) => s.exporter?.cpuUsPerReq ?? NaN),
        totalCpuUs: m((s) => s.sat.cpuUsPerReq + (s.exporter?.cpuUsPerReq ?? (STATSD_FREE.includes(s.variant) ? 0 : NaN))),
        exporterLinesPerReq: m((s) => s.exporter?.linesPerReq ?? NaN),
        exporterPacketsPerReq: m((s) => s.exporter?.packetsPerReq ?? NaN)
      })
    }
  }
  return rows
}

const COLUMNS: Array<[string, (r: Row) => string]> = [
  ['route', (r) => r.route],
  ['variant', (r) => r.variant],
  ['req/s', (r) => r.rps.toFixed(0)],
  ['x bare', (r) => r.rpsRatio.toFixed(2)],
  ['p50 ms', (r) => r.p50Ms.toFixed(3)],
  ['p99 ms', (r) => r.p99Ms.toFixed(3)],
  ['+p99 ms', (r) => signed(r.addedP99Ms)],
  ['CPU µs/req sat', (r) => r.satCpuUs.toFixed(1)],
  ['CPU µs/req @rate', (r) => r.rateCpuUs.toFixed(1)],
  ['capacity x bare', (r) => r.cpuCapacityRatio.toFixed(2)],
  ['@rate p99 ms', (r) => r.rateP99Ms.toFixed(3)],
  ['+p99 @rate', (r) => signed(r.addedRateP99Ms)],
  ['RSS MiB', (r) => r.rssMiB.toFixed(1)],
  ['RSS x bare', (r) => r.rssRatio.toFixed(2)],
  ['datagrams/s', (r) => fixedOrDash(r.datagramsPerS, 0)],
  ['lines/s', (r) => fixedOrDash(r.linesPerS, 0)],
  ['counted', (r) => fixedOrDash(r.countedRatio, 4)],
  ['timed', (r) => fixedOrDash(r.timedRatio, 4)]
]

/** Shown when statsd_exporter ran. */
const EXPORTER_COLUMNS: Array<[string, (r: Row) => string]> = [
  ['exporter CPU µs/req', (r) => fixedOrDash(r.exporterCpuUs, 1)],
  ['app+exporter CPU µs/req', (r) => fixedOrDash(r.totalCpuUs, 1)],
  ['exporter lines/req', (r) => fixedOrDash(r.exporterLinesPerReq, 3)],
  ['exporter packets/req', (r) => fixedOrDash(r.exporterPacketsPerReq, 3)]
]

function signed (v: number): string {
  return Number.isFinite(v) ? (v >= 0 ? '+' : '') + v.toFixed(3) : '-'
}

function fixedOrDash (v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '-'
}

/** The summary as a fixed-width text table (also valid GitHub markdown). */
export function table (rows: Row[]): string {
  const columns = rows.some((r) => Number.isFinite(r.exporterCpuUs)) ? [...COLUMNS, ...EXPORTER_COLUMNS] : COLUMNS
  const cells = [columns.map(([h]) => h), ...rows.map((r) => columns.map(([, f]) => f(r)))]
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i].length)))
  const line = (row: string[]): string => '| ' + row.map((c, i) => i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join(' | ') + ' |'
  return [line(cells[0]), '|' + widths.map((w, i) => i < 2 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':').join('|') + '|', ...cells.slice(1).map(line)].join('\n')
}

/**
 * The service as shipped against its minimal twin (issue 18's goal: >= 0.95x the twin's req/s on
 * the Redis hit), paired by round: req/s and CPU per request at the fixed rate. Informational.
 */
export function serviceGoals (samples: Sample[], routes: RouteName[]): string[] {
  const out: string[] = []
  for (const route of routes) {
    if (!samples.some((s) => s.route === route && s.variant === 'service') || !samples.some((s) => s.route === route && s.variant === 'twin')) continue
    const rps = pairedRatio(samples, route, 'service', (s) => s.sat.rps, 'twin')
    const cpu = pairedRatio(samples, route, 'service', (s) => s.rate.cpuUsPerReq, 'twin')
    out.push(`${route}: the service as shipped ${rps.toFixed(3)}x the minimal twin's req/s` +
      (route === 'redis' ? ` (goal >= 0.95: ${rps >= 0.95 ? 'met' : 'NOT met'})` : '') +
      `, ${cpu.toFixed(3)}x its CPU per request at the fixed rate (median of ratios paired by round)`)
  }
  return out
}

/**
 * The goals, checked against the summary: instrumented throughput and CPU capacity at
 * least 0.95x bare, better than fastify-metrics, added p99 under 0.1 ms, RSS within 10%, every
 * count and timing received. Informational: speed never fails a run (loss does, in run.ts).
 */
export function goals (rows: Row[]): string[] {
  const out: string[] = []
  const verdict = (ok: boolean): string => ok ? 'met' : 'NOT met'
  for (const route of [...new Set(rows.map((r) => r.route))]) {
    const ours = rows.find((r) => r.route === route && r.variant === 'aggregating')
    if (ours === undefined) continue
    const fm = rows.find((r) => r.route === route && r.variant === 'fastify-metrics')
    const peer = rows.find((r) => r.route === route && r.variant === 'immobiliarelabs')
    out.push(`${route}: throughput ${ours.rpsRatio.toFixed(2)}x bare (goal >= 0.95: ${verdict(ours.rpsRatio >= 0.95)}); ` +
      `CPU capacity ${ours.cpuCapacityRatio.toFixed(2)}x bare (${verdict(ours.cpuCapacityRatio >= 0.95)})`)
    if (fm !== undefined) {
      out.push(`${route}: vs fastify-metrics: ${ours.rpsRatio.toFixed(2)} vs ${fm.rpsRatio.toFixed(2)}x bare req/s, ` +
        `${ours.rateCpuUs.toFixed(1)} vs ${fm.rateCpuUs.toFixed(1)} CPU µs/req (better: ${verdict(ours.rpsRatio > fm.rpsRatio && ours.rateCpuUs < fm.rateCpuUs)})`)
    }
    if (peer !== undefined) {
      out.push(`${route}: vs @immobiliarelabs/fastify-metrics (StatsD peer, defaults): ${ours.rpsRatio.toFixed(2)} vs ${peer.rpsRatio.toFixed(2)}x bare req/s, ` +
        `${ours.rateCpuUs.toFixed(1)} vs ${peer.rateCpuUs.toFixed(1)} CPU µs/req` +
        (Number.isFinite(ours.totalCpuUs) && Number.isFinite(peer.totalCpuUs) ? `, app+exporter ${ours.totalCpuUs.toFixed(1)} vs ${peer.totalCpuUs.toFixed(1)} CPU µs/req` : ''))
    }
    // At saturation latency is queueing (connections / throughput, Little's law), so its p99 moves
    // with req/s; the latency a request gains from the instrumentation shows below saturation.
    out.push(`${route}: added p99 ${signed(ours.addedRateP99Ms)} ms at the fixed rate (goal < 0.1 ms: ${verdict(ours.addedRateP99Ms < 0.1)}; ` +
      `${signed(ours.addedP99Ms)} ms at saturation, where latency is queueing); RSS ${ours.rssRatio.toFixed(2)}x bare (goal <= 1.10: ${verdict(ours.rssRatio <= 1.1)}); ` +
      `received ${ours.countedRatio.toFixed(4)} of counts, ${ours.timedRatio.toFixed(4)} of timings (goal 1: ${verdict(ours.countedRatio === 1 && ours.timedRatio === 1)})`)
  }
  return out
}
