import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Minimal view of a tap test the helpers need: somewhere to register clean-up. */
export interface TestLike {
  teardown (fn: () => unknown): void
}

/** True when `redis-server` is on PATH. */
export function haveRedisServer (): boolean {
  return spawnSync('redis-server', ['--version']).status === 0
}

/** The reason tests give when they skip because redis-server is missing. */
export const NO_REDIS = 'redis-server is not installed: run `apt-get install -y redis-server` (the project .ci/run does)'

/** A free TCP port on 127.0.0.1, chosen by the kernel. */
export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

/** A real redis-server on loopback, owned by one test. */
export interface RedisServer {
  readonly port: number
  readonly url: string
  /** Data directory (append-only file lives here when `appendonly` is on). */
  readonly dir: string
  /** Stops the server (SIGTERM: a clean shutdown) and waits for it to exit. */
  stop (signal?: NodeJS.Signals): Promise<void>
  /** Starts it again on the same port and directory. */
  start (): Promise<void>
  /**
   * Freezes the server (SIGSTOP): connections stay open and commands go unanswered.
   * @returns the thaw (SIGCONT), safe to call twice; it also runs at teardown.
   */
  freeze (): () => void
}

export interface RedisServerOptions {
  /** Persistence like the compose file: append-only file, fsync every second. */
  appendonly?: boolean
  /** Extra redis-server arguments. */
  args?: string[]
}

/**
 * Starts a real `redis-server` on a free loopback port with its own temporary directory, and
 * stops it and removes the directory at teardown.
 * @throws when redis-server is absent (call {@link haveRedisServer} first to skip loudly).
 */
export async function startRedis (t: TestLike, opts: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'fm-redis-'))
  let child: ChildProcess | undefined
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', opts.appendonly === true ? 'yes' : 'no', '--appendfsync', 'everysec',
    ...(opts.args ?? [])
  ]
  const start = async (): Promise<void> => {
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    await new Promise<void>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error(`redis-server did not start on ${port}: ${out}`)), 10_000)
      proc.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer)
          resolve()
        }
      })
      proc.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`redis-server exited with ${code}: ${out}`))
      })
    })
  }
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const proc = child
    child = undefined
    if (proc === undefined || proc.exitCode !== null) return
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve())
      proc.kill(signal)
    })
  }
  const freeze = (): () => void => {
    const proc = child
    if (proc === undefined) throw new Error('redis-server is not running')
    proc.kill('SIGSTOP')
    let frozen = true
    const thaw = (): void => {
      if (frozen && proc.exitCode === null) proc.kill('SIGCONT')
      frozen = false
    }
    t.teardown(thaw)
    return thaw
  }
  await start()
  t.teardown(async () => {
    await stop('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
  return { port, url: `redis://127.0.0.1:${port}`, dir, stop, start, freeze }
}
