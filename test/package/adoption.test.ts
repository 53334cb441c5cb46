/**
 * The adoption test: what docs/monitor-your-own-app.md tells another team to do, done. The
 * package is packed (`npm pack`, as the docs say), installed from the tarball into a scratch
 * Fastify app in a temporary folder (fastify, hot-shots and fastify-plugin from the registry), and
 * the scratch app is the docs' example code blocks, run as they are, importing nothing but the
 * package's exports. It serves a few routes and a declared metric, sends through its generated
 * mapping to statsd_exporter (the real binary from STATSD_EXPORTER_BIN or PATH, else the
 * project's stand-in, said in the output) and a real Prometheus with the shipped rules: the counts
 * are exact, and the RED recording rules and every generic dashboard panel return the scratch
 * app's series under its own `service`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { metricNames, panelQueries, substitute } from '../../scripts/dashboards/check.js'
import { startExporterStandIn } from '../helpers/exporter-stand-in.js'
import { NO_PROMETHEUS, havePrometheus, startPrometheus, type PromSeries } from '../helpers/prometheus.js'
import { freePort } from '../helpers/redis.js'
import { ROOT, statsdExporterBin } from '../helpers/stack.js'

const DOCS = join(ROOT, 'docs', 'monitor-your-own-app.md')
const SERVICE = 'checkout'
const RULES = ['records.yml', 'alerts.yml'].map((f) => join(ROOT, 'etc', 'prometheus', 'rules', f))
/** Rows of the dashboard that read this project's own metrics or the exporter's, not the plugin's. */
const NOT_GENERIC = /^(cache|redis|statsd_exporter|ALERTS)|cache_lookups/

/** The docs' example files: every ```js block whose first line is `// <file name>`. */
function exampleFiles (markdown: string): Map<string, string> {
  const files = new Map<string, string>()
  for (const m of markdown.matchAll(/```js\n\/\/ ([\w.-]+)\n([\s\S]*?)```/g)) files.set(m[1], m[2])
  return files
}

/** Runs a command to completion; its output is in the error when it fails. */
function run (command: string, args: string[], cwd: string, timeoutMs = 300_000): string {
  const res = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: timeoutMs })
  if (res.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${res.status ?? res.signal}):\n${res.stdout}\n${res.stderr}`)
  return res.stdout
}

async function waitFor<T> (what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await fn()
      if (value !== undefined) return value
    } catch (err) { last = err }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

/** A real statsd_exporter on loopback with `mapping`, stopped at teardown. */
async function startRealExporter (bin: string, mappingFile: string): Promise<{ udpPort: number, target: string }> {
  const udpPort = await freePort()
  const webPort = await freePort()
  const child: ChildProcess = spawn(bin, [
    `--statsd.mapping-config=${mappingFile}`, `--statsd.listen-udp=127.0.0.1:${udpPort}`, '--statsd.listen-tcp=',
    `--web.listen-address=127.0.0.1:${webPort}`
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr?.on('data', (chunk: Buffer) => { log += chunk.toString() })
  t.teardown(() => { child.kill('SIGTERM') })
  await waitFor(`statsd_exporter on :${webPort}`, async () => {
    if (child.exitCode !== null) throw new Error(`statsd_exporter exited ${child.exitCode}: ${log}`)
    return (await fetch(`http://127.0.0.1:${webPort}/-/healthy`)).ok ? true : undefined
  }, 30_000)
  return { udpPort, target: `127.0.0.1:${webPort}` }
}

/** Sum of the samples of `name` on an exposition page whose labels include `labels`. */
function sum (page: string, name: string, labels: Record<string, string>): number {
  let total = 0
  for (const line of page.split('\n')) {
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[3])
  }
  return total
}

// npm pack, an npm install from the registry and a minute of scraping: longer than tap's default per file.
t.setTimeout(900_000)

t.test('a scratch Fastify app installs the packed package and is monitored by the shipped mapping, rules and dashboard', {
  skip: havePrometheus() ? false : NO_PROMETHEUS,
  timeout: 900_000
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-adoption-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  // 1. Install as the docs say: npm pack in the clone, npm install of the tarball.
  const install = /npm pack (--workspace=[\w-]+)\n.*npm install \/path\/to\/fastify-monitoring\/([\w.-]+\.tgz)/.exec(readFileSync(DOCS, 'utf8'))
  t.ok(install, 'the docs give the pack and install commands')
  run('npm', ['pack', install?.[1] ?? '', '--pack-destination', dir], ROOT)
  const tarball = join(dir, install?.[2] ?? '')
  t.ok(existsSync(tarball), `npm pack wrote ${install?.[2]}, the file the docs install`)
  const packed = run('tar', ['-tzf', tarball], dir).split('\n').filter((f) => f !== '')
  t.ok(packed.includes('package/dist/index.js') && packed.includes('package/dist/index.d.ts'), 'the tarball ships built JavaScript and type declarations')
  t.notOk(packed.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), 'and no TypeScript sources')

  const app = join(dir, 'app')
  run('mkdir', ['-p', app], dir)
  const rootLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> }
  writeFileSync(join(app, 'package.json'), JSON.stringify({
    name: 'scratch-app',
    private: true,
    type: 'module',
    dependencies: { fastify: rootLock.packages['node_modules/fastify']?.version ?? '^5.0.0' }
  }, null, 2))
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], app)
  // None of the service's own dependencies: its Redis client, load shedding, schemas, shutdown.
  for (const absent of ['ioredis', '@fastify/redis', '@fastify/under-pressure', '@fastify/type-provider-typebox', 'close-with-grace', 'typebox']) {
    t.notOk(existsSync(join(app, 'node_modules', absent)), `installing it brings no ${absent}`)
  }
  t.ok(existsSync(join(app, 'node_modules', 'hot-shots')) && existsSync(join(app, 'node_modules', 'fastify-plugin')), 'it brings hot-shots and fastify-plugin')

  // 2. The docs' example code, as it is.
  const files = exampleFiles(readFileSync(DOCS, 'utf8'))
  t.same([...files.keys()].sort(), ['app.js', 'mapping.js', 'metrics.js'], 'the docs carry the three example files')
  for (const [name, text] of files) {
    t.notMatch(text, /from '(?!fastify'|fastify-statsd-red'|node:|\.\/)/, `${name} imports only fastify, the package and its own files`)
    writeFileSync(join(app, name), text)
  }
  run('node', ['mapping.js'], app)
  const mappingFile = join(app, 'statsd-mapping.yml')
  const mapping = readFileSync(mappingFile, 'utf8')
  const names = (parse(mapping) as { mappings: Array<{ name: string }> }).mappings.map((m) => m.name)
  t.ok(names.includes('http_requests_total') && names.includes('orders_placed_total') && names.includes('payment_duration_seconds'),
    'the generated mapping has the plugin\'s metrics and the app\'s declared ones')

  // 3. statsd_exporter: the real one where installed, else the stand-in, said loudly.
  const bin = statsdExporterBin()
  const exporter = bin !== undefined ? await startRealExporter(bin, mappingFile) : await startExporterStandIn(t, { mapping })
  const exporterName = bin !== undefined ? `the real statsd_exporter (${bin})` : 'the project\'s statsd_exporter STAND-IN (no statsd_exporter on STATSD_EXPORTER_BIN or PATH)'
  t.comment(`exporter: ${exporterName}`)
  const prometheus = await startPrometheus(t, {
    ruleFiles: RULES,
    evaluationInterval: '1s',
    scrape: { job: 'statsd-exporter', target: exporter.target, interval: '1s' }
  })
  t.comment(`prometheus: Debian's ${run(process.env.PROMETHEUS_BIN ?? 'prometheus', ['--version'], dir).split('\n')[0]} on ${prometheus.url}, rules ${RULES.map((r) => r.slice(ROOT.length + 1)).join(', ')}`)

  // 4. The scratch app, serving.
  const port = await freePort()
  const child = spawn(process.execPath, ['app.js'], {
    cwd: app,
    env: { ...process.env, PORT: String(port), STATSD_HOST: '127.0.0.1', STATSD_PORT: String(exporter.udpPort), NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { out += c.toString() })
  t.teardown(() => { child.kill('SIGTERM') })
  const base = `http://127.0.0.1:${port}`
  await waitFor('the scratch app to listen', async () => {
    if (child.exitCode !== null) throw new Error(`the scratch app exited ${child.exitCode}: ${out}`)
    return (await fetch(`${base}/health`)).ok ? true : undefined
  }, 60_000)

  const sent = { hello: 5, card: 3, invoice: 2, health: 4, missing: 1, failed: 2 }
  for (let i = 0; i < sent.hello; i++) t.equal((await fetch(`${base}/hello`)).status, 200)
  for (let i = 0; i < sent.card; i++) t.equal((await fetch(`${base}/orders/card`, { method: 'POST' })).status, 201)
  for (let i = 0; i < sent.invoice; i++) t.equal((await fetch(`${base}/orders/invoice`, { method: 'POST' })).status, 201)
  for (let i = 0; i < sent.health + 1; i++) await fetch(`${base}/health`)
  for (let i = 0; i < sent.missing; i++) t.equal((await fetch(`${base}/nowhere`)).status, 404)
  for (let i = 0; i < sent.failed; i++) t.equal((await fetch(`${base}/fail`)).status, 500)
  // One aborted request: half a body, then the client goes away while Fastify waits for the rest.
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write('POST /orders/card HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a"')
      setImmediate(() => { socket.destroy(); resolve() })
    })
    socket.on('error', reject)
  })

  // 5. Counts exact at the exporter, under the app's own service label.
  const svc = { service: SERVICE }
  const page = await waitFor('the exporter to count every request', async () => {
    const text = await (await fetch(`http://${exporter.target}/metrics`)).text()
    return sum(text, 'orders_placed_total', svc) === sent.card + sent.invoice && sum(text, 'http_requests_aborted_total', svc) === 1 &&
      sum(text, 'http_requests_total', svc) === sent.hello + sent.card + sent.invoice + sent.missing + sent.failed
      ? text
      : undefined
  }, 60_000)
  t.equal(sum(page, 'http_requests_total', { ...svc, route: '/hello', method: 'GET', status_code: '200' }), sent.hello, 'GET /hello counted exactly')
  t.equal(sum(page, 'http_requests_total', { ...svc, route: '/orders/:payment', status_code: '201' }), sent.card + sent.invoice, 'POST /orders/:payment under its template')
  t.equal(sum(page, 'http_requests_total', { ...svc, route: '__unmatched__', status_code: '404' }), sent.missing, 'the 404 under __unmatched__')
  t.equal(sum(page, 'http_requests_total', { ...svc, route: '/fail', status_code: '500' }), sent.failed, 'the 500s')
  t.equal(sum(page, 'http_requests_total', { ...svc, route: '/health' }), 0, 'the excluded route is not measured')
  t.equal(sum(page, 'http_request_duration_seconds_count', { ...svc, route: '/hello' }), sent.hello, 'one duration per /hello response')
  t.equal(sum(page, 'http_requests_aborted_total', { ...svc, route: '/orders/:payment', method: 'POST' }), 1, 'the aborted request, under its template')
  t.equal(sum(page, 'orders_placed_total', { ...svc, payment: 'card' }), sent.card, 'the declared counter, card')
  t.equal(sum(page, 'orders_placed_total', { ...svc, payment: 'invoice' }), sent.invoice, 'the declared counter, invoice')
  t.equal(sum(page, 'payment_duration_seconds_count', svc), sent.card + sent.invoice, 'the declared timer, one observation per order')
  t.ok(sum(page, 'nodejs_heap_size_used_bytes', svc) > 0, 'runtime gauges arrive')

  // 6. The RED recording rules return the app's series, under its service.
  const records = (parse(readFileSync(RULES[0], 'utf8')) as { groups: Array<{ rules: Array<{ record?: string, expr: string }> }> })
    .groups.flatMap((g) => g.rules).filter((r) => r.record !== undefined && /http_request/.test(r.expr))
  t.ok(records.length >= 10, `${records.length} recording rules over the HTTP metrics`)
  const seriesOf = async (expr: string): Promise<PromSeries[] | undefined> => {
    const result = (await prometheus.query(expr, Date.now() / 1000)).result as PromSeries[]
    return result.length > 0 ? result : undefined
  }
  for (const rule of records) {
    const result = await waitFor(`${rule.record ?? ''} to have a series`, () => seriesOf(`${rule.record ?? ''}{service="${SERVICE}"}`), 120_000)
    t.ok(result.every((s) => s.metric.service === SERVICE), `${rule.record ?? ''}: the app's series, service="${SERVICE}"`)
  }

  // 7. Every generic dashboard panel returns the app's series, the variables set to the app.
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'etc', 'dashboards', 'fastify-red.json'), 'utf8')) as { panels?: unknown[] }
  const values = { __rate_interval: '20s', __interval: '5s', service: SERVICE, instance: '.*', route: '.*' }
  const generic = panelQueries(dashboard).filter((q) => !metricNames(q.expr).some((m) => NOT_GENERIC.test(m)))
  t.ok(generic.length >= 10, `${generic.length} generic panel queries`)
  for (const q of generic) {
    const result = await waitFor(`panel "${q.panelTitle}" ${q.refId}`, () => seriesOf(substitute(q.expr, values)), 120_000)
    t.ok(result.every((s) => s.metric.service === undefined || s.metric.service === SERVICE), `${q.row} / ${q.panelTitle} (${q.refId}): data, and only the app's service`)
  }
  t.comment(`ran with ${exporterName} and Prometheus at ${prometheus.url}`)
})
