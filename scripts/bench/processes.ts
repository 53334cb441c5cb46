import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { freePort } from '../../test/helpers/redis.js'
import { BENCH_KEY, type Variant } from './app.js'
import { Receiver } from './receiver.js'
import type { ServerReply, ServerRequest, ServerStats } from './server.js'

/**
 * CPU placement: the servers under test on one CPU, everything else (this runner with autocannon
 * and the UDP receiver, redis-server) on another, when `taskset` (util-linux) exists and the
 * machine has two CPUs or more. Otherwise nothing is pinned and the report says so.
 */
export interface Pinning {
  enabled: boolean
  /** CPU of the load generator, receiver and Redis. */
  loadCpu: number
  /** CPU of the servers under test. */
  serverCpu: number
  reason: string
}

export function pinning (): Pinning {
  const cpus = availableParallelism()
  if (cpus < 2) return { enabled: false, loadCpu: 0, serverCpu: 0, reason: `only ${cpus} CPU: nothing pinned` }
  if (spawnSync('taskset', ['-V']).status !== 0) {
    return { enabled: false, loadCpu: 0, serverCpu: 1, reason: 'taskset not found (apt-get install util-linux): nothing pinned' }
  }
  return { enabled: true, loadCpu: 0, serverCpu: 1, reason: 'servers on CPU 1; load generator, receiver and redis-server on CPU 0' }
}

/** Pins every thread of this process to `cpu` (no-op when pinning is off). */
export function pinSelf (pin: Pinning): void {
  if (pin.enabled) spawnSync('taskset', ['-a', '-p', '-c', String(pin.loadCpu), String(process.pid)])
}

/** `command args` under `taskset -c cpu` when pinning is on. */
export function pinned (pin: Pinning, cpu: number, command: string, args: string[]): [string, string[]] {
  return pin.enabled ? ['taskset', ['-c', String(cpu), command, ...args]] : [command, args]
}

/** A redis-server of the benchmark's own, without persistence, on a free port. */
export interface BenchRedis { url: string, stop (): Promise<void> }

/** @throws when redis-server is missing or does not start within 10 s. */
export async function startRedis (pin: Pinning): Promise<BenchRedis> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-redis-'))
  const [command, args] = pinned(pin, pin.loadCpu, 'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'])
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  await new Promise<void>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000)
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)))
  })
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => stopChild(child).then(() => rmSync(dir, { recursive: true, force: true }))
  }
}

/** Asks a child to stop (`ask`, default SIGTERM), and kills it if it has not exited within `graceMs`. */
function stopChild (child: ChildProcess, ask: () => void = () => child.kill('SIGTERM'), graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    ask()
  })
}

/** A benchmark server child (scripts/bench/server.ts) and a typed view of its IPC channel. */
export interface BenchServer {
  variant: Variant
  pid: number
  port: number
  stats (): Promise<ServerStats>
  /** Resolves once the server's metrics sink flushed (immediately for uninstrumented variants). */
  flush (): Promise<void>
  /** What the server wrote to stderr, when started with `captureStderr`. */
  stderr (): string
  /** Closes the server (it flushes its metrics), killing it after `graceMs` (default 5 s). */
  close (graceMs?: number): Promise<void>
}

/**
 * The server entry beside this file: compiled JavaScript when the runner was compiled (npm run
 * bench), so the servers run without a TypeScript loader, whose hooks thread alone adds ~30 MB of
 * RSS; the TypeScript source through tsx otherwise.
 */
const COMPILED = import.meta.url.endsWith('.js')
const SERVER = fileURLToPath(new URL(COMPILED ? './server.js' : './server.ts', import.meta.url))

/** How to run a server: under a wrapper command (valgrind), with extra node flags. */
export interface ServerOptions {
  wrap?: string[]
  nodeArgs?: string[]
  /** Collect stderr (see {@link BenchServer.stderr}) instead of passing it through. */
  captureStderr?: boolean
  /** How long the server may take to listen, ms (default 120 s; valgrind on a busy machine needs more). */
  startTimeoutMs?: number
}

/** Spawns one server for `variant`, pinned to the server CPU, and waits until it listens. */
export async function startServer (pin: Pinning, variant: Variant, redisUrl: string, statsdPort: number, opts: ServerOptions = {}): Promise<BenchServer> {
  const node = [process.execPath, ...(opts.nodeArgs ?? []), ...(COMPILED ? [] : ['--import', 'tsx']), SERVER, variant, redisUrl, String(statsdPort)]
  const full = [...(opts.wrap ?? []), ...node]
  const [command, args] = pinned(pin, pin.serverCpu, full[0], full.slice(1))
  const child = spawn(command, args, { stdio: ['ignore', 'inherit', opts.captureStderr === true ? 'pipe' : 'inherit', 'ipc'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const pending = new Map<number, (reply: ServerReply) => void>()
  let nextId = 1
  const port = await new Promise<number>((resolve, reject) => {
    const startMs = opts.startTimeoutMs ?? 120_000
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${variant} server did not start within ${startMs / 1000} s`))
    }, startMs)
    child.once('exit', (code) => reject(new Error(`${variant} server exited with ${code} before listening${stderr === '' ? '' : `: ${stderr.slice(-2000)}`}`)))
    child.on('message', (reply: ServerReply) => {
      if (reply.type === 'ready') {
        clearTimeout(timer)
        resolve(reply.port)
      } else {
        pending.get(reply.id)?.(reply)
        pending.delete(reply.id)
      }
    })
  })
  // A server that died or hangs fails the run instead of stalling it.
  const ask = (type: 'stats' | 'flush'): Promise<ServerReply> => new Promise((resolve, reject) => {
    if (!child.connected) return reject(new Error(`${variant} server is gone (exit code ${child.exitCode})`))
    const id = nextId++
    const timer = setTimeout(() => {
      pending.delete(id)
      reject(new Error(`${variant} server did not answer ${type} within 30 s`))
    }, 30_000)
    pending.set(id, (reply) => {
      clearTimeout(timer)
      resolve(reply)
    })
    child.send({ type, id } satisfies ServerRequest)
  })
  return {
    variant,
    pid: child.pid ?? 0,
    port,
    async stats () {
      const reply = await ask('stats')
      if (reply.type !== 'stats') throw new Error(`unexpected reply ${reply.type}`)
      return reply.stats
    },
    async flush () { await ask('flush') },
    stderr: () => stderr,
    close (graceMs?: number) {
      return stopChild(child, () => {
        if (child.connected) child.send({ type: 'close' } satisfies ServerRequest)
        else child.kill('SIGTERM')
      }, graceMs)
    }
  }
}

/** What every benchmark entry point runs beside the servers. */
export interface BenchFixtures {
  pin: Pinning
  redis: BenchRedis
  receiver: Receiver
}

/**
 * Pins this process to the load-generator CPU, starts a redis-server holding the benchmark key
 * (`item:BENCH_KEY`, a 64-byte value, so `GET /items/:key` is a hit) and a UDP receiver
 * standing in for statsd_exporter. The caller stops `redis` and closes `receiver`.
 */
export async function startFixtures (): Promise<BenchFixtures> {
  const pin = pinning()
  pinSelf(pin)
  const redis = await startRedis(pin)
  const seed = new Redis(redis.url)
  await seed.set(`item:${BENCH_KEY}`, 'x'.repeat(64))
  seed.disconnect()
  const receiver = await Receiver.start()
  return { pin, redis, receiver }
}
