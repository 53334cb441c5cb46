import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { get } from 'node:http'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { freePort, startRedis, type RedisServer } from './redis.js'
import { udpListener, type UdpListener } from './udp.js'

/** The service entry point, run from source. */
export const SERVER_TS = fileURLToPath(new URL('../../service/server.ts', import.meta.url))

/** One line the service wrote: a parsed pino record, or `{ msg: raw }` for anything else. */
export interface LogLine {
  level?: number
  msg?: string
  time?: number
  [key: string]: unknown
}

/** pino's numeric levels: a line at or above WARN is a warning or an error. */
export const WARN = 40

/** How a service process ended. */
export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  /** Date.now() when the process exited. */
  at: number
}

/** A real service process on 127.0.0.1, owned by one test. */
export interface ServiceProcess {
  readonly pid: number
  readonly port: number
  /** http://127.0.0.1:port */
  readonly url: string
  /** Every stdout line so far, parsed (pino writes JSON lines). */
  readonly logs: LogLine[]
  /** Everything written to stderr so far. */
  stderr (): string
  /** Resolves with the first log line (past or future) that satisfies `predicate`; rejects after `timeoutMs`. */
  waitForLog (predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>
  /** Sends a signal to the process. */
  kill (signal: NodeJS.Signals): void
  /** Resolves when the process has exited (immediately if it already has). */
  readonly exited: Promise<Exit>
  /** True while the process runs. */
  alive (): boolean
  /** Resident set size of the process now, in bytes (Linux /proc). */
  rssBytes (): number
}

/** How long {@link startService} waits for the service to answer by default (ms). */
const LISTEN_TIMEOUT_MS = 180_000

export interface ServiceOptions {
  /**
   * Environment on top of the test defaults (a free PORT, HOST=127.0.0.1, LOG_LEVEL=info,
   * ACCESS_LOG=true: tests wait for a request's `incoming request` line; no load shedding,
   * OVERLOAD_MAX_EVENT_LOOP_DELAY_MS=0 and OVERLOAD_MAX_EVENT_LOOP_UTILIZATION=0, unless the test
   * sets them: on a busy machine the service's event loop can lag past any threshold, and the
   * overload 503 would mask what the test checks, as test/helpers/app.ts does for build()).
   */
  env?: Record<string, string>
  /** How long to wait for the service to answer, in ms (default 180000: the loader compiles TS first, which can take over 60 s on a loaded 2-core machine). */
  listenTimeoutMs?: number
}

/** Resolves true when GET /health/live answers 200 (one connection, closed after). */
function answers (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/health/live', agent: false, timeout: 5000 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(false))
  })
}

/** Minimal view of a tap test: who tears the process down. */
export interface Owner {
  teardown (fn: () => unknown): void
}

/**
 * Spawns the service as a real child process, the way production runs it (server.ts: config,
 * close-with-grace, listen), and waits until it listens.
 *
 * It runs `service/server.ts` from source with the Node arguments of the current test process
 * (`process.execArgv`: tap's TypeScript loader and its coverage hook), so the child executes the
 * code under test, not a stale `dist/` that another build may be rewriting, and its lines count
 * in the coverage report. It listens on a free loopback port; start-up is complete when
 * `GET /health/live` answers 200.
 *
 * The process is killed (SIGKILL) at teardown if it still runs.
 * @throws when the process exits or stays silent for `listenTimeoutMs` before listening; the
 *   error carries its stderr and last log lines.
 */
export async function startService (t: Owner, opts: ServiceOptions = {}): Promise<ServiceProcess> {
  const port = Number(opts.env?.PORT ?? await freePort())
  const env = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ACCESS_LOG: 'true',
    SERVICE_NAME: 'svc',
    SERVICE_INSTANCE: 'test',
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0',
    ...opts.env
  }
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, SERVER_TS], {
    env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const logs: LogLine[] = []
  const waiters = new Set<(line: LogLine) => void>()
  let stderr = ''
  let pending = ''
  child.stdout?.setEncoding('utf8')
  child.stdout?.on('data', (chunk: string) => {
    pending += chunk
    let nl = pending.indexOf('\n')
    while (nl !== -1) {
      const raw = pending.slice(0, nl)
      pending = pending.slice(nl + 1)
      nl = pending.indexOf('\n')
      if (raw === '') continue
      let line: LogLine
      try {
        line = JSON.parse(raw) as LogLine
      } catch {
        line = { msg: raw }
      }
      logs.push(line)
      for (const waiter of waiters) waiter(line)
    }
  })
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => { stderr += chunk })

  let exit: Exit | undefined
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal, at: Date.now() }
      resolve(exit)
    })
  })
  t.teardown(async () => {
    if (exit === undefined) {
      child.kill('SIGKILL')
      await exited
    }
  })

  const describe = (): string => `stderr:\n${stderr.slice(-4000)}\nlast log lines:\n${logs.slice(-20).map((l) => JSON.stringify(l)).join('\n')}`

  const waitForLog = (predicate: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> => {
    const seen = logs.find(predicate)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const waiter = (line: LogLine): void => {
        if (!predicate(line)) return
        finish()
        resolve(line)
      }
      const timer = setTimeout(() => {
        finish()
        reject(new Error(`no matching log line within ${timeoutMs} ms\n${describe()}`))
      }, timeoutMs)
      const onExit = (): void => {
        finish()
        reject(new Error(`service exited (${JSON.stringify(exit)}) before the expected log line\n${describe()}`))
      }
      const finish = (): void => {
        clearTimeout(timer)
        waiters.delete(waiter)
        child.off('exit', onExit)
      }
      waiters.add(waiter)
      child.once('exit', onExit)
    })
  }

  // Polling /health/live works at any LOG_LEVEL; a port taken meanwhile makes the child exit
  // (EADDRINUSE), which is reported instead of talking to someone else's server.
  const deadline = Date.now() + (opts.listenTimeoutMs ?? LISTEN_TIMEOUT_MS)
  while (!(await answers(port))) {
    if (exit !== undefined) throw new Error(`service exited before listening: ${JSON.stringify(exit)}\n${describe()}`)
    if (Date.now() > deadline) throw new Error(`service not answering on ${port} after ${opts.listenTimeoutMs ?? LISTEN_TIMEOUT_MS} ms\n${describe()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const pid = child.pid ?? -1
  return {
    pid,
    port,
    url: `http://127.0.0.1:${port}`,
    logs,
    stderr: () => stderr,
    waitForLog,
    kill: (signal) => { child.kill(signal) },
    exited,
    alive: () => exit === undefined,
    rssBytes: () => {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8')
      const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1]
      return Number(kb) * 1024
    }
  }
}

/**
 * Starts the service and expects it NOT to start: resolves with how it exited and everything
 * it wrote, once it exits; rejects if it is still running after `timeoutMs`.
 */
export async function expectStartFailure (t: Owner, opts: ServiceOptions & { timeoutMs: number }): Promise<{ exit: Exit, logs: LogLine[], stderr: string, startedAt: number }> {
  const env = { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...opts.env }
  const startedAt = Date.now()
  const child = spawn(process.execPath, [...process.execArgv, SERVER_TS], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c })
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const exit = await new Promise<Exit>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still running after ${opts.timeoutMs} ms\n${stdout}\n${stderr}`)), opts.timeoutMs)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, at: Date.now() })
    })
  })
  const logs = stdout.split('\n').filter((l) => l !== '').map((raw) => {
    try {
      return JSON.parse(raw) as LogLine
    } catch {
      return { msg: raw }
    }
  })
  return { exit, logs, stderr, startedAt }
}

/**
 * Resolves when the service has received a request for `url` (exact path and query): the
 * event is Fastify's own request log line (`incoming request`, info, with `req.url`), written
 * when the request reaches Fastify, so the test never guesses with a sleep.
 */
export function requestReceived (svc: ServiceProcess, url: string, timeoutMs = 10_000): Promise<LogLine> {
  return svc.waitForLog((l) => l.msg === 'incoming request' && (l.req as { url?: unknown } | undefined)?.url === url, timeoutMs)
}

/** A service process with peers of its own: what {@link startServiceWithPeers} gives a test. */
export interface ServiceWithPeers {
  redis: RedisServer
  /** Stands in for statsd_exporter, with a 4 MiB receive buffer so a burst of lines is not dropped. */
  udp: UdpListener
  svc: ServiceProcess
}

/**
 * Starts a redis-server and a UDP receiver for this test, then the service pointed at both
 * (`REDIS_URL`, `STATSD_PORT`) with `env` on top; all three are stopped at teardown.
 */
export async function startServiceWithPeers (t: Owner, env: Record<string, string> = {}): Promise<ServiceWithPeers> {
  const redis = await startRedis(t)
  const udp = await udpListener(t, 0, 4 * 1024 * 1024)
  const svc = await startService(t, { env: { REDIS_URL: redis.url, STATSD_PORT: String(udp.port), ...env } })
  return { redis, udp, svc }
}

/**
 * Records every command the redis-server receives from now on (MONITOR, on a connection of
 * its own closed at teardown), lower-cased name first: how a test sees the service's QUIT.
 */
export async function redisCommands (t: Owner, redis: RedisServer): Promise<string[][]> {
  const client = new Redis(redis.url, { lazyConnect: true })
  await client.connect()
  const commands: string[][] = []
  const stream = await client.monitor()
  stream.on('monitor', (_time: string, args: string[]) => { commands.push([String(args[0]).toLowerCase(), ...args.slice(1)]) })
  t.teardown(() => {
    stream.disconnect()
    client.disconnect()
  })
  return commands
}
