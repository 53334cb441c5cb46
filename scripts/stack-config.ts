/**
 * Loopback copies of the stack's configuration, for the native runner (scripts/stack.sh).
 *
 * etc/ is written for docker-compose: targets and URLs name compose services
 * (`statsd-exporter:9102`, `http://prometheus:9090`) and container paths
 * (`/var/lib/grafana/dashboards`). Natively every component listens on 127.0.0.1 on ports the
 * runner chooses, so the runner derives copies from the same files instead of keeping a second,
 * hand-written configuration: each `service:port` becomes `127.0.0.1:<chosen port>`, and
 * container paths become repository paths. A target or URL that names no known component is an
 * error, so etc/ and this table cannot drift apart silently.
 *
 * CLI (the ports come from the environment, as scripts/stack.sh exports them):
 *   tsx scripts/stack-config.ts prometheus <out.yml>
 *   tsx scripts/stack-config.ts grafana <out-provisioning-dir>
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, isAbsolute, join, posix, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isSeq, parseDocument, visit, type Document } from 'yaml'

/** Host ports of the native stack's components (TCP unless noted). */
export interface StackPorts {
  app: number
  redis: number
  /** statsd_exporter's StatsD listener (UDP). */
  statsdUdp: number
  /** statsd_exporter's web listener (/metrics, /-/healthy). */
  statsdWeb: number
  prometheus: number
  alertmanager: number
  grafana: number
  redisExporter: number
}

/** The conventional ports (the compose file's container ports). */
export const DEFAULT_PORTS: StackPorts = {
  app: 8080,
  redis: 6379,
  statsdUdp: 9125,
  statsdWeb: 9102,
  prometheus: 9090,
  alertmanager: 9093,
  grafana: 3000,
  redisExporter: 9121
}

/**
 * `host:port` as written in etc/ (compose service name and container port) -> the component
 * whose native port replaces it. Prometheus scrapes itself as `localhost:9090`.
 */
const COMPONENT_BY_ADDRESS: Record<string, keyof StackPorts> = {
  'app:8080': 'app',
  'redis:6379': 'redis',
  'statsd-exporter:9102': 'statsdWeb',
  'prometheus:9090': 'prometheus',
  'localhost:9090': 'prometheus',
  '127.0.0.1:9090': 'prometheus',
  'alertmanager:9093': 'alertmanager',
  'grafana:3000': 'grafana',
  'redis-exporter:9121': 'redisExporter'
}

/** Where compose mounts the repository's directories (see docker-compose.yml). */
const PROMETHEUS_CONTAINER_DIR = '/etc/prometheus'
const GRAFANA_DASHBOARDS_CONTAINER_DIR = '/var/lib/grafana/dashboards'

/**
 * Maps one `host:port` target to `127.0.0.1:<port>`.
 * @throws Error naming the target when it is not a component of the stack.
 */
export function loopbackAddress (address: string, ports: StackPorts): string {
  const component = COMPONENT_BY_ADDRESS[address]
  if (component === undefined) {
    throw new Error(`${address} is not a component of the stack (known: ${Object.keys(COMPONENT_BY_ADDRESS).join(', ')})`)
  }
  return `127.0.0.1:${ports[component]}`
}

/** Maps an http(s) URL whose host:port is a component; other URLs are returned unchanged. */
export function loopbackUrl (url: string, ports: StackPorts): string {
  const parsed = new URL(url)
  const port = parsed.port !== '' ? parsed.port : parsed.protocol === 'https:' ? '443' : '80'
  const address = `${parsed.hostname}:${port}`
  if (COMPONENT_BY_ADDRESS[address] === undefined) {
    throw new Error(`${url} does not point at a component of the stack`)
  }
  const [host, newPort] = loopbackAddress(address, ports).split(':')
  parsed.hostname = host ?? '127.0.0.1'
  parsed.port = newPort ?? ''
  // URL keeps a bare origin as `http://h:p/`; keep the original's lack of a trailing slash.
  const text = parsed.toString()
  return url.endsWith('/') || parsed.pathname !== '/' ? text : text.replace(/\/$/, '')
}

function rewriteTargets (doc: Document, ports: StackPorts): number {
  let count = 0
  visit(doc, {
    Pair (_key, pair) {
      const key = (pair.key as { value?: unknown } | null)?.value
      if (key !== 'targets' || !isSeq(pair.value)) return
      for (const item of pair.value.items) {
        const scalar = item as { value?: unknown }
        if (typeof scalar.value !== 'string') throw new Error(`a target is not a string: ${String(scalar.value)}`)
        scalar.value = loopbackAddress(scalar.value, ports)
        count++
      }
    }
  })
  return count
}

/**
 * The loopback copy of a prometheus.yml: every static target (scrape configs and
 * Alertmanagers) becomes `127.0.0.1:<port>`, and every `rule_files` entry becomes an absolute
 * path into the source directory (relative entries resolve against the source file's directory,
 * as Prometheus does; `/etc/prometheus/...` is where compose mounts that directory).
 * Comments and everything else are kept.
 * @param text the source prometheus.yml.
 * @param sourceDir directory of the source file (etc/prometheus).
 * @throws Error for a target that is not a component, or a rule path outside the mount.
 */
export function loopbackPrometheusConfig (text: string, sourceDir: string, ports: StackPorts): string {
  const doc = parseDocument(text)
  if (doc.errors.length > 0) throw new Error(`prometheus.yml does not parse: ${doc.errors[0]?.message}`)
  const targets = rewriteTargets(doc, ports)
  if (targets === 0) throw new Error('prometheus.yml has no static targets')
  const ruleFiles = doc.get('rule_files')
  if (isSeq(ruleFiles)) {
    for (const item of ruleFiles.items) {
      const scalar = item as { value?: unknown }
      scalar.value = localRulePath(String(scalar.value), sourceDir)
    }
  }
  doc.commentBefore = ` Generated by scripts/stack.sh from ${join(sourceDir, 'prometheus.yml')}: do not edit.\n` +
    ' Compose host names are replaced by 127.0.0.1 and the native ports.\n' + (doc.commentBefore ?? '')
  return doc.toString()
}

function localRulePath (path: string, sourceDir: string): string {
  if (!isAbsolute(path)) return resolve(sourceDir, path)
  const relative = posix.relative(PROMETHEUS_CONTAINER_DIR, path)
  if (relative.startsWith('..')) throw new Error(`rule file ${path} is outside ${PROMETHEUS_CONTAINER_DIR}, which compose mounts`)
  return join(sourceDir, relative)
}

/**
 * The loopback copy of one Grafana provisioning file: datasource `url`s that point at a
 * component become loopback URLs, and a dashboard provider `path` under
 * /var/lib/grafana/dashboards becomes the same path under `dashboardsDir`.
 */
export function loopbackGrafanaProvisioning (text: string, ports: StackPorts, dashboardsDir: string): string {
  const doc = parseDocument(text)
  if (doc.errors.length > 0) throw new Error(`provisioning file does not parse: ${doc.errors[0]?.message}`)
  visit(doc, {
    Pair (_key, pair) {
      const key = (pair.key as { value?: unknown } | null)?.value
      const scalar = pair.value as { value?: unknown } | null
      if (typeof scalar?.value !== 'string') return
      if (key === 'url' && /^https?:\/\//.test(scalar.value)) {
        scalar.value = loopbackUrl(scalar.value, ports)
      } else if (key === 'path' && (scalar.value === GRAFANA_DASHBOARDS_CONTAINER_DIR ||
          scalar.value.startsWith(GRAFANA_DASHBOARDS_CONTAINER_DIR + '/'))) {
        scalar.value = dashboardsDir + scalar.value.slice(GRAFANA_DASHBOARDS_CONTAINER_DIR.length)
      }
    }
  })
  return doc.toString()
}

/**
 * Writes the loopback copy of a Grafana provisioning directory into `outDir`: YAML files are
 * rewritten by {@link loopbackGrafanaProvisioning}, anything else is copied.
 */
export function writeGrafanaProvisioning (sourceDir: string, outDir: string, ports: StackPorts, dashboardsDir: string): void {
  mkdirSync(outDir, { recursive: true })
  for (const name of readdirSync(sourceDir)) {
    const from = join(sourceDir, name)
    const to = join(outDir, name)
    if (statSync(from).isDirectory()) {
      writeGrafanaProvisioning(from, to, ports, dashboardsDir)
    } else if (/\.ya?ml$/.test(name)) {
      writeFileSync(to, loopbackGrafanaProvisioning(readFileSync(from, 'utf8'), ports, dashboardsDir))
    } else {
      copyFileSync(from, to)
    }
  }
}

/**
 * Reads the native ports from an environment, with the conventional defaults (the variable
 * names are scripts/stack.sh's).
 * @throws Error naming a variable that is not a port number.
 */
export function portsFromEnv (env: Record<string, string | undefined>): StackPorts {
  const read = (name: string, fallback: number): number => {
    const raw = env[name]
    if (raw === undefined || raw === '') return fallback
    const value = Number(raw)
    if (!/^\d+$/.test(raw) || value < 1 || value > 65535) throw new Error(`${name}=${raw} is not a port number`)
    return value
  }
  return {
    app: read('APP_PORT', DEFAULT_PORTS.app),
    redis: read('REDIS_PORT', DEFAULT_PORTS.redis),
    statsdUdp: read('STATSD_PORT', DEFAULT_PORTS.statsdUdp),
    statsdWeb: read('STATSD_EXPORTER_PORT', DEFAULT_PORTS.statsdWeb),
    prometheus: read('PROMETHEUS_PORT', DEFAULT_PORTS.prometheus),
    alertmanager: read('ALERTMANAGER_PORT', DEFAULT_PORTS.alertmanager),
    grafana: read('GRAFANA_PORT', DEFAULT_PORTS.grafana),
    redisExporter: read('REDIS_EXPORTER_PORT', DEFAULT_PORTS.redisExporter)
  }
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

function main (argv: string[]): void {
  const [what, out] = argv
  const ports = portsFromEnv(process.env)
  if (what === 'prometheus' && out !== undefined) {
    const sourceDir = join(ROOT, 'etc', 'prometheus')
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, loopbackPrometheusConfig(readFileSync(join(sourceDir, 'prometheus.yml'), 'utf8'), sourceDir, ports))
  } else if (what === 'grafana' && out !== undefined) {
    writeGrafanaProvisioning(join(ROOT, 'etc', 'grafana', 'provisioning'), out, ports, join(ROOT, 'etc', 'dashboards'))
  } else {
    throw new Error('usage: stack-config.ts prometheus <out.yml> | grafana <out-dir>')
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`stack-config: ${(err as Error).message}\n`)
    process.exit(1)
  }
}
