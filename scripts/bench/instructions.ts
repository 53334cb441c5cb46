/**
 * `npm run bench:instructions`: user-space instructions per request, counted by valgrind
 * (cachegrind, no cache simulation) in the benchmark server. Unlike req/s and CPU time, the
 * count does not move when other work shares the machine, so it compares variants steadily.
 *
 * Each variant and route is run twice with the same warm-up and `--requests` or 7x more
 * requests (autocannon, 10 connections); the difference of the two totals divided by the extra
 * requests is the steady-state cost of one request, start-up and JIT warm-up cancelled out. A
 * third run, `--requests` then `--idle` seconds (default 20; 0 skips the run and the correction)
 * without requests, gives the server's idle instructions per second (timers, and V8's
 * after-load GC); that rate times the extra time the longer run served is taken out, so
 * per-second work is not charged per request (it is printed apart).
 * Node runs with `--single-threaded` so that background compilation and GC threads do not make
 * the totals wander. Kernel work (socket writes, epoll) is not counted: it is the same for every
 * variant except the datagrams sent. Load shedding keeps its per-request `onRequest` hook but
 * never sheds: the event-loop-delay check is off (OVERLOAD_MAX_EVENT_LOOP_DELAY_MS=0; under
 * valgrind a whole sample can pass without a delay value, which @fastify/under-pressure reads as
 * an infinite delay, shedding everything but liveness) and the utilization check is on at 1
 * (OVERLOAD_MAX_EVENT_LOOP_UTILIZATION=1, never exceeded), so the hook runs as shipped. Redis
 * commands and connection attempts time out after 60 s.
 *
 * Slow (valgrind runs the server 30-50x slower): about a minute per run. By default the service
 * as shipped, its minimal twin and bare on both routes (18 runs). Options: --variants a,b
 * --routes trivial,redis --requests N (default 10000) --warmup N (default 5000) --idle S
 * (default 20) --jobs N (runs at once, default 1; with 2 on this 2-vCPU machine the service's
 * count per trivial request rose from 65k to 73-78k, the twin's far less: time-driven work (GC
 * scheduling, timers) lands differently, so quote figures from --jobs 1 on a quiet machine) --decompose
 * (the service, its twin and the service without each part of DECOMPOSITION_PARTS in turn, and
 * with ACCESS_LOG=true, printed as a table of what each part costs; "saved" is negative for the
 * access log, which adds).
 */
import { spawnSync } from 'node:child_process'
import { setTimeout } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { haveRedisServer, NO_REDIS } from '../../test/helpers/redis.js'
import { DECOMPOSITION_PARTS, ROUTES, VARIANTS, type RouteName, type Variant } from './app.js'
import { closedLoop } from './load.js'
import { startFixtures, startServer } from './processes.js'

const { values: args } = parseArgs({
  options: {
    variants: { type: 'string' },
    routes: { type: 'string' },
    requests: { type: 'string' },
    jobs: { type: 'string' },
    warmup: { type: 'string' },
    idle: { type: 'string' },
    decompose: { type: 'boolean', default: false }
  }
})
const decompose = args.decompose === true
const variants = (args.variants?.split(',') ??
  (decompose ? ['twin', 'service', 'service-access-log', ...DECOMPOSITION_PARTS.map((p) => `service-no-${p}`)] : ['bare', 'twin', 'service'])) as Variant[]
const routes = (args.routes?.split(',') ?? Object.keys(ROUTES)) as RouteName[]
const requests = Number(args.requests ?? 10_000)
const jobs = Math.max(1, Number(args.jobs ?? 1))
const WARMUP = Number(args.warmup ?? 5000)
/** How long the idle run stays idle after its requests, milliseconds. */
const IDLE_MS = Number(args.idle ?? 20) * 1000
for (const v of variants) if (!(VARIANTS as readonly string[]).includes(v)) throw new Error(`unknown variant ${v}`)
for (const r of routes) if (!(r in ROUTES)) throw new Error(`unknown route ${r}`)
if (spawnSync('valgrind', ['--version']).status !== 0) {
  process.stderr.write('bench:instructions: valgrind is not installed: run `apt-get install -y valgrind`\n')
  process.exit(1)
}
if (!haveRedisServer()) {
  process.stderr.write(`bench:instructions: ${NO_REDIS}\n`)
  process.exit(1)
}

process.env.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS = '0'
process.env.OVERLOAD_MAX_EVENT_LOOP_UTILIZATION = '1'
process.env.REDIS_COMMAND_TIMEOUT_MS = '60000'
process.env.REDIS_CONNECT_TIMEOUT_MS = '60000'
const { pin, redis, receiver } = await startFixtures()

/** One valgrind run: the instructions the server executed from start to exit, and how long it served. */
interface Run {
  /** Instructions, start to exit. */
  refs: number
  /** Wall time from listening to the close request, milliseconds: what its timers ran through. */
  servedMs: number
}

/** Runs `variant` under valgrind for `WARMUP + n` requests on `route`, then `idleMs` with no request. */
async function total (variant: Variant, route: RouteName, n: number, idleMs = 0): Promise<Run> {
  const server = await startServer(pin, variant, redis.url, receiver.port, {
    wrap: ['valgrind', '--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null'],
    nodeArgs: ['--single-threaded'],
    captureStderr: true,
    startTimeoutMs: 900_000
  })
  const listening = performance.now()
  let servedMs = 0
  const url = `http://127.0.0.1:${server.port}${ROUTES[route].url}`
  try {
    for (const amount of [WARMUP, n]) {
      // Valgrind on a shared machine can stall a response for many seconds; a timeout would resend it.
      const res = await closedLoop(url, 10, amount, 600)
      if (res.non2xx > 0 || res.errors > 0) throw new Error(`${variant} ${route}: ${res.non2xx} non-2xx, ${res.errors} errors`)
    }
    if (idleMs > 0) await setTimeout(idleMs)
    servedMs = performance.now() - listening
  } finally {
    await server.close(900_000)
  }
  receiver.take()
  const refs = /I\s+refs:\s+([\d,]+)/.exec(server.stderr())?.[1]
  if (refs === undefined) throw new Error(`${variant} ${route}: no instruction count in valgrind's output:\n${server.stderr()}`)
  return { refs: Number(refs.replaceAll(',', '')), servedMs }
}

/** What one (variant, route) pair costs. */
interface Cost {
  /** Instructions per request, the idle rate's share of the longer run taken out. */
  perRequest: number
  /** Instructions per request before that correction. */
  uncorrected: number
  /** Instructions per second of an idle server under valgrind (timers: flushes, samples, event-loop-delay histograms). */
  idlePerSecond: number
}

/**
 * Steady-state cost of one request of `variant` on `route`: (large - small - idle rate x the
 * extra time the large run served) / the extra requests. The idle rate comes from a third run,
 * `small` followed by {@link IDLE_MS} without requests. Without the correction, work that runs
 * per second (the service's timers) would be charged per request at valgrind's speed, 30-50x
 * more per request than at native speed, and would move with the machine's load.
 */
async function perRequest (variant: Variant, route: RouteName): Promise<Cost> {
  const small = await total(variant, route, requests)
  const large = await total(variant, route, requests * 7)
  let idlePerMs = 0
  if (IDLE_MS > 0) {
    const idle = await total(variant, route, requests, IDLE_MS)
    idlePerMs = Math.max(0, (idle.refs - small.refs) / (idle.servedMs - small.servedMs))
  }
  const uncorrected = (large.refs - small.refs) / (requests * 6)
  const cost = {
    perRequest: (large.refs - small.refs - idlePerMs * (large.servedMs - small.servedMs)) / (requests * 6),
    uncorrected,
    idlePerSecond: idlePerMs * 1000
  }
  process.stderr.write(`${route} ${variant}: ${cost.perRequest.toFixed(0)} instructions/request (uncorrected ${uncorrected.toFixed(0)}; idle ${(cost.idlePerSecond / 1000).toFixed(0)}k/s)\n`)
  return cost
}

let failed = false

/** Runs every (variant, route) pair, `jobs` at a time. */
async function measureAll (): Promise<Map<string, Cost>> {
  const queue = routes.flatMap((route) => variants.map((variant) => ({ variant, route })))
  const results = new Map<string, Cost>()
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      // One failed pair (a server that did not start) leaves a gap in the table, not a lost run.
      try {
        results.set(`${next.variant} ${next.route}`, await perRequest(next.variant, next.route))
      } catch (err) {
        failed = true
        process.stderr.write(`${next.route} ${next.variant}: FAILED: ${(err as Error).message}\n`)
      }
    }
  }
  await Promise.all(Array.from({ length: jobs }, worker))
  return results
}

const k = (n: number | undefined): string => n === undefined ? '-' : `${(n / 1000).toFixed(1)}k`
const ratio = (n: number | undefined, d: number | undefined): string => n === undefined || d === undefined ? '-' : (n / d).toFixed(3)

try {
  const count = await measureAll()
  const at = (v: Variant, r: RouteName): number | undefined => count.get(`${v} ${r}`)?.perRequest
  const lines = ['', `instructions per request (valgrind; ${requests} vs ${requests * 7} requests after ${WARMUP} warm-up, 10 connections)`, '']
  if (decompose) {
    lines.push(`| service without | ${routes.map((r) => `${r} | saved`).join(' | ')} |`, `|---|${routes.map(() => '--:|--:').join('|')}|`)
    for (const v of variants) {
      const name = v === 'service' ? '(nothing: as shipped)' : v === 'twin' ? '(the minimal twin)' : v === 'service-access-log' ? '(nothing, and ACCESS_LOG=true added)' : v.slice('service-no-'.length)
      lines.push(`| ${name} | ${routes.map((r) => {
        const n = at(v, r)
        const service = at('service', r)
        return `${k(n)} | ${v === 'service' || n === undefined || service === undefined ? '-' : k(service - n)}`
      }).join(' | ')} |`)
    }
  } else {
    lines.push('| route | variant | instructions/request | x bare |', '|---|---|--:|--:|')
    for (const r of routes) for (const v of variants) lines.push(`| ${r} | ${v} | ${k(at(v, r))} | ${ratio(at(v, r), at('bare', r))} |`)
  }
  lines.push('', IDLE_MS > 0
    ? `idle instructions per second under valgrind (taken out above, ${IDLE_MS / 1000} s idle run), and the count without that correction:`
    : 'no idle run (--idle 0): the counts above are not corrected for per-second work')
  for (const r of routes) {
    for (const v of variants) {
      const c = count.get(`${v} ${r}`)
      if (c !== undefined) lines.push(`  ${r} ${v}: idle ${k(c.idlePerSecond)}/s, uncorrected ${k(c.uncorrected)}/request`)
    }
  }
  lines.push('')
  for (const r of routes) {
    if (at('service', r) !== undefined && at('twin', r) !== undefined) {
      lines.push(`${r}: the service as shipped ${k(at('service', r))} vs the twin ${k(at('twin', r))}: ${ratio(at('service', r), at('twin', r))}x (goal <= 1.20)`)
    }
  }
  process.stdout.write(lines.join('\n') + '\n')
  if (failed) process.exitCode = 1
} finally {
  await receiver.close()
  await redis.stop()
}
process.exit(process.exitCode ?? 0)
