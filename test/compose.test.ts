/**
 * docker-compose.yml, .env.example, the Dockerfile and .dockerignore, checked as files (no
 * Docker engine needed) and with `docker-compose config -q` where docker-compose exists.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, posix } from 'node:path'
import t, { type Test } from 'tap'
import { parse } from 'yaml'
import { ROOT, which } from './helpers/stack.js'

interface Healthcheck { test?: string | string[], disable?: boolean }
interface Service {
  image?: string
  build?: unknown
  user?: string
  restart?: string
  command?: string | string[]
  environment?: Record<string, string | number | boolean | null>
  ports?: string[]
  volumes?: string[]
  healthcheck?: Healthcheck
  depends_on?: Record<string, { condition?: string }> | string[]
  cap_drop?: string[]
  security_opt?: string[]
}
interface Compose { services: Record<string, Service>, volumes?: Record<string, unknown> }

const composeText = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')
// merge: the services share an `x-defaults` block through a YAML merge key, as compose reads it.
const compose = parse(composeText, { merge: true }) as Compose
const services = compose.services

/** The port each service listens on inside its container (the conventions of the project). */
const CONTAINER_PORT: Record<string, number> = {
  app: 8080,
  redis: 6379,
  'statsd-exporter': 9102,
  prometheus: 9090,
  alertmanager: 9093,
  grafana: 3000,
  'redis-exporter': 9121
}

/** Variables the compose file requires (`${VAR:?...}`): no default may exist for them. */
const REQUIRED = ['REDIS_PASSWORD', 'GRAFANA_ADMIN_PASSWORD']

/** Tools each image has for a healthcheck (checked against the images' own Dockerfiles). */
function healthTools (image: string): string[] {
  if (image.startsWith('redis:')) return ['redis-cli']
  // prom/* are FROM quay.io/prometheus/busybox; the Grafana image is Alpine (busybox wget);
  // redis_exporter's -alpine variant has busybox, its default variant is FROM scratch.
  if (image.startsWith('prom/') || image.startsWith('grafana/grafana:')) return ['wget']
  if (image.startsWith('oliver006/redis_exporter:') && image.endsWith('-alpine')) return ['wget']
  return []
}

function flags (service: Service): Map<string, string> {
  const map = new Map<string, string>()
  for (const arg of Array.isArray(service.command) ? service.command : []) {
    const match = /^(--[\w.-]+)=(.*)$/.exec(String(arg))
    if (match?.[1] !== undefined) map.set(match[1], match[2] ?? '')
  }
  return map
}

/** `source:target[:mode]` of a volume entry. */
function mount (entry: string): { source: string, target: string, mode: string } {
  const [source = '', target = '', mode = 'rw'] = entry.split(':')
  return { source, target, mode }
}

const bindMounts = (service: Service): Array<ReturnType<typeof mount>> =>
  (service.volumes ?? []).map(mount).filter((m) => m.source.startsWith('.') || m.source.startsWith('/'))

/** Maps a container path to the repository path a bind mount of `service` puts there, if any. */
function hostPath (service: Service, containerPath: string): string | undefined {
  for (const m of bindMounts(service)) {
    const relative = posix.relative(m.target, containerPath)
    if (!relative.startsWith('..') && !posix.isAbsolute(relative)) return join(ROOT, m.source, relative)
  }
  return undefined
}

/**
 * Files matching a path whose last segment may hold `*` (what rule_files and the provisioning
 * directories use); Node 20 has no fs.globSync.
 */
function globFiles (pattern: string): string[] {
  const dir = dirname(pattern)
  if (!existsSync(dir)) return []
  const re = new RegExp('^' + basename(pattern).split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$')
  return readdirSync(dir).filter((f) => re.test(f)).map((f) => join(dir, f))
}

/** Every variable the compose file reads, from `${VAR}`, `${VAR:-x}`, `${VAR:?x}`... */
function composeVariables (): string[] {
  const names = new Set<string>()
  const uncommented = composeText.split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n')
  for (const match of uncommented.matchAll(/\$\{(\w+)/g)) names.add(match[1] ?? '')
  return [...names].sort()
}

function envExample (): Map<string, string> {
  const vars = new Map<string, string>()
  for (const line of readFileSync(join(ROOT, '.env.example'), 'utf8').split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line)
    if (match?.[1] !== undefined) vars.set(match[1], match[2] ?? '')
  }
  return vars
}

t.test('the stack has the conventional service names', async (t) => {
  t.same(Object.keys(services).sort(), Object.keys(CONTAINER_PORT).sort())
})

/**
 * The exact version an image reference pins (`v3.14.0`, `8.10.2-alpine`), or undefined for a
 * floating one: no tag, `latest`, a major or minor line (`8`, `13.2`), a variant alone (`alpine`).
 */
function pinnedVersion (image: string): string | undefined {
  const tag = image.includes(':') ? image.slice(image.lastIndexOf(':') + 1) : ''
  return /^v?\d+\.\d+\.\d+(-[a-z0-9.]+)?$/.test(tag) && !/latest/.test(image) ? tag : undefined
}

t.test('the pin check rejects floating tags', async (t) => {
  for (const floating of ['redis', 'redis:latest', 'redis:8', 'grafana/grafana:13.2', 'redis:alpine', 'redis:8-alpine', 'prom/prometheus:v3']) {
    t.equal(pinnedVersion(floating), undefined, `${floating} is not pinned`)
  }
  t.equal(pinnedVersion('oliver006/redis_exporter:v1.91.1-alpine'), 'v1.91.1-alpine')
})

t.test('every image is pinned to a version, never latest', async (t) => {
  for (const [name, service] of Object.entries(services)) {
    if (service.build !== undefined) {
      t.equal(service.image, undefined, `${name}: built from the Dockerfile`)
      continue
    }
    t.ok(pinnedVersion(service.image ?? '') !== undefined, `${name}: ${service.image ?? '(no image)'} has an exact version tag`)
  }
})

t.test('every service restarts, has a healthcheck with a tool its image has, and runs unprivileged', async (t) => {
  for (const [name, service] of Object.entries(services)) {
    t.equal(service.restart, 'unless-stopped', `${name}: restart unless-stopped`)
    t.same(service.cap_drop, ['ALL'], `${name}: no capabilities`)
    t.ok(service.security_opt?.includes('no-new-privileges:true'), `${name}: no-new-privileges`)
    t.ok(service.user !== undefined && !/^(root|0)(:|$)/.test(service.user), `${name}: runs as ${service.user}, not root`)
    if (service.build !== undefined) {
      t.equal(service.healthcheck, undefined, `${name}: the Dockerfile's HEALTHCHECK applies`)
      continue
    }
    const test = service.healthcheck?.test
    t.ok(Array.isArray(test) && test.length > 1 && service.healthcheck?.disable !== true, `${name}: has a healthcheck`)
    if (!Array.isArray(test)) continue
    const command = test[0] === 'CMD-SHELL' ? String(test[1]).split(/\s+/)[0] : test[1]
    t.ok(healthTools(service.image ?? '').includes(command ?? ''), `${name}: healthcheck runs ${command}, which ${service.image} has`)
  }
})

t.test('depends_on waits for healthy dependencies that have a healthcheck', async (t) => {
  const app = services.app?.depends_on as Record<string, { condition?: string }>
  t.equal(app.redis?.condition, 'service_healthy', 'app waits for Redis')
  t.equal(app['statsd-exporter']?.condition, 'service_healthy', 'app waits for statsd-exporter (no measurement lost while its name does not resolve)')
  for (const [name, service] of Object.entries(services)) {
    for (const [dependency, spec] of Object.entries(service.depends_on ?? {})) {
      if (spec.condition === 'service_healthy') t.ok(services[dependency]?.healthcheck !== undefined, `${name} -> ${dependency}: has a healthcheck`)
    }
  }
})

t.test('only user-facing ports are published; Prometheus and Alertmanager on 127.0.0.1', async (t) => {
  const published = Object.fromEntries(Object.entries(services).filter(([, s]) => (s.ports ?? []).length > 0).map(([n, s]) => [n, s.ports ?? []]))
  t.same(Object.keys(published).sort(), ['alertmanager', 'app', 'grafana', 'prometheus'], 'no other service publishes a port')
  /* eslint-disable no-template-curly-in-string -- compose's own ${VAR} syntax, not JavaScript */
  t.same(published.app, ['${APP_BIND:-0.0.0.0}:${APP_PORT:-8080}:8080'], 'service: 8080, address and port configurable')
  t.same(published.grafana, ['${GRAFANA_BIND:-0.0.0.0}:${GRAFANA_PORT:-3000}:3000'], 'Grafana: 3000, address and port configurable')
  t.same(published.prometheus, ['127.0.0.1:${PROMETHEUS_PORT:-9090}:9090'], 'Prometheus: loopback only, fixed address')
  t.same(published.alertmanager, ['127.0.0.1:${ALERTMANAGER_PORT:-9093}:9093'], 'Alertmanager: loopback only, fixed address')
  /* eslint-enable no-template-curly-in-string */
})

t.test('bind mounts exist in the repository and are read-only; volumes are declared', async (t) => {
  for (const [name, service] of Object.entries(services)) {
    for (const m of bindMounts(service)) {
      t.ok(existsSync(join(ROOT, m.source)), `${name}: ${m.source} exists`)
      t.equal(m.mode, 'ro', `${name}: ${m.source} is mounted read-only`)
    }
    for (const m of (service.volumes ?? []).map(mount).filter((v) => !v.source.startsWith('.') && !v.source.startsWith('/'))) {
      t.ok(compose.volumes !== undefined && m.source in compose.volumes, `${name}: named volume ${m.source} is declared`)
    }
  }
  t.ok(services.redis?.volumes?.some((v) => mount(v).target === '/data'), 'Redis keeps /data in a volume')
  t.ok(services.prometheus?.volumes?.some((v) => mount(v).target === '/prometheus'), 'Prometheus keeps its TSDB in a volume')
  t.ok(services.grafana?.volumes?.some((v) => mount(v).target === '/var/lib/grafana'), 'Grafana keeps its database in a volume')
})

t.test('no default passwords; Grafana needs a log-in', async (t) => {
  const grafana = services.grafana?.environment ?? {}
  t.match(String(grafana.GF_SECURITY_ADMIN_PASSWORD), /^\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}$/, 'admin password is required, with no default')
  t.equal(grafana.GF_USERS_ALLOW_SIGN_UP, 'false', 'no sign-up')
  t.equal(grafana.GF_AUTH_ANONYMOUS_ENABLED, 'false', 'no anonymous access')
  t.notOk(/GF_SECURITY_ADMIN_PASSWORD:\s*\$\{[^}]*:-/.test(composeText), 'no fallback value for the admin password')
  t.notOk(/REDIS_PASSWORD:-/.test(composeText), 'no fallback value for the Redis password')
})

t.test('Redis: append-only file fsynced every second, password required and used by its clients', async (t) => {
  const command = (services.redis?.command as string[]).join(' ')
  t.match(command, /--appendonly yes/)
  t.match(command, /--appendfsync everysec/)
  t.match(command, /--requirepass \$\{REDIS_PASSWORD:\?[^}]+\}/)
  t.match(String(services.app?.environment?.REDIS_URL), /^redis:\/\/:\$\{REDIS_PASSWORD:\?[^}]+\}@redis:6379$/, 'the service connects with the password')
  t.equal(services['redis-exporter']?.environment?.REDIS_ADDR, 'redis://redis:6379')
  t.match(String(services['redis-exporter']?.environment?.REDIS_PASSWORD), /^\$\{REDIS_PASSWORD:\?/)
  t.match(String(services.redis?.environment?.REDISCLI_AUTH), /^\$\{REDIS_PASSWORD:\?/, 'the healthcheck authenticates without a password on its command line')
})

t.test('statsd-exporter: the mapping, UDP port and buffer the service relies on', async (t) => {
  const exporter = services['statsd-exporter'] as Service
  const f = flags(exporter)
  t.equal(f.get('--statsd.read-buffer'), '4194304', '4 MiB read buffer against burst drops')
  t.equal(f.get('--statsd.listen-udp'), ':9125')
  t.equal(f.get('--web.listen-address'), `:${CONTAINER_PORT['statsd-exporter']}`)
  const mapping = hostPath(exporter, f.get('--statsd.mapping-config') ?? '')
  t.equal(mapping, join(ROOT, 'etc', 'statsd', 'mapping.yml'), 'the mapping is etc/statsd/mapping.yml, mounted')
  t.ok(mapping !== undefined && existsSync(mapping), 'and it exists')
  t.equal(services.app?.environment?.STATSD_HOST, 'statsd-exporter', 'the service sends to the exporter by its service name')
  t.equal(services.app?.environment?.STATSD_PORT, '9125', 'on the port the exporter listens on')
})

/**
 * Keys statsd_exporter's mapping file may hold: the yaml tags of MetricMapping and of the
 * defaults block (prometheus/statsd_exporter pkg/mapper/mapping.go, mapper_defaults.go), less
 * the deprecated `timer_type`, `buckets`, `quantiles`. From 0.31 the exporter refuses a mapping
 * with any other key (#687, "Reject unknown mapping configuration fields"); 0.27 ignored them.
 */
const MAPPING_KEYS = ['match', 'name', 'labels', 'honor_labels', 'observer_type', 'match_type', 'help', 'action',
  'match_metric_type', 'ttl', 'summary_options', 'histogram_options', 'scale']
const DEFAULTS_KEYS = ['observer_type', 'match_type', 'glob_disable_ordering', 'ttl', 'summary_options', 'histogram_options']
/** Of HistogramOptions, the one key this project uses; check another against the pinned exporter first. */
const HISTOGRAM_KEYS = ['buckets']

t.test('statsd-exporter: the mapping holds only keys the pinned exporter accepts (0.31 rejects unknown ones)', async (t) => {
  const mapping = parse(readFileSync(join(ROOT, 'etc', 'statsd', 'mapping.yml'), 'utf8')) as
    { defaults?: Record<string, unknown>, mappings: Array<Record<string, unknown>> }
  t.same(Object.keys(mapping).filter((k) => k !== 'defaults' && k !== 'mappings'), [], 'top level: defaults and mappings only')
  t.same(Object.keys(mapping.defaults ?? {}).filter((k) => !DEFAULTS_KEYS.includes(k)), [], 'defaults')
  for (const m of mapping.mappings) {
    t.same(Object.keys(m).filter((k) => !MAPPING_KEYS.includes(k)), [], `mapping ${String(m.match)}`)
    const histogram = (m.histogram_options ?? {}) as Record<string, unknown>
    t.same(Object.keys(histogram).filter((k) => !HISTOGRAM_KEYS.includes(k)), [], `mapping ${String(m.match)} histogram_options`)
  }
})

t.test('Prometheus: 15 days of retention; its config and rules are the repository\'s', async (t) => {
  const prometheus = services.prometheus as Service
  const f = flags(prometheus)
  t.equal(f.get('--storage.tsdb.retention.time'), '15d')
  t.equal(f.get('--storage.tsdb.path'), '/prometheus')
  t.equal(f.get('--web.listen-address'), ':9090')
  t.notOk(f.has('--web.enable-lifecycle') || f.has('--web.enable-admin-api'), 'no lifecycle or admin API (unauthenticated writes)')
  const config = hostPath(prometheus, f.get('--config.file') ?? '')
  t.equal(config, join(ROOT, 'etc', 'prometheus', 'prometheus.yml'), 'config file is etc/prometheus/prometheus.yml, mounted')
  const doc = parse(readFileSync(join(ROOT, 'etc', 'prometheus', 'prometheus.yml'), 'utf8')) as { rule_files?: string[] }
  t.ok((doc.rule_files ?? []).length > 0, 'rule_files is set')
  for (const pattern of doc.rule_files ?? []) {
    const inContainer = posix.isAbsolute(pattern) ? pattern : posix.join(posix.dirname(f.get('--config.file') ?? ''), pattern)
    const local = hostPath(prometheus, inContainer)
    t.ok(local !== undefined, `${pattern} is inside a mount`)
    if (local !== undefined) t.ok(globFiles(local).length > 0, `${pattern} matches rule files in the repository`)
  }
})

t.test('Alertmanager: config mounted, single instance (no gossip port)', async (t) => {
  const alertmanager = services.alertmanager as Service
  const f = flags(alertmanager)
  const config = hostPath(alertmanager, f.get('--config.file') ?? '')
  t.equal(config, join(ROOT, 'etc', 'alertmanager', 'alertmanager.yml'), 'config file is etc/alertmanager/alertmanager.yml, mounted')
  t.ok(config !== undefined && existsSync(config), 'and it exists')
  t.equal(f.get('--cluster.listen-address'), '', 'clustering off')
  t.equal(f.get('--web.listen-address'), ':9093')
})

/** host:port of a target or URL -> the compose service and port it must name. */
function checkAddress (t: Test, where: string, address: string, self?: string): void {
  const [host = '', port = ''] = address.split(':')
  const service = host === 'localhost' && self !== undefined ? self : host
  t.ok(service in services, `${where}: ${address} names a compose service`)
  t.equal(Number(port), CONTAINER_PORT[service], `${where}: ${address} uses the port ${service} listens on`)
}

t.test('names and ports in etc/ match the compose file', async (t) => {
  const prometheus = parse(readFileSync(join(ROOT, 'etc', 'prometheus', 'prometheus.yml'), 'utf8')) as {
    scrape_configs: Array<{ job_name: string, static_configs?: Array<{ targets: string[] }> }>
    alerting?: { alertmanagers?: Array<{ static_configs?: Array<{ targets: string[] }> }> }
  }
  for (const job of prometheus.scrape_configs) {
    for (const target of (job.static_configs ?? []).flatMap((c) => c.targets)) {
      // Prometheus scrapes itself as localhost:9090.
      checkAddress(t, `scrape job ${job.job_name}`, target, job.job_name === 'prometheus' ? 'prometheus' : undefined)
    }
  }
  for (const target of (prometheus.alerting?.alertmanagers ?? []).flatMap((a) => a.static_configs ?? []).flatMap((c) => c.targets)) {
    checkAddress(t, 'alerting', target)
  }
  const jobs = prometheus.scrape_configs.map((j) => j.job_name)
  for (const job of ['statsd-exporter', 'prometheus', 'alertmanager', 'redis-exporter']) t.ok(jobs.includes(job), `scrape job ${job} exists`)

  const grafana = services.grafana as Service
  for (const file of globFiles(join(ROOT, 'etc', 'grafana', 'provisioning', 'datasources', '*.y*ml'))) {
    const doc = parse(readFileSync(file, 'utf8')) as { datasources?: Array<{ name: string, url?: string }> }
    for (const ds of doc.datasources ?? []) {
      if (ds.url === undefined) continue
      const url = new URL(ds.url)
      checkAddress(t, `datasource ${ds.name}`, `${url.hostname}:${url.port}`)
    }
  }
  for (const file of globFiles(join(ROOT, 'etc', 'grafana', 'provisioning', 'dashboards', '*.y*ml'))) {
    const doc = parse(readFileSync(file, 'utf8')) as { providers?: Array<{ name: string, options?: { path?: string } }> }
    for (const provider of doc.providers ?? []) {
      const local = hostPath(grafana, provider.options?.path ?? '')
      t.equal(local, join(ROOT, 'etc', 'dashboards'), `dashboard provider ${provider.name} reads etc/dashboards through a mount`)
    }
  }
  t.equal(hostPath(grafana, '/etc/grafana/provisioning'), join(ROOT, 'etc', 'grafana', 'provisioning'), 'provisioning is mounted')
})

t.test('.env.example documents exactly the variables the compose file reads, with no secrets', async (t) => {
  const example = envExample()
  t.same([...example.keys()].sort(), composeVariables(), 'same variables')
  for (const name of REQUIRED) {
    t.equal(example.get(name), '', `${name} is empty in the example: compose refuses to start until it is set`)
    t.match(composeText, new RegExp(`\\$\\{${name}:\\?`), `${name} is required by the compose file`)
  }
})

/** Runs `docker-compose config` with exactly the variables given (a temporary env file). */
function composeConfig (vars: Record<string, string>, quiet = true): { status: number | null, output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fm-compose-'))
  try {
    const envFile = join(dir, 'env')
    writeFileSync(envFile, Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(''))
    // Variables exported in the caller's shell would win over the env file: drop them.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !composeVariables().includes(k)))
    const result = spawnSync('docker-compose', ['--env-file', envFile, 'config', ...(quiet ? ['-q'] : [])], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 })
    return { status: result.status, output: result.stdout + result.stderr }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const NO_COMPOSE = 'docker-compose is not installed: apt-get install docker-compose (only `docker-compose config` is used; no Docker engine needed)'

t.test('docker-compose config accepts the file', { skip: which('docker-compose') === undefined ? NO_COMPOSE : false }, async (t) => {
  const secrets = { REDIS_PASSWORD: 'test-redis-password', GRAFANA_ADMIN_PASSWORD: 'test-grafana-password' }
  const ok = composeConfig(secrets)
  t.equal(ok.status, 0, `docker-compose config -q passes with the passwords set: ${ok.output}`)

  const resolved = composeConfig({ ...secrets, PROMETHEUS_PORT: '19090', APP_BIND: '127.0.0.1' }, false)
  t.equal(resolved.status, 0)
  const config = parse(resolved.output) as Compose
  t.same(config.services.prometheus?.ports?.map(String), ['127.0.0.1:19090:9090/tcp'], 'PROMETHEUS_PORT moves the host port, not the address')
  t.same(config.services.app?.ports?.map(String), ['127.0.0.1:8080:8080/tcp'], 'APP_BIND restricts the service to loopback')
  t.equal(config.services.app?.environment?.REDIS_URL, 'redis://:test-redis-password@redis:6379')

  for (const name of REQUIRED) {
    const without = composeConfig(Object.fromEntries(Object.entries(secrets).filter(([k]) => k !== name)))
    t.not(without.status, 0, `refuses to run without ${name}`)
    t.match(without.output, `${name} is not set`, 'and says which variable is missing')
  }
})

t.test('Dockerfile: multi-stage on a pinned node:26 trixie-slim, production dependencies, non-root, healthcheck', async (t) => {
  const lines = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  const froms = lines.filter((l) => /^FROM\s/i.test(l))
  t.ok(froms.length >= 2, `multi-stage (${froms.length} stages)`)
  // The image runs the Node.js release CI tests with (scripts/ensure-node.sh installs it where
  // the machine's node is outside engines): one version, two places, kept equal here.
  const ciNode = /^NODE_VERSION=\$\{NODE_VERSION:-(\d+\.\d+\.\d+)\}$/m.exec(readFileSync(join(ROOT, 'scripts', 'ensure-node.sh'), 'utf8'))?.[1]
  t.match(ciNode, /^26\./, `CI installs Node.js 26 (${String(ciNode)})`)
  for (const from of froms) t.match(from, new RegExp(`^FROM node:${String(ciNode).replace(/\./g, '\\.')}-trixie-slim(\\s+AS\\s+\\w+)?$`, 'i'), `${from}: node ${String(ciNode)} trixie-slim (Debian 13), as in CI`)
  const last = lines.slice(lines.lastIndexOf(froms.at(-1) ?? ''))
  const users = last.filter((l) => /^USER\s/i.test(l))
  t.same(users, ['USER node'], 'the final stage runs as node')
  t.ok(last.some((l) => /^ENV\s.*NODE_ENV=production/.test(l)), 'NODE_ENV=production')
  t.ok(last.includes('EXPOSE 8080'), 'EXPOSE 8080')
  t.ok(last.some((l) => /^HEALTHCHECK\s.*CMD \["node", "-e", .*\/health\/live/.test(l)), 'HEALTHCHECK with node on /health/live')
  t.ok(last.includes('CMD ["node", "dist/server.js"]'), 'runs node dist/server.js directly (no npm, signals reach node)')
  t.ok(last.some((l) => /^COPY package\.json \.\/$/.test(l)), 'package.json sits next to dist/ (the version)')
  t.ok(lines.some((l) => /^RUN npm ci --omit=dev/.test(l)), 'production dependencies installed with npm ci --omit=dev')
  t.ok(lines.some((l) => /^RUN npm run build/.test(l)), 'the build stage compiles')
  t.notOk(last.some((l) => /^RUN npm (ci|install)(?!.*--omit=dev)/.test(l)), 'no dev dependencies in the final stage')
})

t.test('.dockerignore lets in only what the Dockerfile copies', async (t) => {
  const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  t.equal(rules[0], '*', 'everything is excluded first')
  t.same(rules.slice(1).sort(), ['!package-lock.json', '!package.json', '!service/', '!tsconfig.json'], 'then the build inputs are allowed back')
})
