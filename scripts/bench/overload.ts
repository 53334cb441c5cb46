import { spawn, spawnSync } from 'node:child_process'
import { get } from 'node:http'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '../../test/helpers/redis.js'
import { CPU_ITERATIONS, generate } from '../../test/helpers/load.js'
import { BENCH_KEY } from './app.js'
import { startFixtures, type Pinning } from './processes.js'

/**
 * Overload benchmark (issue 12): the real service (`dist/server.js`, built by `npm run build`)
 * under two kinds of overload, once per shedding configuration, side by side:
 *
 * - burst: `wrk -c 2000 -t 2 -d 15s --timeout 10s` on `GET /items/<key>` (a Redis hit): a
 *   closed loop, 2,000 clients each waiting for its answer before asking again;
 * - cpu: the case of test/faults/overload.test.ts, an open loop of 40 `/demo/cpu` requests per
 *   second (PBKDF2, tens of ms of event-loop time each: about twice what one core serves), at most
 *   64 in flight, for 10 s.
 *
 * Per run it prints 2xx per second, p99 latency of every answer, and the share of 503s.
 * Usage: `npm run bench:overload [-- --duration 15 --only burst|cpu --config 'label:K=V,K=V' ...]`.
 * Without --config it compares the default (delay check only) with the utilization check added. The server runs on
 * one CPU, wrk, redis-server and this script on the other (when taskset exists); other work on
 * the machine still competes, so the configurations run back to back in the same conditions.
 * @throws when wrk or redis-server is missing, or the service does not start.
 */

interface Configuration { label: string, env: Record<string, string> }
interface Row { config: string, load: string, okPerSecond: number, p99Ms: number, shedShare: number, other: string }

/** The repository root, from the compiled runner (.run/bench/scripts/bench/) or from its source. */
const ROOT = new URL(import.meta.url.endsWith('.js') ? '../../../../' : '../../', import.meta.url)
const SERVER = fileURLToPath(new URL('dist/server.js', ROOT))
const LUA = fileURLToPath(new URL('scripts/bench/statuses.lua', ROOT))

const DEFAULTS: Configuration[] = [
  { label: 'utilization 0.98 or delay 1000 ms', env: { OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0.98', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '1000' } },
  { label: 'default: delay 1000 ms (config.ts)', env: {} }
]

function parseArgs (argv: string[]): { durationS: number, only?: string, configs: Configuration[] } {
  let durationS = 15
  let only: string | undefined
  const configs: Configuration[] = []
  for (let i = 0; i < argv.length; i++) {
    const [flag, value = ''] = [argv[i], argv[i + 1]]
    if (flag === '--duration') durationS = Number(value)
    else if (flag === '--only') only = value
    else if (flag === '--config') {
      const [label, pairs = ''] = value.split(':')
      configs.push({ label, env: Object.fromEntries(pairs.split(',').filter(Boolean).map((p) => p.split('=') as [string, string])) })
    } else throw new Error(`unknown argument ${flag}`)
    i++
  }
  return { durationS, only, configs: configs.length > 0 ? configs : DEFAULTS }
}

function answers (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path: '/health/live', agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    }).on('error', () => resolve(false))
  })
}

/** Starts `node dist/server.js` on the server CPU; resolves with its URL and a stop function. */
async function startService (pin: Pinning, env: Record<string, string>): Promise<{ url: string, stop: () => Promise<void> }> {
  const port = await freePort()
  const args = pin.enabled ? ['-c', String(pin.serverCpu), process.execPath, SERVER] : [SERVER]
  const child = spawn(pin.enabled ? 'taskset' : process.execPath, args, {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const deadline = Date.now() + 30_000
  while (!(await answers(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`service did not start (exit ${String(child.exitCode)})`)
    await sleep(100)
  }
  return { url: `http://127.0.0.1:${port}`, stop: async () => { child.kill('SIGTERM'); await exited } }
}

/** One wrk run on the load CPU; returns its JSON line (statuses.lua). */
function wrk (pin: Pinning, args: string[]): { durationUs: number, requests: number, p99Us: number, statuses: Record<string, number>, errors: Record<string, number> } {
  const full = ['-s', LUA, ...args]
  const run = spawnSync(pin.enabled ? 'taskset' : 'wrk', pin.enabled ? ['-c', String(pin.loadCpu), 'wrk', ...full] : full, { encoding: 'utf8' })
  const line = run.stdout?.split('\n').find((l) => l.startsWith('WRK_JSON '))
  if (line === undefined) throw new Error(`wrk failed (is it installed?): ${run.error?.message ?? run.stderr}`)
  return JSON.parse(line.slice('WRK_JSON '.length))
}

async function burst (pin: Pinning, url: string, durationS: number): Promise<Omit<Row, 'config'>> {
  wrk(pin, ['-c', '50', '-t', '1', '-d', '2s', `${url}/items/${BENCH_KEY}`]) // warm-up: JIT, connections to Redis
  await sleep(2500) // two samples of calm, so the run starts unshed
  const r = wrk(pin, ['-c', '2000', '-t', '2', '-d', `${durationS}s`, '--timeout', '10s', `${url}/items/${BENCH_KEY}`])
  const ok = Object.entries(r.statuses).filter(([s]) => s.startsWith('2')).reduce((a, [, n]) => a + n, 0)
  const other = Object.entries(r.statuses).filter(([s]) => !s.startsWith('2') && s !== '503').map(([s, n]) => `${n}x${s}`)
  const errors = Object.entries(r.errors).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k} errors`)
  return {
    load: 'burst: wrk -c 2000 GET /items/:key',
    okPerSecond: ok / (r.durationUs / 1e6),
    p99Ms: r.p99Us / 1000,
    shedShare: (r.statuses['503'] ?? 0) / Math.max(1, r.requests),
    other: [...other, ...errors].join(', ') || '-'
  }
}

async function cpu (url: string, durationS: number): Promise<Omit<Row, 'config'>> {
  const { samples, skipped } = await generate({ url, rate: 40, durationMs: durationS * 1000, maxInFlight: 64, timeoutMs: 30_000, mix: ['cpu'], keyPrefix: 'cpu' })
  const answered = samples.filter((s) => s.status > 0)
  const latencies = answered.map((s) => s.end - s.start).sort((a, b) => a - b)
  const span = (Math.max(...samples.map((s) => s.end)) - Math.min(...samples.map((s) => s.start))) / 1000
  const other = samples.filter((s) => s.status !== 503 && (s.status < 200 || s.status > 299)).length
  return {
    load: `cpu: 40/s /demo/cpu (${CPU_ITERATIONS} PBKDF2 iterations)`,
    okPerSecond: answered.filter((s) => s.status >= 200 && s.status < 300).length / span,
    p99Ms: latencies[Math.ceil(latencies.length * 0.99) - 1] ?? 0,
    shedShare: answered.filter((s) => s.status === 503).length / Math.max(1, samples.length),
    other: `${skipped} not sent (64 in flight)${other > 0 ? `, ${other} failed` : ''}`
  }
}

async function main (): Promise<void> {
  const { durationS, only, configs } = parseArgs(process.argv.slice(2))
  const { pin, redis, receiver } = await startFixtures()
  const rows: Row[] = []
  try {
    for (const [name, run] of [['burst', burst], ['cpu', cpu]] as const) {
      if (only !== undefined && only !== name) continue
      for (const config of configs) {
        const svc = await startService(pin, { REDIS_URL: redis.url, STATSD_PORT: String(receiver.port), ...config.env })
        try {
          rows.push({ config: config.label, ...await (name === 'burst' ? run(pin, svc.url, durationS) : cpu(svc.url, Math.min(durationS, 10))) })
        } finally {
          await svc.stop()
        }
      }
    }
  } finally {
    await receiver.close()
    await redis.stop()
  }
  process.stdout.write(`overload benchmark; ${pin.reason}\n\n| load | shedding | 2xx/s | p99 ms | 503 share | other |\n|---|---|---:|---:|---:|---|\n`)
  for (const r of rows) {
    process.stdout.write(`| ${r.load} | ${r.config} | ${r.okPerSecond.toFixed(0)} | ${r.p99Ms.toFixed(0)} | ${(100 * r.shedShare).toFixed(1)} % | ${r.other} |\n`)
  }
}

await main()
