import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parse, stringify } from 'yaml'
import { freePort } from '../../test/helpers/redis.js'
import { parseExposition, parseLabels } from '../../test/fixtures/exposition.js'
import { ROOT, statsdExporterBin } from '../../test/helpers/stack.js'
import { pinned, type Pinning } from './processes.js'

/** Why the exporter columns are missing, printed by the runner when no binary is found. */
export const NO_EXPORTER = 'statsd_exporter not found (STATSD_EXPORTER_BIN or PATH): the StatsD variants ran against ' +
  'the UDP receiver only; exporter CPU and exporter-counted loss were skipped'

/**
 * The project's mapping file, found from `root` upwards: `npm run bench` runs the runner compiled
 * into .run/bench, where the test helpers' ROOT is that folder, not the project.
 * @throws when no etc/statsd/mapping.yml is found up to the file system root.
 */
export function mappingPath (root: string = ROOT): string {
  for (let dir = root; ; dir = dirname(dir)) {
    const candidate = join(dir, 'etc', 'statsd', 'mapping.yml')
    if (existsSync(candidate)) return candidate
    if (dirname(dir) === dir) throw new Error(`etc/statsd/mapping.yml not found above ${root}`)
  }
}

/**
 * Mappings for the immobiliarelabs peer's route metrics (`immobiliarelabs.<routeId>.requests`,
 * `.response_time`), which the project's catch-all `drop` would discard: a user of that plugin
 * maps them, and the benchmark counts them to report the peer's losses.
 */
export const PEER_MAPPINGS = [
  { match: 'immobiliarelabs.*.requests', match_metric_type: 'counter', name: 'immobiliarelabs_requests_total', labels: { route_id: '$1' } },
  { match: 'immobiliarelabs.*.response_time', match_metric_type: 'observer', name: 'immobiliarelabs_response_time_seconds', labels: { route_id: '$1' } }
]

/** The benchmark's mapping: the project's (`mappingPath()`) with {@link PEER_MAPPINGS} before its final `drop` rule. */
export function benchMapping (projectMapping: string = readFileSync(mappingPath(), 'utf8')): string {
  const doc = parse(projectMapping) as { mappings: Array<Record<string, unknown>> }
  const last = doc.mappings.at(-1)
  if (last?.action !== 'drop') throw new Error('the mapping does not end with its catch-all drop rule')
  doc.mappings.splice(doc.mappings.length - 1, 0, ...PEER_MAPPINGS)
  return stringify(doc)
}

/** One scrape of the exporter's /metrics page: every sample with its labels. */
export class Exposition {
  private constructor (private readonly samples: Array<{ name: string, labels: Record<string, string>, value: number }>) {}

  /**
   * Parses the Prometheus text format with the project's one parser (test/fixtures/exposition.ts,
   * checked byte for byte against statsd_exporter 0.27.2's page).
   */
  static parse (text: string): Exposition {
    return new Exposition(parseExposition(text).samples.map((s) => ({ name: s.name, labels: parseLabels(s.labelText), value: Number(s.value) })))
  }

  /** Sum of the samples named `name` whose labels include every pair of `labels` (0 when none). */
  sum (name: string, labels: Record<string, string> = {}): number {
    let total = 0
    for (const s of this.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value
    }
    return total
  }
}

/** The exporter's CPU time and its /metrics page at one moment. */
export interface ExporterSnapshot {
  /** utime + stime of the exporter process (/proc/PID/stat), microseconds; clock-tick resolution (usually 10 ms). */
  cpuUs: number
  metrics: Exposition
}

/** A real statsd_exporter run by the benchmark. */
export interface BenchExporter {
  pid: number
  /** Where the servers send StatsD. */
  udpPort: number
  /**
   * Waits until the exporter has parsed everything sent so far (its `statsd_exporter_lines_total`
   * stopped moving for 100 ms, or 3 s passed), then returns its CPU time and metrics.
   */
  settled (): Promise<ExporterSnapshot>
  stop (): Promise<void>
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100

/** utime + stime of `pid` in microseconds, from /proc/PID/stat (fields 14 and 15, clock ticks). */
export function processCpuUs (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 1e6 / CLOCK_TICKS
}

/**
 * Starts statsd_exporter (STATSD_EXPORTER_BIN, else PATH) with the project's mapping
 * (etc/statsd/mapping.yml, plus {@link PEER_MAPPINGS}, written to a temporary file) and the flags scripts/stack.sh uses (UDP only, 4 MiB read buffer), on
 * free loopback ports, pinned beside the load generator. Resolves null when there is no binary.
 * @throws when the binary exists but /metrics does not answer within 10 s.
 */
export async function startExporter (pin: Pinning): Promise<BenchExporter | null> {
  const bin = statsdExporterBin()
  if (bin === undefined) return null
  const udpPort = await freePort()
  const webPort = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-exporter-'))
  const mapping = join(dir, 'mapping.yml')
  writeFileSync(mapping, benchMapping())
  const [command, args] = pinned(pin, pin.loadCpu, bin, [
    `--statsd.mapping-config=${mapping}`,
    `--statsd.listen-udp=127.0.0.1:${udpPort}`,
    '--statsd.listen-tcp=',
    '--statsd.read-buffer=4194304',
    `--web.listen-address=127.0.0.1:${webPort}`
  ])
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000) })
  const scrape = async (): Promise<Exposition> => {
    const res = await fetch(`http://127.0.0.1:${webPort}/metrics`)
    if (!res.ok) throw new Error(`statsd_exporter /metrics answered ${res.status}`)
    return Exposition.parse(await res.text())
  }
  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`statsd_exporter exited with ${child.exitCode}: ${stderr}`)
    try {
      await scrape()
      break
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`statsd_exporter did not answer on :${webPort} within 10 s: ${(err as Error).message} ${stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  // With taskset the child is taskset until it execs the exporter: same pid either way.
  const pid = child.pid ?? 0
  return {
    pid,
    udpPort,
    async settled () {
      const until = Date.now() + 3000
      let metrics = await scrape()
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        const next = await scrape()
        const same = next.sum('statsd_exporter_lines_total') === metrics.sum('statsd_exporter_lines_total')
        metrics = next
        if (same || Date.now() > until) break
      }
      return { cpuUs: processCpuUs(pid), metrics }
    },
    stop () {
      const removed = (): void => { rmSync(dir, { recursive: true, force: true }) }
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(removed())
      return new Promise((resolve) => {
        child.once('exit', () => resolve(removed()))
        child.kill('SIGTERM')
      })
    }
  }
}
