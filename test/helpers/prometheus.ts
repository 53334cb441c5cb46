import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './redis.js'

/** Minimal view of a tap test the helpers need. */
export interface Teardown {
  teardown (fn: () => unknown): void
}

/** Prometheus and promtool binaries (Debian: /usr/bin), overridable for other installs. */
export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? 'prometheus'
export const PROMTOOL_BIN = process.env.PROMTOOL_BIN ?? 'promtool'

/** The reason tests give when they skip because Prometheus is missing. */
export const NO_PROMETHEUS = 'prometheus/promtool are not installed: run `apt-get install -y prometheus` ' +
  '(Debian ships both; or set PROMETHEUS_BIN / PROMTOOL_BIN)'

/** True when `promtool` runs. */
export function havePromtool (): boolean {
  return spawnSync(PROMTOOL_BIN, ['--version']).status === 0
}

/** True when both `prometheus` and `promtool` run. */
export function havePrometheus (): boolean {
  return havePromtool() && spawnSync(PROMETHEUS_BIN, ['--version']).status === 0
}

/** Runs promtool synchronously (text output, 64 MiB buffer for `tsdb` subcommands). */
export function promtool (args: readonly string[], timeoutMs = 60_000): SpawnSyncReturns<string> {
  return spawnSync(PROMTOOL_BIN, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 })
}

/**
 * Backfills an OpenMetrics text file into TSDB blocks (`promtool tsdb create-blocks-from
 * openmetrics`). Timestamps in the file are seconds; the file must end with `# EOF`.
 * @throws with promtool's output when it fails.
 */
export function backfillOpenMetrics (file: string, tsdbDir: string): void {
  const result = promtool(['tsdb', 'create-blocks-from', 'openmetrics', file, tsdbDir])
  if (result.status !== 0) {
    throw new Error(`promtool backfill failed (${result.status ?? result.signal}): ${result.stderr}${result.stdout}`)
  }
}

/** One series of an API result: labels and either one value or a list of them. */
export interface PromSeries {
  metric: Record<string, string>
  value?: [number, string]
  values?: Array<[number, string]>
}

/** The `data` of a successful /api/v1/query or /api/v1/query_range answer. */
export interface PromData {
  resultType: 'vector' | 'matrix' | 'scalar' | 'string'
  result: PromSeries[] | [number, string]
}

/** A real Prometheus process on loopback, owned by one test. */
export interface PrometheusServer {
  readonly port: number
  readonly url: string
  /** Instant query at `time` (Unix seconds). @throws unless status is success. */
  query (expr: string, time: number): Promise<PromData>
  /** Range query. @throws unless status is success. */
  queryRange (expr: string, start: number, end: number, stepSeconds: number): Promise<PromData>
  /** GET an API path (e.g. `/api/v1/rules`) and return its `data`. @throws unless status is success. */
  api<T = unknown> (path: string): Promise<T>
  /** SIGTERM and wait for exit. */
  stop (): Promise<void>
}

export interface PrometheusOptions {
  /** TSDB directory to run on (e.g. holding backfilled blocks); default a fresh temp dir. */
  tsdbDir?: string
  /** Rule files to load (absolute paths). */
  ruleFiles?: readonly string[]
  /** Rule evaluation interval; default 10s like the project. Tests use 1s to get results fast. */
  evaluationInterval?: string
  /** One scrape target (`host:port` serving /metrics), scraped with honor_labels like the exporter job. */
  scrape?: { job: string, target: string, interval: string }
}

/**
 * Starts Debian's `prometheus` on a free loopback port, with no scrape targets unless `scrape`
 * names one (otherwise only rule evaluation over whatever the TSDB holds), and stops it and
 * removes its temp files at teardown.
 * @throws when it does not become ready within 30 s (its log is in the message).
 */
export async function startPrometheus (t: Teardown, opts: PrometheusOptions = {}): Promise<PrometheusServer> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'fm-prometheus-'))
  const tsdbDir = opts.tsdbDir ?? join(dir, 'data')
  const config = join(dir, 'prometheus.yml')
  const rules = (opts.ruleFiles ?? []).map((f) => `  - ${JSON.stringify(f)}\n`).join('')
  writeFileSync(config, 'global:\n  scrape_interval: 10s\n' +
    `  evaluation_interval: ${opts.evaluationInterval ?? '10s'}\n` +
    (rules === '' ? '' : `rule_files:\n${rules}`) +
    (opts.scrape === undefined
      ? ''
      : `scrape_configs:\n  - job_name: ${JSON.stringify(opts.scrape.job)}\n    honor_labels: true\n` +
        `    scrape_interval: ${opts.scrape.interval}\n    static_configs:\n      - targets: [${JSON.stringify(opts.scrape.target)}]\n`))
  const child: ChildProcess = spawn(PROMETHEUS_BIN, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${tsdbDir}`,
    `--web.listen-address=127.0.0.1:${port}`,
    // Backfilled blocks are up to an hour old; the default retention (15d) keeps them, this
    // just makes the intent explicit.
    '--storage.tsdb.retention.time=30d'
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr?.on('data', (chunk: Buffer) => { log = (log + chunk.toString()).slice(-20_000) })
  const url = `http://127.0.0.1:${port}`

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      child.once('exit', () => { clearTimeout(timer); resolve() })
      child.kill('SIGTERM')
    })
  }
  t.teardown(async () => {
    await stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${log}`)
    try {
      const res = await fetch(`${url}/-/ready`)
      if (res.ok) break
    } catch {}
    if (Date.now() > deadline) throw new Error(`prometheus not ready on ${port} after 30 s:\n${log}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }

  const api = async <T>(path: string, params?: URLSearchParams): Promise<T> => {
    const res = await fetch(`${url}${path}`, params === undefined
      ? {}
      : { method: 'POST', body: params, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
    const body = await res.json() as { status: string, data: T, error?: string, errorType?: string }
    if (body.status !== 'success') {
      throw new Error(`${path} ${params?.toString() ?? ''}: ${body.errorType ?? ''} ${body.error ?? res.status}`)
    }
    return body.data
  }
  return {
    port,
    url,
    query: (expr, time) => api('/api/v1/query', new URLSearchParams({ query: expr, time: String(time) })),
    queryRange: (expr, start, end, step) => api('/api/v1/query_range', new URLSearchParams({
      query: expr, start: String(start), end: String(end), step: String(step)
    })),
    api: (path) => api(path),
    stop
  }
}
