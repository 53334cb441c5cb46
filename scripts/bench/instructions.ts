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
 * variant except the datagrams sent.
 *
 * Slow (valgrind runs the server 30-50x slower): about a minute per run; by default bare and
 * aggregating on the trivial route (4 runs). Options: --variants a,b --routes trivial,redis
 * --requests N (default 10000).
 */
import { spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { haveRedisServer, NO_REDIS } from '../../test/helpers/redis.js'
import { ROUTES, VARIANTS, type RouteName, type Variant } from './app.js'
import { closedLoop } from './load.js'
import { startFixtures, startServer } from './processes.js'

const { values: args } = parseArgs({
  options: { variants: { type: 'string' }, routes: { type: 'string' }, requests: { type: 'string' } }
})
const variants = (args.variants?.split(',') ?? ['bare', 'aggregating']) as Variant[]
const routes = (args.routes?.split(',') ?? ['trivial']) as RouteName[]
const requests = Number(args.requests ?? 10_000)
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

const WARMUP = 5000
const { pin, redis, receiver } = await startFixtures()

/** Instructions the server executed from start to exit, after `WARMUP + n` requests. */
async function total (variant: Variant, route: RouteName, n: number): Promise<number> {
  const server = await startServer(pin, variant, redis.url, receiver.port, {
    wrap: ['valgrind', '--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null'],
    nodeArgs: ['--single-threaded'],
    captureStderr: true
  })
  const url = `http://127.0.0.1:${server.port}${ROUTES[route].url}`
  for (const amount of [WARMUP, n]) {
    const res = await closedLoop(url, 10, amount)
    if (res.non2xx > 0 || res.errors > 0) throw new Error(`${variant} ${route}: ${res.non2xx} non-2xx, ${res.errors} errors`)
  }
  await server.close(120_000)
  receiver.take()
  const refs = /I\s+refs:\s+([\d,]+)/.exec(server.stderr())?.[1]
  if (refs === undefined) throw new Error(`${variant} ${route}: no instruction count in valgrind's output:\n${server.stderr()}`)
  return Number(refs.replaceAll(',', ''))
}

try {
  const rows: string[] = []
  for (const route of routes) {
    const perRequest = new Map<Variant, number>()
    for (const v of variants) {
      const small = await total(v, route, requests)
      const large = await total(v, route, requests * 7)
      perRequest.set(v, (large - small) / (requests * 6))
      process.stderr.write(`${route} ${v}: ${(perRequest.get(v) ?? 0).toFixed(0)} instructions/request\n`)
    }
    const bare = perRequest.get('bare')
    for (const [v, n] of perRequest) {
      rows.push(`| ${route} | ${v} | ${(n / 1000).toFixed(1)}k | ${bare === undefined ? '-' : (n / bare).toFixed(3)} |`)
    }
  }
  process.stdout.write(['', '| route | variant | instructions/request | x bare |', '|---|---|--:|--:|', ...rows, ''].join('\n') + '\n')
} finally {
  await receiver.close()
  await redis.stop()
}
process.exit(0)
