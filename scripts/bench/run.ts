/**
 * `npm run bench` / `npm run bench:smoke`: what the instrumentation costs, measured on real
 * servers over loopback with autocannon.
 *
 * One server per variant (see app.ts: bare, service (the service as shipped), twin (a minimal
 * Fastify + ioredis app), aggregating, plugin (an adopter's app: the package entry alone),
 * fastify-metrics, hot-shots, immobiliarelabs; empty-hooks
 * and the service without one part on request) runs as a child process pinned to CPU 1; this process
 * (autocannon and a UDP receiver standing in for statsd_exporter) and a redis-server of its own
 * are pinned to CPU 0. After a warm-up, every
 * round measures each route with each variant, the variant order rotating from round to round,
 * in two phases:
 * - saturation: 50 connections closed-loop for a fixed number of requests (about `--seconds`
 *   worth): req/s, p50/p99 latency, server CPU per request, RSS, and what reached the receiver;
 *   every count must arrive for the aggregating sink and the service (zero loss), else the run fails;
 * - fixed rate (`--rate` req/s for `--rate-seconds`): server CPU per request, the figure that
 *   stays steady when other work on the machine makes closed-loop req/s swing.
 * It prints medians over rounds and ratios to bare paired by round.
 *
 * When a statsd_exporter binary is found (STATSD_EXPORTER_BIN or PATH; see exporter.ts), the
 * servers send to a real exporter with the project's mapping instead of the receiver, and each
 * saturation phase of a StatsD variant also reports the exporter's CPU per request (from
 * /proc/PID/stat) and its `statsd_exporter_lines_total` / `_udp_packets_total` per request;
 * the zero-loss check then counts what the exporter itself turned into series
 * (`http_requests_total`, `http_request_duration_seconds_count`, ... by `instance`). Without the
 * binary it says the exporter part was skipped.
 *
 * Options: --rounds N, --seconds S, --rate R, --rate-seconds S, --warmup S, --connections N,
 * --rate-connections N, --variants a,b (also `empty-hooks`, see app.ts), --routes trivial,redis,
 * --json FILE, --smoke (one short round: checks that the tool works and nothing is lost; speed is
 * never a failure).
 */
import { writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { haveRedisServer, NO_REDIS } from '../../test/helpers/redis.js'
import { DEFAULT_VARIANTS, IMMOBILIARELABS_ROUTE_IDS, LOSSLESS_VARIANTS, ROUTES, STATSD_VARIANTS, VARIANTS, type RouteName, type Variant } from './app.js'
import { NO_EXPORTER, startExporter, type BenchExporter, type ExporterSnapshot } from './exporter.js'
import { closedLoop, fixedRate, forSeconds } from './load.js'
import { startFixtures, startServer, type BenchServer } from './processes.js'
import type { Received } from './receiver.js'
import { goals, serviceGoals, summarize, table, type ExporterCost, type Sample, type UdpCounts } from './report.js'

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    rate: { type: 'string' },
    'rate-seconds': { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    'rate-connections': { type: 'string' },
    variants: { type: 'string' },
    routes: { type: 'string' },
    json: { type: 'string' }
  }
})
const smoke = args.smoke === true
const num = (v: string | undefined, full: number, short: number): number => v === undefined ? (smoke ? short : full) : Number(v)
const opts = {
  rounds: num(args.rounds, 3, 1),
  seconds: num(args.seconds, 5, 1.5),
  rate: num(args.rate, 10_000, 2000),
  rateSeconds: num(args['rate-seconds'], 4, 1),
  warmup: num(args.warmup, 2, 0.5),
  connections: num(args.connections, 50, 50),
  rateConnections: num(args['rate-connections'], 10, 10)
}
const variants = (args.variants?.split(',') ?? [...DEFAULT_VARIANTS]) as Variant[]
const routes = (args.routes?.split(',') ?? Object.keys(ROUTES)) as RouteName[]
if (!variants.includes('bare')) variants.unshift('bare')
for (const v of variants) if (!(VARIANTS as readonly string[]).includes(v)) throw new Error(`unknown variant ${v}`)
for (const r of routes) if (!(r in ROUTES)) throw new Error(`unknown route ${r}`)

if (!haveRedisServer()) {
  process.stderr.write(`bench: ${NO_REDIS}\n`)
  process.exit(1)
}

const log = (line: string): void => { process.stderr.write(line + '\n') }
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const started = performance.now()
const loadAtStart = loadavg()[0]

const { pin, redis, receiver } = await startFixtures()
const exporter: BenchExporter | null = await startExporter(pin)
const servers = new Map<Variant, BenchServer>()
const cleanup = async (): Promise<void> => {
  await Promise.all([...servers.values()].map((s) => s.close()))
  await exporter?.stop()
  await receiver.close()
  await redis.stop()
}
process.once('SIGINT', () => { cleanup().finally(() => process.exit(130)).catch(() => {}) })

try {
  for (const v of variants) servers.set(v, await startServer(pin, v, redis.url, exporter?.udpPort ?? receiver.port))
  log(`bench: ${pin.reason}; servers ${[...servers.values()].map((s) => `${s.variant}=${s.pid}`).join(' ')}`)
  log(exporter === null ? `bench: ${NO_EXPORTER}` : `bench: StatsD goes to statsd_exporter (pid ${exporter.pid}, udp ${exporter.udpPort}) with etc/statsd/mapping.yml and the peer's mappings`)

  // Warm-up: JIT and connection pools, and each variant's rate, which sizes its saturation phase.
  const amount = new Map<string, number>()
  for (const route of routes) {
    for (const v of variants) {
      const res = await forSeconds(url(v, route), opts.connections, opts.warmup)
      amount.set(`${v} ${route}`, Math.round(res.rps * opts.seconds))
    }
  }

  const samples: Sample[] = []
  for (let round = 0; round < opts.rounds; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length])
    for (const route of routes) {
      for (const v of order) {
        const sample = await measure(v, route, round, amount.get(`${v} ${route}`) ?? 1000)
        amount.set(`${v} ${route}`, Math.round(sample.sat.rps * opts.seconds))
        samples.push(sample)
        log(`round ${round + 1}/${opts.rounds} ${route.padEnd(7)} ${v.padEnd(15)} ` +
          `${sample.sat.rps.toFixed(0).padStart(6)} req/s  p99 ${sample.sat.p99Ms.toFixed(3)} ms  ` +
          `CPU ${sample.sat.cpuUsPerReq.toFixed(1)} µs/req (@${opts.rate}/s: ${sample.rate.cpuUsPerReq.toFixed(1)})` +
          (sample.udp === null ? '' : `  received ${sample.udp.requests}/${sample.sat.responses} counts, ${sample.udp.durations} timings in ${sample.udp.datagrams} datagrams`) +
          (sample.exporter == null ? '' : `  exporter ${sample.exporter.cpuUsPerReq.toFixed(1)} µs/req, ${sample.exporter.linesPerReq.toFixed(3)} lines/req`) +
          (sample.problems.length > 0 ? `  PROBLEM: ${sample.problems.join('; ')}` : ''))
      }
    }
  }

  const rows = summarize(samples, routes, variants)
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  process.stdout.write([
    '',
    `fastify-monitoring instrumentation benchmark${smoke ? ' (smoke)' : ''}: Node ${process.version}, ${cpus().length} x ${cpu}`,
    `${pin.reason}. ${opts.rounds} round(s), saturation ${opts.connections} connections for ~${opts.seconds} s, ` +
      `fixed rate ${opts.rate}/s over ${opts.rateConnections} connections for ${opts.rateSeconds} s; ` +
      `medians over rounds, "x bare" = median of ratios paired by round; took ${((performance.now() - started) / 1000).toFixed(0)} s.`,
    ...(exporter === null ? [NO_EXPORTER + '.'] : ['StatsD variants sent to a real statsd_exporter (etc/statsd/mapping.yml); "exporter" columns are its CPU and lines/packets per request, loss counted by the exporter.']),
    `1-minute load average ${loadAtStart.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at the end (this run keeps ~2 busy; more means other work competed and the figures are noisy).`,
    '',
    table(rows),
    '',
    ...(smoke ? ['Smoke run: one short round on a barely warm JIT. It checks the tool and zero loss; its figures measure nothing.'] : [...serviceGoals(samples, routes), ...goals(rows)]),
    ''
  ].join('\n') + '\n')
  if (args.json !== undefined) writeFileSync(args.json, JSON.stringify({ opts, pinning: pin, rows, samples }, null, 2))

  const problems = samples.flatMap((s) => s.problems.map((p) => `round ${s.round + 1} ${s.route} ${s.variant}: ${p}`))
  if (problems.length > 0) {
    process.stdout.write(`FAILED:\n${problems.join('\n')}\n`)
    process.exitCode = 1
  }
} finally {
  await cleanup()
}
// Nothing should be left running, but a stray handle must not keep a CI job waiting.
process.exit(process.exitCode ?? 0)

function url (variant: Variant, route: RouteName): string {
  return `http://127.0.0.1:${servers.get(variant)?.port ?? 0}${ROUTES[route].url}`
}

/** One saturation phase and one fixed-rate phase of `variant` on `route`. */
async function measure (variant: Variant, route: RouteName, round: number, requests: number): Promise<Sample> {
  const server = servers.get(variant) as BenchServer
  const statsd = STATSD_VARIANTS.includes(variant)
  // Whatever the server still holds from earlier phases must not count in this one.
  await server.flush()
  await sleep(50)
  receiver.take()
  const e0 = statsd ? await exporter?.settled() : undefined

  const s0 = await server.stats()
  const sat = await closedLoop(url(variant, route), opts.connections, requests)
  const s1 = await server.stats()
  await server.flush()
  await sleep(100)
  const got = receiver.take().get(variant)
  const e1 = statsd ? await exporter?.settled() : undefined

  const r0 = await server.stats()
  const rate = await fixedRate(url(variant, route), opts.rateConnections, opts.rate, opts.rateSeconds)
  const r1 = await server.stats()

  const problems: string[] = []
  if (sat.non2xx > 0 || sat.errors > 0) problems.push(`saturation: ${sat.non2xx} non-2xx, ${sat.errors} errors`)
  if (rate.non2xx > 0 || rate.errors > 0) problems.push(`fixed rate: ${rate.non2xx} non-2xx, ${rate.errors} errors`)
  let udp: UdpCounts | null = null
  let cost: ExporterCost | null = null
  if (statsd) {
    udp = e0 !== undefined && e1 !== undefined ? exporterCounts(variant, route, e0, e1) : receiverCounts(variant, route, got)
    if (e0 !== undefined && e1 !== undefined) {
      const delta = (name: string): number => e1.metrics.sum(name) - e0.metrics.sum(name)
      cost = {
        cpuUsPerReq: (e1.cpuUs - e0.cpuUs) / sat.responses,
        linesPerReq: delta('statsd_exporter_lines_total') / sat.responses,
        packetsPerReq: delta('statsd_exporter_udp_packets_total') / sat.responses
      }
    }
    // Zero loss is the aggregating sink's contract (here and in the service); the other senders' losses are reported, not failed.
    if (LOSSLESS_VARIANTS.includes(variant)) {
      const n = sat.responses
      const expect: Array<[string, number]> = [['http.requests', udp.requests], ['http.request.duration observations', udp.durations]]
      // The plugin alone declares no cache or Redis metrics (an adopter's app times its own).
      if (route === 'redis' && variant !== 'plugin') expect.push(['cache.lookups hit', udp.cacheHits], ['redis.command.duration get observations', udp.redisGets])
      const by = e1 === undefined ? 'received' : 'counted by statsd_exporter'
      for (const [what, got] of expect) if (got !== n) problems.push(`${what}: ${by} ${got}, responses ${n}`)
      if ((s1.sink?.droppedDatagrams ?? 0) > 0) problems.push(`sink dropped ${s1.sink?.droppedDatagrams} datagrams`)
    }
  }
  return {
    round,
    route,
    variant,
    sat: { ...sat, cpuUsPerReq: (s1.cpuUs - s0.cpuUs) / sat.responses, rss: s1.rss },
    rate: { ...rate, cpuUsPerReq: (r1.cpuUs - r0.cpuUs) / rate.responses },
    udp,
    exporter: cost,
    problems
  }
}

/** What the UDP receiver parsed from `variant`'s lines during the phase. */
function receiverCounts (variant: Variant, route: RouteName, got: Received | undefined): UdpCounts {
  const total = (key: string): number => got?.totals.get(key) ?? 0
  const counts = { datagrams: got?.datagrams ?? 0, lines: got?.lines ?? 0 }
  if (variant === 'immobiliarelabs') {
    const id = `immobiliarelabs.${IMMOBILIARELABS_ROUTE_IDS[route]}`
    return { ...counts, requests: total(`${id}.requests|`), durations: total(`${id}.response_time|`), cacheHits: NaN, redisGets: NaN }
  }
  const tag = `route:${ROUTES[route].route}`
  return {
    ...counts,
    requests: total(`http.requests|${tag}`),
    durations: total(`http.request.duration|${tag}`),
    cacheHits: total('cache.lookups|result:hit'),
    redisGets: total('redis.command.duration|command:get')
  }
}

/**
 * What statsd_exporter counted between two snapshots: packets and lines (all senders; the others
 * are idle but for runtime gauges) and, for the service's metrics, the series of `variant`'s
 * `instance`; the immobiliarelabs peer's by its route id (exporter.ts maps its lines for the benchmark).
 */
function exporterCounts (variant: Variant, route: RouteName, e0: ExporterSnapshot, e1: ExporterSnapshot): UdpCounts {
  const delta = (name: string, labels: Record<string, string> = {}): number => e1.metrics.sum(name, labels) - e0.metrics.sum(name, labels)
  const counts = { datagrams: delta('statsd_exporter_udp_packets_total'), lines: delta('statsd_exporter_lines_total') }
  if (variant === 'immobiliarelabs') {
    // Counted through the benchmark's extra mappings (exporter.ts PEER_MAPPINGS); the peer times no Redis commands.
    const peer = { route_id: IMMOBILIARELABS_ROUTE_IDS[route] }
    return { ...counts, requests: delta('immobiliarelabs_requests_total', peer), durations: delta('immobiliarelabs_response_time_seconds_count', peer), cacheHits: NaN, redisGets: NaN }
  }
  const mine = { instance: variant }
  const route_ = { ...mine, route: ROUTES[route].route }
  return {
    ...counts,
    requests: delta('http_requests_total', route_),
    durations: delta('http_request_duration_seconds_count', route_),
    cacheHits: delta('cache_lookups_total', { ...mine, result: 'hit' }),
    redisGets: delta('redis_command_duration_seconds_count', { ...mine, command: 'get' })
  }
}
