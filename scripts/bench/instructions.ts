/**
 * `npm run bench:instructions`: user-space instructions per request, counted by valgrind
 * (cachegrind, no cache simulation) in the benchmark server. Unlike req/s and CPU time, the
 * count does not move when other work shares the machine, so it compares variants steadily.
 *
 * Each variant and route is run twice with the same warm-up and `--requests` or 7x more
 * requests (autocannon, 10 connections); the difference of the two totals divided by the extra
 * requests is the steady-state cost of one request, start-up and JIT warm-up cancelled out. Node
 * runs with `--single-threaded` so that background compilation and GC threads do not make the
 * totals wander. Kernel work (socket writes, epoll) is not counted: it is the same for every
 * variant except the datagrams sent. The service's timers (metric flushes, runtime and overload
 * samples) run longer in the longer run and are counted in too: a few hundred instructions per
 * request at valgrind's speed. Load shedding is off (OVERLOAD_MAX_EVENT_LOOP_DELAY_MS=0): under
 * valgrind a whole sample can pass without an event-loop delay value, which
 * @fastify/under-pressure reads as an infinite delay, shedding everything but liveness; so its
 * `onRequest` hook is not counted. Redis commands and connection attempts time out after 60 s.
 *
 * Slow (valgrind runs the server 30-50x slower): about a minute per run. By default the service
 * as shipped, its minimal twin and bare on both routes (12 runs). Options: --variants a,b
 * --routes trivial,redis --requests N (default 10000) --warmup N (default 5000) --jobs N (runs at once, default 1; the
 * counts do not depend on it) --decompose (the service, its twin and the service without each
 * part of DECOMPOSITION_PARTS in turn, and with ACCESS_LOG=true, printed as a table of what each
 * part costs; "saved" is negative for the access log, which adds).
 */
import { spawnSync } from 'node:child_process'
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
process.env.REDIS_COMMAND_TIMEOUT_MS = '60000'
process.env.REDIS_CONNECT_TIMEOUT_MS = '60000'
const { pin, redis, receiver } = await startFixtures()

/** Instructions the server executed from start to exit, after `WARMUP + n` requests. */
async function total (variant: Variant, route: RouteName, n: number): Promise<number> {
  const server = await startServer(pin, variant, redis.url, receiver.port, {
    wrap: ['valgrind', '--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null'],
    nodeArgs: ['--single-threaded'],
    captureStderr: true,
    startTimeoutMs: 900_000
  })
  const url = `http://127.0.0.1:${server.port}${ROUTES[route].url}`
  try {
    for (const amount of [WARMUP, n]) {
      // Valgrind on a shared machine can stall a response for many seconds; a timeout would resend it.
      const res = await closedLoop(url, 10, amount, 600)
      if (res.non2xx > 0 || res.errors > 0) throw new Error(`${variant} ${route}: ${res.non2xx} non-2xx, ${res.errors} errors`)
    }
  } finally {
    await server.close(900_000)
  }
  receiver.take()
  const refs = /I\s+refs:\s+([\d,]+)/.exec(server.stderr())?.[1]
  if (refs === undefined) throw new Error(`${variant} ${route}: no instruction count in valgrind's output:\n${server.stderr()}`)
  return Number(refs.replaceAll(',', ''))
}

/** Steady-state instructions per request of `variant` on `route`. */
async function perRequest (variant: Variant, route: RouteName): Promise<number> {
  const small = await total(variant, route, requests)
  const large = await total(variant, route, requests * 7)
  const n = (large - small) / (requests * 6)
  process.stderr.write(`${route} ${variant}: ${n.toFixed(0)} instructions/request\n`)
  return n
}

let failed = false

/** Runs every (variant, route) pair, `jobs` at a time. */
async function measureAll (): Promise<Map<string, number>> {
  const queue = routes.flatMap((route) => variants.map((variant) => ({ variant, route })))
  const results = new Map<string, number>()
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
  const at = (v: Variant, r: RouteName): number | undefined => count.get(`${v} ${r}`)
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
