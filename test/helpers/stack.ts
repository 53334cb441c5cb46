import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './redis.js'

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The native runner. */
export const STACK_SH = join(ROOT, 'scripts', 'stack.sh')

/** Path of a binary on PATH, or undefined. */
export function which (name: string): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' })
  return found.status === 0 ? found.stdout.trim() : undefined
}

/** statsd_exporter as scripts/stack.sh finds it (STATSD_EXPORTER_BIN, else PATH), or undefined. */
export function statsdExporterBin (): string | undefined {
  const configured = process.env.STATSD_EXPORTER_BIN
  return configured !== undefined && configured !== '' ? which(configured) : which('statsd_exporter')
}

/** The reason parts of the e2e skip when statsd_exporter is missing. */
export const NO_STATSD_EXPORTER = 'statsd_exporter is not installed: download it from the GitHub releases of ' +
  'prometheus/statsd_exporter and put it on PATH or set STATSD_EXPORTER_BIN (Debian does not package it)'

/** Environment variables naming the native stack's ports (scripts/stack.sh reads them). */
export interface StackPortsEnv {
  APP_PORT: string
  REDIS_PORT: string
  STATSD_PORT: string
  STATSD_EXPORTER_PORT: string
  PROMETHEUS_PORT: string
  ALERTMANAGER_PORT: string
  GRAFANA_PORT: string
  REDIS_EXPORTER_PORT: string
}

/**
 * Free loopback TCP ports for every component (the kernel's choice, so they are not the
 * defaults and tests never collide with a stack already running). STATSD_PORT is UDP: pass
 * the port of a bound UDP socket when a test stands in for the exporter.
 */
export async function freeStackPorts (statsdUdpPort?: number): Promise<StackPortsEnv> {
  const ports: number[] = []
  while (ports.length < 8) {
    const port = await freePort()
    if (!ports.includes(port)) ports.push(port)
  }
  const [app, redis, statsd, statsdWeb, prometheus, alertmanager, grafana, redisExporter] = ports.map(String) as [string, string, string, string, string, string, string, string]
  return {
    APP_PORT: app,
    REDIS_PORT: redis,
    STATSD_PORT: statsdUdpPort !== undefined ? String(statsdUdpPort) : statsd,
    STATSD_EXPORTER_PORT: statsdWeb,
    PROMETHEUS_PORT: prometheus,
    ALERTMANAGER_PORT: alertmanager,
    GRAFANA_PORT: grafana,
    REDIS_EXPORTER_PORT: redisExporter
  }
}

/**
 * True while a process runs. A zombie counts as gone: it has exited, and the init process of
 * a container or sandbox may take seconds to reap it.
 */
export function isRunning (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/** What a command printed and how it ended. */
export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs a command to completion with extra environment variables; kills it (SIGKILL) after
 * `timeoutMs` and resolves with code null.
 */
export function run (command: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** Runs scripts/stack.sh with the given environment (STACK_DIR and ports). */
export function stack (args: string[], env: Record<string, string>, timeoutMs = 180_000): Promise<RunResult> {
  return run(STACK_SH, args, env, timeoutMs)
}

/**
 * Polls `fn` every `intervalMs` until it returns something other than undefined; rejects with
 * `what` and the last value seen after `timeoutMs`.
 */
export async function poll<T> (what: string, fn: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await fn()
      if (value !== undefined) return value
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` + (lastError !== undefined ? `: ${String(lastError)}` : ''))
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** GET returning the status and body text; network errors reject. */
export async function get (url: string, timeoutMs = 5000): Promise<{ status: number, body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  return { status: res.status, body: await res.text() }
}

/** One series of an instant vector from the Prometheus HTTP API. */
export interface PromSample {
  metric: Record<string, string>
  value: [number, string]
}

/**
 * Runs an instant query through Prometheus's HTTP API (`/api/v1/query`).
 * @returns the result vector (a scalar result becomes one sample without labels).
 * @throws Error with Prometheus's error message when the query is rejected.
 */
export async function promQuery (base: string, expr: string): Promise<PromSample[]> {
  const res = await fetch(`${base}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query: expr }),
    signal: AbortSignal.timeout(10_000)
  })
  const body = await res.json() as { status: string, error?: string, data?: { resultType: string, result: unknown } }
  if (body.status !== 'success' || body.data === undefined) throw new Error(`query ${expr} failed: ${body.error ?? res.status}`)
  if (body.data.resultType === 'scalar') return [{ metric: {}, value: body.data.result as [number, string] }]
  if (body.data.resultType !== 'vector') throw new Error(`query ${expr} gave a ${body.data.resultType}`)
  return body.data.result as PromSample[]
}

/** GET of a Prometheus/Alertmanager JSON API path, returning `data`. */
export async function promApi<T> (base: string, path: string): Promise<T> {
  const res = await fetch(base + path, { signal: AbortSignal.timeout(10_000) })
  const body = await res.json() as { status: string, data: T, error?: string }
  if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? res.status}`)
  return body.data
}

/** What scripts/load.sh reports, from siege's summary (text or JSON) and its own count. */
export interface SiegeCounts {
  /** Responses siege counted as transactions (2xx, 3xx, 4xx). */
  transactions: number
  /** Failed transactions: 5xx responses and socket failures. */
  failed: number
  /**
   * Responses received, every status (load.sh's "Responses received:" line); without that
   * line, `transactions + failed`, which equals it as long as no socket failed.
   */
  responses: number
}

/**
 * Reads load.sh's output. Siege counts a 5xx response as a failed transaction, not as a
 * transaction, which is why load.sh also counts the responses from siege's per-request log.
 * @throws Error when the output has no Transactions line.
 */
export function parseSiege (output: string): SiegeCounts {
  const number = (text: RegExp[]): number | undefined => {
    for (const re of text) {
      const match = re.exec(output)
      if (match?.[1] !== undefined) return Number(match[1])
    }
    return undefined
  }
  const transactions = number([/^\s*Transactions:\s+(\d+)/m, /"transactions":\s*(\d+)/])
  const failed = number([/^\s*Failed transactions:\s+(\d+)/m, /"failed_transactions":\s*(\d+)/])
  if (transactions === undefined) throw new Error(`no Transactions count in siege output:\n${output}`)
  const responses = number([/^\s*Responses received:\s+(\d+)/m])
  return { transactions, failed: failed ?? 0, responses: responses ?? transactions + (failed ?? 0) }
}

/** A Prometheus query of a dashboard panel. */
export interface PanelQuery {
  panel: string
  expr: string
}

interface PanelLike {
  title?: string
  panels?: PanelLike[]
  targets?: Array<{ expr?: string, hide?: boolean }>
}

/** Every Prometheus expression of a dashboard's panels (rows included), with the panel title. */
export function dashboardQueries (dashboard: { panels?: PanelLike[] }): PanelQuery[] {
  const out: PanelQuery[] = []
  const walk = (panels: PanelLike[] | undefined): void => {
    for (const panel of panels ?? []) {
      for (const target of panel.targets ?? []) {
        if (typeof target.expr === 'string' && target.expr !== '' && target.hide !== true) {
          out.push({ panel: panel.title ?? '(untitled)', expr: target.expr })
        }
      }
      walk(panel.panels)
    }
  }
  walk(dashboard.panels)
  return out
}

/**
 * Replaces Grafana variables (`$name`, `${name}`, `[[name]]`) that appear in `values`; any other
 * `$...` (such as label_replace's `${1}`) is left alone, as Grafana leaves it.
 */
export function substituteVariables (expr: string, values: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, braced?: string, bare?: string, square?: string) => {
    const name = braced ?? bare ?? square ?? ''
    return Object.hasOwn(values, name) ? (values[name] ?? whole) : whole
  })
}
