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
import { loadConfig } from '../service/config.js'
import { ROOT, which } from './helpers/stack.js'
import { quickStart } from './compose/quick-start.js'

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
  cap_add?: string[]
  security_opt?: string[]
  entrypoint?: string | string[]
  network_mode?: string
  read_only?: boolean
  stop_grace_period?: string
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
  'redis-exporter': 9121,
  'alert-log': 5001
}

/** One-shot services: they run, exit 0, and are what others wait for (no port, no healthcheck). */
const ONE_SHOT = ['secrets']

/** Secrets the `secrets` service generates unless .env sets them: never a default value. */
const SECRETS = ['REDIS_PASSWORD', 'GRAFANA_ADMIN_PASSWORD']

/** The name compose gives the image it builds from the Dockerfile (and runs when it exists). */
const APP_IMAGE = 'fastify-monitoring:local'

/** Tools each image has for a healthcheck (checked against the images' own Dockerfiles). */
function healthTools (image: string): string[] {
  if (image === APP_IMAGE) return ['node']
  // The Alpine image's busybox provides cat and grep.
  if (image.startsWith('redis:')) return ['redis-cli', 'cat', 'grep']
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

/**
 * The commands a shell line runs: the first word of each pipeline stage, list element and
 * `$(...)`, leading `VAR=...` assignments and quotes skipped. Enough for the one-liners here.
 */
function shellCommands (line: string): string[] {
  return line.replace(/\$\$/g, '$').split(/\|\||&&|[|;()]/)
    .map((part) => part.trim().replace(/^["']+\s*/, '').split(/\s+/)[0] ?? '')
    .filter((word) => word !== '' && !word.includes('=') && !/^["'$]/.test(word))
}

t.test('shellCommands finds every command of a line', async (t) => {
  t.same(shellCommands('REDISCLI_AUTH="$$(cat /f)" redis-cli ping | grep -q PONG'), ['cat', 'redis-cli', 'grep'])
  t.same(shellCommands('X=$$(cat /f) && export X && exec /bin/x'), ['cat', 'export', 'exec'])
})

t.test('the stack has the conventional service names, and one one-shot service', async (t) => {
  t.same(Object.keys(services).sort(), [...Object.keys(CONTAINER_PORT), ...ONE_SHOT].sort())
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
      t.equal(service.image, APP_IMAGE, `${name}: built from the Dockerfile, under a fixed name (a pre-built image with the same name is used)`)
      continue
    }
    t.ok(pinnedVersion(service.image ?? '') !== undefined, `${name}: ${service.image ?? '(no image)'} has an exact version tag`)
  }
})

t.test('every service restarts, has a healthcheck with a tool its image has, and runs unprivileged', async (t) => {
  for (const [name, service] of Object.entries(services)) {
    if (ONE_SHOT.includes(name)) continue
    t.equal(service.restart, 'unless-stopped', `${name}: restart unless-stopped`)
    t.same(service.cap_drop, ['ALL'], `${name}: no capabilities`)
    t.ok(service.security_opt?.includes('no-new-privileges:true'), `${name}: no-new-privileges`)
    t.ok(service.user !== undefined && !/^(root|0)(:|$)/.test(service.user), `${name}: runs as ${service.user}, not root`)
    if (service.build !== undefined && name === 'app') {
      t.equal(service.healthcheck, undefined, `${name}: the Dockerfile's HEALTHCHECK applies`)
      continue
    }
    const test = service.healthcheck?.test
    t.ok(Array.isArray(test) && test.length > 1 && service.healthcheck?.disable !== true, `${name}: has a healthcheck`)
    if (!Array.isArray(test)) continue
    const commands = test[0] === 'CMD-SHELL' ? shellCommands(String(test[1])) : [String(test[1])]
    for (const command of commands) t.ok(healthTools(service.image ?? '').includes(command), `${name}: healthcheck runs ${command}, which ${service.image} has`)
  }
})

t.test('secrets: a one-shot root container with CHOWN only, no network, in the Redis image', async (t) => {
  const secrets = services.secrets as Service
  t.equal(secrets.image, services.redis?.image, 'the Redis image (busybox sh, and the same `redis` user as the redis service)')
  t.equal(secrets.restart, 'no', 'runs once per `up`, not restarted')
  t.equal(secrets.user, '0:0', 'root: it hands each file to its reader')
  t.same(secrets.cap_drop, ['ALL'])
  t.same(secrets.cap_add, ['CHOWN'], 'the one capability that needs')
  t.ok(secrets.security_opt?.includes('no-new-privileges:true'))
  t.equal(secrets.network_mode, 'none', 'no network')
  t.equal(secrets.read_only, true, 'writes only to its volume')
  t.same(secrets.entrypoint, ['/bin/sh', '/etc/compose/secrets.sh'])
  t.equal(hostPath(secrets, '/etc/compose/secrets.sh'), join(ROOT, 'etc', 'compose', 'secrets.sh'), 'the script is the repository\'s, mounted')
  t.ok(secrets.volumes?.includes('secrets:/secrets'), 'writes the secrets volume')
  t.equal(secrets.ports, undefined, 'publishes nothing')
  for (const [name, service] of Object.entries(services)) {
    const mounts = (service.volumes ?? []).map(mount).filter((m) => m.source === 'secrets')
    if (name === 'secrets' || mounts.length === 0) continue
    t.same(mounts.map((m) => `${m.target}:${m.mode}`), ['/secrets:ro'], `${name}: reads the secrets read-only`)
    const dependsOn = service.depends_on as Record<string, { condition?: string }>
    t.equal(dependsOn?.secrets?.condition, 'service_completed_successfully', `${name}: starts after the secrets are written`)
  }
  const exporter = services['redis-exporter'] as Service
  const wrapper = Array.isArray(exporter.entrypoint) ? exporter.entrypoint : []
  t.same(wrapper.slice(0, 2), ['/bin/sh', '-c'], 'redis-exporter: a shell puts the password file into its environment')
  t.same(shellCommands(String(wrapper[2])), ['cat', 'export', 'exec'], 'with busybox sh and cat only')
  t.match(String(wrapper[2]), /exec \/redis_exporter$/, 'then becomes the image\'s binary')
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
  t.same(published.grafana, ['${GRAFANA_BIND:-127.0.0.1}:${GRAFANA_PORT:-3000}:3000'], 'Grafana: 3000 on loopback by default (anonymous Viewers), address and port configurable')
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

t.test('no default passwords: generated unless .env sets them, read from files; Grafana opens read-only on the dashboard', async (t) => {
  for (const name of SECRETS) {
    t.equal(services.secrets?.environment?.[name], `\${${name}:-}`, `${name}: passed to the secrets service, empty (generate) unless .env sets it`)
    const uses = composeText.split('\n').filter((l) => !l.trimStart().startsWith('#') && l.includes(`\${${name}`))
    t.equal(uses.length, 1, `${name}: read nowhere else (no password in another container's environment or command line)`)
  }
  const grafana = services.grafana?.environment ?? {}
  t.equal(grafana.GF_SECURITY_ADMIN_PASSWORD__FILE, '/secrets/grafana/admin-password', 'admin password from its file')
  t.equal(grafana.GF_SECURITY_ADMIN_PASSWORD, undefined, 'not in the environment')
  t.equal(grafana.GF_USERS_ALLOW_SIGN_UP, 'false', 'no sign-up')
  // eslint-disable-next-line no-template-curly-in-string
  t.equal(grafana.GF_AUTH_ANONYMOUS_ENABLED, '${GRAFANA_ANONYMOUS:-true}', 'anonymous access by default, GRAFANA_ANONYMOUS=false turns it off')
  t.equal(grafana.GF_AUTH_ANONYMOUS_ORG_ROLE, 'Viewer', 'anonymous visitors only view')
  const home = String(grafana.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH)
  const local = hostPath(services.grafana as Service, home)
  t.ok(local !== undefined && existsSync(local), `the home dashboard ${home} is a mounted file of the repository (${String(local)})`)
  const dashboard = JSON.parse(readFileSync(local ?? '', 'utf8')) as { title?: string }
  t.match(dashboard.title, /RED/, `and it is the RED dashboard (${String(dashboard.title)})`)
})

t.test('the app\'s stop_grace_period outlasts its graceful shutdown', async (t) => {
  const app = services.app as Service
  const grace = /^(\d+)(ms|s|m)$/.exec(String(app.stop_grace_period))
  t.ok(grace !== null, `stop_grace_period is set: ${String(app.stop_grace_period)} (compose's default, 10 s, is the service's own default shutdown bound)`)
  const graceMs = Number(grace?.[1]) * ({ ms: 1, s: 1000, m: 60_000 } as Record<string, number>)[grace?.[2] ?? 's']!
  // The shutdown bound the container gets: the compose file's SHUTDOWN_TIMEOUT_MS (its default
  // where it is `${VAR:-default}`), else service/config.ts's default.
  const raw = app.environment?.SHUTDOWN_TIMEOUT_MS
  const value = raw === undefined ? undefined : String(raw).replace(/^\$\{\w+:-([^}]*)\}$/, '$1')
  const { shutdownTimeoutMs } = loadConfig(value === undefined ? {} : { SHUTDOWN_TIMEOUT_MS: value })
  t.ok(graceMs >= shutdownTimeoutMs + 2000,
    `stop_grace_period ${graceMs} ms >= SHUTDOWN_TIMEOUT_MS ${shutdownTimeoutMs} ms + 2 s (the forced exit's own logging and flush), so stop never ends in SIGKILL`)
})

t.test('Redis: append-only file fsynced every second, password required and used by its clients', async (t) => {
  const command = services.redis?.command as string[]
  t.equal(command[1], '/secrets/redis/redis.conf', 'the config file the secrets service wrote (requirepass) comes first')
  t.match(command.join(' '), /--appendonly yes/)
  t.match(command.join(' '), /--appendfsync everysec/)
  t.notMatch(command.join(' '), /requirepass|PASSWORD/, 'no password on the command line')
  t.equal(services.app?.environment?.REDIS_URL, 'redis://redis:6379', 'the service\'s URL holds no password')
  t.equal(services.app?.environment?.REDIS_PASSWORD_FILE, '/secrets/app/redis-password', 'it reads the password from its file')
  t.equal(services['redis-exporter']?.environment?.REDIS_ADDR, 'redis://redis:6379')
  t.match(String((services['redis-exporter']?.entrypoint as string[])[2]), /^REDIS_PASSWORD=\$\$\(cat \/secrets\/redis-exporter\/redis-password\)/, 'redis-exporter reads its copy')
  t.match(String(services.redis?.healthcheck?.test?.[1]), /^REDISCLI_AUTH="\$\$\(cat \/secrets\/redis\/password\)" redis-cli ping/,
    'the healthcheck authenticates without a password on its command line')
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
  const alertmanager = parse(readFileSync(join(ROOT, 'etc', 'alertmanager', 'alertmanager.yml'), 'utf8')) as
    { receivers: Array<{ name: string, webhook_configs?: Array<{ url: string }> }> }
  for (const receiver of alertmanager.receivers) {
    for (const hook of receiver.webhook_configs ?? []) {
      const url = new URL(hook.url)
      checkAddress(t, `receiver ${receiver.name}`, `${url.hostname}:${url.port}`)
    }
  }
  t.same(services['alert-log']?.command, ['node', '/etc/compose/alert-log.mjs'], 'alert-log runs the repository\'s receiver')
  t.equal(hostPath(services['alert-log'] as Service, '/etc/compose/alert-log.mjs'), join(ROOT, 'etc', 'compose', 'alert-log.mjs'), 'mounted from etc/compose')
  t.match(String(services['alert-log']?.healthcheck?.test?.[3]), new RegExp(`127\\.0\\.0\\.1:${CONTAINER_PORT['alert-log']}/health`), 'its healthcheck asks its own port, not the service\'s')
  for (const [name, service] of Object.entries(services)) {
    const test = service.healthcheck?.test
    // podman 4.3's Docker-compatible API re-splits CMD arguments at spaces (a CMD-SHELL line is
    // given to a shell whole, so spaces are fine there).
    if (Array.isArray(test) && test[0] === 'CMD') t.same(test.filter((a) => /\s/.test(a)), [], `${name}: no space inside a healthcheck argument`)
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
  for (const name of SECRETS) t.equal(example.get(name), '', `${name} is empty in the example: generated unless set`)
  t.notMatch(composeText, /\$\{\w+:\?/, 'no variable is required: a fresh clone starts with nothing to edit')
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

t.test('docker-compose config accepts the file with nothing set, and .env values override', { skip: which('docker-compose') === undefined ? NO_COMPOSE : false }, async (t) => {
  const fresh = composeConfig({}, false)
  t.equal(fresh.status, 0, `a fresh clone: docker-compose config passes with no .env: ${fresh.output}`)
  const defaults = parse(fresh.output) as Compose
  t.same(defaults.services.grafana?.ports?.map(String), ['127.0.0.1:3000:3000/tcp'], 'Grafana on loopback by default')
  t.equal(defaults.services.secrets?.environment?.REDIS_PASSWORD, '', 'no Redis password: the secrets service generates one')

  const secrets = { REDIS_PASSWORD: 'test-redis-password', GRAFANA_ADMIN_PASSWORD: 'test-grafana-password' }
  const resolved = composeConfig({ ...secrets, PROMETHEUS_PORT: '19090', APP_BIND: '127.0.0.1', GRAFANA_BIND: '0.0.0.0', GRAFANA_ANONYMOUS: 'false' }, false)
  t.equal(resolved.status, 0)
  const config = parse(resolved.output) as Compose
  t.same(config.services.prometheus?.ports?.map(String), ['127.0.0.1:19090:9090/tcp'], 'PROMETHEUS_PORT moves the host port, not the address')
  t.same(config.services.app?.ports?.map(String), ['127.0.0.1:8080:8080/tcp'], 'APP_BIND restricts the service to loopback')
  t.same(config.services.grafana?.ports?.map(String), ['0.0.0.0:3000:3000/tcp'], 'GRAFANA_BIND publishes Grafana elsewhere')
  t.equal(config.services.grafana?.environment?.GF_AUTH_ANONYMOUS_ENABLED, 'false', 'GRAFANA_ANONYMOUS=false requires a log-in')
  for (const [name, value] of Object.entries(secrets)) {
    t.equal(config.services.secrets?.environment?.[name], value, `${name} from .env reaches the secrets service`)
    const elsewhere = Object.entries(config.services).filter(([n, s]) => n !== 'secrets' && JSON.stringify(s).includes(value)).map(([n]) => n)
    t.same(elsewhere, [], `${name}: in no other service's configuration`)
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
  t.ok(lines.some((l) => /^RUN (--mount=\S+ )*.*npm ci --omit=dev/.test(l)), 'production dependencies installed with npm ci --omit=dev')
  t.ok(lines.some((l) => /^RUN npm run build/.test(l)), 'the build stage compiles')
  t.notOk(last.some((l) => /^RUN npm (ci|install)(?!.*--omit=dev)/.test(l)), 'no dev dependencies in the final stage')
})

t.test('.dockerignore lets in only what the Dockerfile copies', async (t) => {
  const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  t.equal(rules[0], '*', 'everything is excluded first')
  t.same(rules.slice(1).sort(), ['!package-lock.json', '!package.json', '!packages/fastify-statsd-red/package.json', '!packages/fastify-statsd-red/src/', '!packages/fastify-statsd-red/tsconfig.json', '!service/', '!tsconfig.json'], 'then the build inputs are allowed back')
})

t.test('Dockerfile: npm ci takes the npm config and CA bundle as optional build secrets, never a layer', async (t) => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  const installs = lines.filter((l) => /^RUN\s.*\bnpm ci\b/.test(l))
  t.ok(installs.length >= 2, `${installs.length} npm ci steps`)
  for (const run of installs) {
    t.match(run, /^RUN --mount=type=secret,id=npmrc --mount=type=secret,id=cacert /, 'both secrets mounted for this step only (optional: a build without them works)')
    t.match(run, /if \[ -f \/run\/secrets\/npmrc \]; then export NPM_CONFIG_USERCONFIG=\/run\/secrets\/npmrc; fi;/, 'the npm config, when given')
    t.match(run, /if \[ -f \/run\/secrets\/cacert \]; then export NPM_CONFIG_CAFILE=\/run\/secrets\/cacert; fi;/, 'the CA bundle, when given')
  }
  t.notMatch(lines.filter((l) => /^(COPY|ADD|ENV|ARG)\s/i.test(l)).join('\n'), /npmrc|cafile|cacert|ca-certificates/i, 'no npm config or CA copied, set or passed as a build argument')
})

t.test('the README quick start and the compose file give the same start command, and every documented `up` rebuilds the service', async (t) => {
  const { up } = quickStart()
  t.equal(up.line, 'docker compose up -d --build', 'the quick start starts the stack with docker compose up -d --build')
  const header = composeText.split('\n').filter((l) => l.startsWith('#')).join('\n')
  t.match(header, /^# {3}docker compose up -d --build\b/m, 'the compose file\'s header says the same')
  // compose builds only a missing image: every `up` the docs tell a user to run (their shell
  // blocks) must rebuild, so a `git pull` never leaves the old code running, or say it runs an
  // image built just before (--no-build).
  const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
  const ups = pages.flatMap((page) => [...readFileSync(join(ROOT, page), 'utf8').matchAll(/```sh\n([\s\S]*?)```/g)]
    .flatMap((block) => [...block[1]!.matchAll(/docker[- ]compose up\b[^\n#]*/g)].map((m) => ({ page, command: m[0].trim() }))))
  t.ok(ups.length >= 2, `${ups.length} start commands in the docs' shell blocks`)
  for (const { page, command } of ups) t.match(command, /--(no-)?build\b/, `${page}: ${command}`)
})

t.test('one documented command shows the Grafana admin password, at the path Grafana and the secrets script use', async (t) => {
  const file = String(services.grafana?.environment?.GF_SECURITY_ADMIN_PASSWORD__FILE)
  const command = `docker compose exec grafana cat ${file}`
  t.ok(readFileSync(join(ROOT, 'docs', 'running.md'), 'utf8').includes(command), `docs/running.md: ${command}`)
  t.ok(composeText.includes(command), 'the compose file\'s header: the same')
  const script = readFileSync(join(ROOT, 'etc', 'compose', 'secrets.sh'), 'utf8')
  const relative = posix.relative('/secrets', file)
  t.match(script, new RegExp(`put ${relative.replace(/[.]/g, '\\.')} "\\$grafana_owner"`), `etc/compose/secrets.sh writes ${relative} for Grafana`)
  t.equal(services.grafana?.user, '472', 'Grafana runs as 472, the owner the script gives the file (GRAFANA_OWNER default)')
  t.match(script, /grafana_owner=\$\{GRAFANA_OWNER:-472\}/)
})

t.test('each secret file is owned by the user of the service that reads it', async (t) => {
  const script = readFileSync(join(ROOT, 'etc', 'compose', 'secrets.sh'), 'utf8')
  const owner = (variable: string): string | undefined => new RegExp(`=\\$\\{${variable}:-([^}]+)\\}`).exec(script)?.[1]
  // node is uid 1000 in the node images (Dockerfile USER node); the secrets script runs in the
  // Redis image, so `redis` is that image's redis user, the one the redis service runs as.
  const cases: Array<[string, string, string]> = [['app', 'APP_OWNER', '1000'], ['redis', 'REDIS_OWNER', 'redis'],
    ['redis-exporter', 'REDIS_EXPORTER_OWNER', '59000'], ['grafana', 'GRAFANA_OWNER', '472']]
  for (const [service, variable, expected] of cases) {
    t.equal(owner(variable), expected, `${variable} defaults to ${expected}`)
    t.equal(String(services[service]?.user).split(':')[0], service === 'app' ? 'node' : expected, `${service} runs as ${String(services[service]?.user)}`)
    t.match(script, new RegExp(`put ${service}/[\\w.-]+ "\\$${variable.toLowerCase().replace('redis_exporter', 'exporter')}"`), `${service}'s files are given to that user`)
  }
})
