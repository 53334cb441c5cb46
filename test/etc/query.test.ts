import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parse } from 'yaml'
import { metricNames, panelQueries, parseLabelValues, substitute } from '../../scripts/dashboards/check.js'
import { buildDashboard } from '../../scripts/dashboards/fastify-red.js'
import { ExporterRegistry, OpenMetricsWriter, goFloat, parseExposition, parseLabels } from '../fixtures/exposition.js'
import { EXPORTER_TARGET, exporterTraffic } from '../fixtures/exporter-traffic.js'
import {
  NO_PROMETHEUS, backfillOpenMetrics, havePrometheus, startPrometheus, type PromData, type PromSeries, type PrometheusServer
} from '../helpers/prometheus.js'

const reference = (file: string): string =>
  readFileSync(new URL(`../fixtures/statsd-exporter-0.27.2/${file}`, import.meta.url), 'utf8')

const STEP = 10
const RULES_DIR = fileURLToPath(new URL('../../etc/prometheus/rules/', import.meta.url))

/** Grafana's values for each check: the "All" selection and a concrete multi-value one. */
const SCENARIOS = [
  { name: 'All services, instances and routes', values: { __rate_interval: '40s', __interval: '10s', service: '.*', instance: '.*', route: '.*' } },
  { name: 'fastify-monitoring, host-a, /items/:key and __unmatched__', values: { __rate_interval: '40s', __interval: '10s', service: 'fastify-monitoring', instance: 'host-a', route: '(/items/:key|__unmatched__)' } }
] as const

t.test('the fixture renderer writes what statsd_exporter 0.27.2 writes, byte for byte', async (t) => {
  t.same([0.0001, 0.00025, 0.1, 1, 2.5, 10, 42, 0.0561, 12345678, 1e6, 123456, 1e-5].map(goFloat),
    ['0.0001', '0.00025', '0.1', '1', '2.5', '10', '42', '0.0561', '1.2345678e+07', '1e+06', '123456', '1e-05'])

  // Replay lines.txt through the reference mapping the way the exporter does (README.md there):
  // tags become labels, timers are observed in seconds, @rate replays 1/rate observations,
  // a multi-value line is one observation per value, unmapped names are dropped.
  const mapping = parse(reference('mapping.yml')) as {
    defaults: { histogram_options: { buckets: number[] } }
    mappings: Array<{ match: string, name: string, help?: string, action?: string }>
  }
  const registry = new ExporterRegistry()
  for (const line of reference('lines.txt').split('\n').filter((l) => l !== '')) {
    const [head, type, ...rest] = line.split('|')
    const [name, ...values] = head.split(':')
    const rate = Number(rest.find((p) => p.startsWith('@'))?.slice(1) ?? 1)
    const tags = rest.find((p) => p.startsWith('#'))?.slice(1).split(',') ?? []
    const labels = Object.fromEntries(tags.map((tag) => [tag.slice(0, tag.indexOf(':')), tag.slice(tag.indexOf(':') + 1)]))
    const map = mapping.mappings.find((m) => m.match === name)
    if (map === undefined) continue
    for (const value of values.map(Number)) {
      if (type === 'c') registry.add(map.name, map.help ?? '', labels, value / rate)
      else if (type === 'g') registry.set(map.name, map.help ?? '', labels, value)
      else for (let i = 0; i < 1 / rate; i++) registry.observe(map.name, map.help ?? '', mapping.defaults.histogram_options.buckets, labels, value / 1000)
    }
  }
  // The exporter's own metrics, with the values it reported.
  const page = parseExposition(reference('exposition.txt'))
  for (const s of page.samples.filter((s) => s.name.startsWith('statsd_'))) {
    const family = page.families.get(s.name)
    if (family?.type === 'counter') registry.add(s.name, family.help, parseLabels(s.labelText), Number(s.value))
    else registry.set(s.name, family?.help ?? '', parseLabels(s.labelText), Number(s.value))
  }
  t.equal(registry.render(), reference('exposition.txt'))
})

t.test('scrapes become OpenMetrics: counter families without _total, target labels, # EOF', async (t) => {
  const writer = new OpenMetricsWriter()
  const page = parseExposition(reference('exposition.txt'))
  writer.addScrape(page, 1000, EXPORTER_TARGET)
  writer.addScrape(page, 1010, EXPORTER_TARGET)
  writer.addSample('up', 'gauge', '', { job: 'statsd-exporter', instance: 'statsd-exporter:9102' }, 1, 1000)
  const text = writer.render()
  t.match(text, /^# TYPE http_requests counter\n# HELP http_requests HTTP responses sent, by route, method and status code\.\n/m)
  t.match(text, /^http_requests_total\{instance="statsd-exporter:9102",job="statsd-exporter",method="GET",route="\/items\/:key",status_code="200"\} 42 1000\n.* 42 1010\n/m)
  t.match(text, /^nodejs_heap_size_used_bytes\{instance="host-a",job="statsd-exporter"\} 1\.2345678e\+07 1000$/m, 'honor_labels: the instance tag wins')
  t.match(text, /^http_request_duration_seconds_bucket\{[^}]*le="2\.5"[^}]*\} 6 1000$/m, 'le kept as the exporter writes it')
  t.match(text, /^# TYPE up gauge\nup\{instance="statsd-exporter:9102",job="statsd-exporter"\} 1 1000$/m)
  t.ok(text.endsWith('# EOF\n'))
  t.equal(writer.sampleCount, 2 * page.samples.length + 1)
})

/** True when a query answer holds at least one number (NaN is no data). */
function hasData (data: PromData): boolean {
  if (data.resultType === 'scalar') return true
  return (data.result as PromSeries[]).some((s) =>
    [...(s.values ?? []), ...(s.value === undefined ? [] : [s.value])].some(([, v]) => v !== 'NaN'))
}

/** The last non-NaN value of every series of a range answer. */
function lastValues (data: PromData): Array<{ metric: Record<string, string>, value: number }> {
  return (data.result as PromSeries[]).map((s) => ({
    metric: s.metric,
    value: Number([...(s.values ?? [])].reverse().find(([, v]) => v !== 'NaN')?.[1] ?? NaN)
  }))
}

/** Waits until every rule group has been evaluated twice since start (rules reading rules included). */
async function waitForRules (prometheus: PrometheusServer, timeoutMs = 30_000): Promise<void> {
  type Groups = { groups: Array<{ name: string, lastEvaluation: string }> }
  const first = new Map<string, string>()
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { groups } = await prometheus.api<Groups>('/api/v1/rules')
    let done = groups.length > 0
    for (const g of groups) {
      if (g.lastEvaluation.startsWith('0001-')) { done = false; continue }
      if (!first.has(g.name)) first.set(g.name, g.lastEvaluation)
      if (first.get(g.name) === g.lastEvaluation) done = false
    }
    if (done) return
    if (Date.now() > deadline) throw new Error(`rule groups not evaluated twice within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

t.test('every dashboard query returns data from an hour of exporter-shaped data in a real Prometheus', {
  skip: havePrometheus() ? false : NO_PROMETHEUS,
  timeout: 120_000
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-dashboard-query-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  // An hour of scrapes ending 10 s ago: raw data is in blocks, and recording rules are
  // evaluated live by the Prometheus below over its last minutes. A rule result exists only
  // from the first evaluation on, so range queries end at `now` (their last point reads the
  // latest evaluation) and start 10 minutes earlier (their first points read the raw data).
  const end = Math.floor(Date.now() / 1000 / STEP) * STEP - STEP
  const traffic = exporterTraffic({ start: end - 359 * STEP, steps: 360, stepSeconds: STEP })
  t.equal(traffic.end, end)
  const file = join(dir, 'scrapes.om')
  writeFileSync(file, traffic.openMetrics)
  backfillOpenMetrics(file, join(dir, 'tsdb'))
  t.pass(`backfilled ${traffic.samples} samples`)

  const ruleFiles = existsSync(RULES_DIR)
    ? readdirSync(RULES_DIR).filter((f) => f.endsWith('.yml')).sort().map((f) => join(RULES_DIR, f))
    : []
  if (ruleFiles.length === 0) t.comment('etc/prometheus/rules/*.yml not found: panels on recording rules will have no data')
  const prometheus = await startPrometheus(t, { tsdbDir: join(dir, 'tsdb'), ruleFiles, evaluationInterval: '1s' })
  if (ruleFiles.length > 0) await waitForRules(prometheus)
  const now = Math.floor(Date.now() / 1000)

  type Rules = { groups: Array<{ rules: Array<{ type: string, name: string, health: string, lastError?: string }> }> }
  const { groups } = await prometheus.api<Rules>('/api/v1/rules')
  const health = new Map(groups.flatMap((g) => g.rules).filter((r) => r.type === 'recording').map((r) => [r.name, r]))

  const model = buildDashboard()
  const queries = panelQueries(model)
  const variables = (model.templating?.list ?? []) as Array<{ type: string, name: string, definition?: string }>

  for (const scenario of SCENARIOS) {
    await t.test(scenario.name, async (t) => {
      for (const q of queries) {
        const expr = substitute(q.expr, scenario.values)
        const what = `panel ${q.panelId} "${q.panelTitle}" (${q.row}) ${q.refId}: ${expr}`
        for (const rule of metricNames(expr).filter((n) => n.includes(':'))) {
          t.equal(health.get(rule)?.health, 'ok', `${rule} is loaded and evaluates cleanly ${health.get(rule)?.lastError ?? ''}`)
        }
        const data = q.instant
          ? await prometheus.query(expr, now)
          : await prometheus.queryRange(expr, now - 600, now, STEP)
        t.ok(hasData(data), what)
      }
      for (const v of variables.filter((v) => v.type === 'query')) {
        const { selector, label } = parseLabelValues(String(v.definition))
        const params = new URLSearchParams({ 'match[]': substitute(selector, scenario.values), start: String(end - 600), end: String(now) })
        const values = await prometheus.api<string[]>(`/api/v1/label/${label}/values?${params.toString()}`)
        t.ok(values.length > 0, `variable ${v.name}: ${values.join(', ')}`)
      }
    })
  }

  await t.test('values make sense', async (t) => {
    const all = SCENARIOS[0].values
    const range = async (panelId: number, refId = 'A'): Promise<Array<{ metric: Record<string, string>, value: number }>> => {
      const q = queries.find((x) => x.panelId === panelId && x.refId === refId)
      if (q === undefined) throw new Error(`no panel ${panelId} ${refId}`)
      return lastValues(await prometheus.queryRange(substitute(q.expr, all), end - 600, end, STEP))
    }
    const instances = await prometheus.api<string[]>(`/api/v1/label/instance/values?${new URLSearchParams({
      'match[]': 'nodejs_heap_size_used_bytes', start: String(end - 600), end: String(now)
    }).toString()}`)
    t.same(instances, ['host-a', 'host-b'], 'the instance variable lists the service instances only')
    for (const [panelId, refId] of [[703, 'B'], [704, 'A']] as const) {
      const seen = (await range(panelId, refId)).map((s) => s.metric.instance).sort()
      t.same([...new Set(seen)], ['host-a', 'host-b'], `panel ${panelId} ${refId} leaves out Prometheus's own process metrics`)
    }
    const [hit] = await range(501)
    t.ok(hit.value > 0.6 && hit.value < 0.85, `cache hit ratio ${hit.value} is near the simulated 72 %`)
    const ratios = await range(303)
    t.ok(ratios.every((r) => r.value >= 0 && r.value <= 1), '5xx ratio is a share')
    const classes = (await range(204)).map((s) => s.metric.status_class).sort()
    t.same(classes, ['2xx', '3xx', '4xx', '5xx'], 'status classes')
    const [total] = await range(201)
    const byRoute = (await range(202)).reduce((sum, s) => sum + s.value, 0)
    t.ok(Math.abs(total.value - byRoute) < 1e-6 * total.value, `requests/s ${total.value} is the sum over routes`)
  })
})
