import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { parse } from 'yaml'
import { metricNames } from '../../scripts/dashboards/check.js'
import { ALL_METRICS, GLOBAL_TAGS, LATENCY_OBJECTIVE_SECONDS, UNMATCHED_ROUTE, seriesNames } from '../../service/metrics/catalogue.js'
import { goFloat } from '../fixtures/exposition.js'
import { NO_PROMETHEUS, havePromtool, promtool } from '../helpers/prometheus.js'
import { PROMETHEUS_DIR, durationSeconds as seconds, parseSeries, ruleGroups, ruleId, testFiles } from '../helpers/promtool.js'
import { RUNBOOK_URL_FILE, runbookBaseUrl, withRunbookUrls } from '../../scripts/runbooks.js'

const RULE_FILES = ['rules/records.yml', 'rules/alerts.yml']
/** The target labels a Prometheus Operator PodMonitor adds on Kubernetes (etc/kubernetes): all or none. */
const POD_TARGET_LABELS = ['container', 'endpoint', 'namespace', 'pod']
const RUNBOOK_DIR = join(PROMETHEUS_DIR, '../runbooks')
/** Prefix of every runbook_url (package.json config.runbookBaseUrl); the rest is `<alertname>.md` in etc/runbooks. */
const RUNBOOK_BASE = `${runbookBaseUrl()}/`
const SLO_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d']
/** The incident timelines, run by test/etc/prometheus-timelines.test.ts. */
const TIMELINES = 'tests/outage.test.yml'

/** The recording rules the dashboard and the alerts rely on (the shared brief's list). */
const EXPECTED_RECORDS = [
  'service:http_requests:rate5m',
  'service_route:http_requests:rate5m',
  'service:http_requests_5xx:ratio_rate5m',
  'service:http_requests_4xx:ratio_rate5m',
  'service_route:http_request_duration_seconds:p50_rate5m',
  'service_route:http_request_duration_seconds:p90_rate5m',
  'service_route:http_request_duration_seconds:p99_rate5m',
  'service:cache_lookups_hit:ratio_rate5m',
  ...SLO_WINDOWS.map((w) => `service:slo_errors:ratio_rate${w}`),
  ...SLO_WINDOWS.map((w) => `service:slo_latency_slow:ratio_rate${w}`)
]

/**
 * statsd_exporter 0.27.2's own metrics (test/fixtures/statsd-exporter-0.27.2/exposition.txt,
 * plus the labelled counters that only appear with their first event).
 */
const EXPORTER_METRICS = new Set([
  'event_queue_flushed_total', 'events_actions_total', 'events_total', 'events_unmapped_total', 'lines_total',
  'loaded_mappings', 'metrics_total', 'samples_total', 'tag_errors_total', 'tags_total',
  'tcp_connection_errors_total', 'tcp_connections_total', 'tcp_too_long_lines_total', 'udp_packet_drops_total',
  'udp_packets_total', 'unixgram_packets_total', 'sample_errors_total', 'events_conflict_total',
  'events_error_total', 'config_reloads_total'
].map((m) => `statsd_exporter_${m}`))

const records = RULE_FILES.flatMap((f) => ruleGroups(f)).flatMap((g) => g.rules).filter((r) => r.record !== undefined)
const alerts = RULE_FILES.flatMap((f) => ruleGroups(f)).flatMap((g) => g.rules).filter((r) => r.alert !== undefined)
const alertNames = [...new Set(alerts.map((a) => a.alert as string))]
const tests = testFiles()
const catalogueSeries = new Set(ALL_METRICS.flatMap(seriesNames))

/** Runs promtool and asserts exit 0, showing its whole output when it fails. */
function expectPromtool (t: Test, args: string[], timeoutMs = 170_000): void {
  const result = promtool(args, timeoutMs)
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`
  t.equal(result.status, 0, `promtool ${args.join(' ')}`, { output })
  t.match(output, /SUCCESS/)
}

t.test('prometheus.yml: the stack conventions', async (t) => {
  const config = parse(readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as {
    global: Record<string, string>
    rule_files: string[]
    alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> }
    scrape_configs: Array<{ job_name: string, honor_labels?: boolean, static_configs: Array<{ targets: string[] }> }>
  }
  t.equal(config.global.scrape_interval, '10s')
  t.equal(config.global.evaluation_interval, '10s')
  t.same(config.rule_files, ['rules/*.yml'], 'relative to the config file: works in the container and natively')
  t.same(config.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets)), ['alertmanager:9093'])
  const jobs = Object.fromEntries(config.scrape_configs.map((j) => [j.job_name, j]))
  const targets = (job: string): string[] => jobs[job]?.static_configs.flatMap((s) => s.targets) ?? []
  t.same(Object.keys(jobs).sort(), ['alertmanager', 'prometheus', 'redis-exporter', 'statsd-exporter'])
  t.same(targets('statsd-exporter'), ['statsd-exporter:9102'])
  t.equal(jobs['statsd-exporter'].honor_labels, true, 'the service\'s own instance label wins')
  t.same(targets('prometheus'), ['localhost:9090'])
  t.same(targets('alertmanager'), ['alertmanager:9093'])
  t.same(targets('redis-exporter'), ['redis-exporter:9121'])
  t.notOk(alerts.some((a) => a.expr.includes('redis-exporter')), 'the optional redis-exporter may be down: no alert reads it')
  t.ok(alerts.filter((a) => /\bup\b/.test(a.expr)).every((a) => a.expr.includes('up{job="statsd-exporter"}')),
    'every alert on `up` names the statsd-exporter job')
})

t.test('promtool check config', { skip: havePromtool() ? false : NO_PROMETHEUS }, async (t) => {
  expectPromtool(t, ['check', 'config', join(PROMETHEUS_DIR, 'prometheus.yml')])
})

t.test('promtool check rules', { skip: havePromtool() ? false : NO_PROMETHEUS }, async (t) => {
  expectPromtool(t, ['check', 'rules', ...RULE_FILES.map((f) => join(PROMETHEUS_DIR, f))])
})

t.test('promtool test rules', { skip: havePromtool() ? false : NO_PROMETHEUS }, async (t) => {
  t.ok(tests.length >= 2, 'unit-test files found')
  // The incident timelines (10 s evaluations) take about a minute: prometheus-timelines.test.ts
  // runs them, so that neither file nears tap's per-file timeout.
  for (const file of tests.filter((f) => f.path !== TIMELINES)) {
    t.test(file.path, async (t) => { expectPromtool(t, ['test', 'rules', join(PROMETHEUS_DIR, file.path)]) })
  }
})

t.test('recording rules: the agreed names, level:metric:operations, service kept', async (t) => {
  t.same(records.map((r) => r.record).sort(), [...EXPECTED_RECORDS].sort())
  for (const r of records) {
    t.match(r.record, /^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/, `${r.record}: level:metric:operations`)
    const level = (r.record as string).split(':')[0]
    t.match(r.expr, level === 'service_route' ? /by \(service, route(, le)?\)/ : /by \(service\)/, `${r.record}: aggregated by its level`)
    if (/slo_/.test(r.record as string)) t.match(r.expr, /route!~"\/demo\/\.\*"/, `${r.record}: demo routes excluded`)
  }
  const objective = `le="${goFloat(LATENCY_OBJECTIVE_SECONDS)}"`
  for (const w of SLO_WINDOWS) {
    const latency = records.find((r) => r.record === `service:slo_latency_slow:ratio_rate${w}`)
    t.ok(latency?.expr.includes(objective), `latency SLI ${w} reads the ${objective} bucket (LATENCY_OBJECTIVE_SECONDS)`)
    for (const r of records.filter((r) => (r.record as string).endsWith(`:ratio_rate${w}`) && /slo_/.test(r.record as string))) {
      const ranges = [...r.expr.matchAll(/\[(\w+)\]/g)].map((m) => m[1])
      t.same([...new Set(ranges)], [w], `${r.record}: every range is ${w}`)
    }
  }
})

t.test('alerts: for, severity, summary, description and a runbook that exists', async (t) => {
  const runbooks = readdirSync(RUNBOOK_DIR).filter((f) => f.endsWith('.md') && f !== 'README.md')
  t.same(runbooks.sort(), alertNames.map((a) => `${a}.md`).sort(), 'one runbook per alert name, none orphaned')
  for (const a of alerts) {
    const id = ruleId(a.alert as string, a.labels)
    t.match(a.for, /^\d+[smhd]$/, `${id}: for`)
    t.ok(['critical', 'warning'].includes(a.labels?.severity ?? ''), `${id}: severity critical or warning`)
    t.ok((a.annotations?.summary ?? '') !== '', `${id}: summary`)
    t.ok((a.annotations?.description ?? '') !== '', `${id}: description`)
    t.equal(a.annotations?.runbook_url, `${RUNBOOK_BASE}${a.alert as string}.md`, `${id}: runbook_url`)
    t.ok(existsSync(join(RUNBOOK_DIR, `${a.alert as string}.md`)), `${id}: runbook file exists`)
  }
  const ids = alerts.map((a) => ruleId(a.alert as string, a.labels))
  t.equal(new Set(ids).size, ids.length, 'twins differ by their static labels')
})

t.test('burn-rate alerts read the windows their labels name', async (t) => {
  for (const a of alerts.filter((a) => a.labels?.long_window !== undefined)) {
    const windows = [...a.expr.matchAll(/ratio_rate(\w+)/g)].map((m) => m[1]).sort()
    t.same(windows, [a.labels?.long_window, a.labels?.short_window].sort(), ruleId(a.alert as string, a.labels))
  }
})

t.test('every metric a rule reads exists: catalogue, recording rule, or exporter/Prometheus metric', async (t) => {
  const known = (name: string): boolean => catalogueSeries.has(name) || EXPECTED_RECORDS.includes(name) ||
    name === 'up' || EXPORTER_METRICS.has(name)
  for (const rule of [...records, ...alerts]) {
    const names = metricNames(rule.expr)
    t.ok(names.length > 0, `${rule.record ?? rule.alert}: reads metrics`)
    for (const name of names) t.ok(known(name), `${rule.record ?? rule.alert}: ${name} is known`)
  }
})

t.test('every recording rule has an exact-value promtool case', async (t) => {
  for (const name of EXPECTED_RECORDS) {
    const cases = tests.filter((f) => f.rule_files.includes('../rules/records.yml'))
      .flatMap((f) => f.tests).flatMap((g) => g.promql_expr_test ?? [])
      .filter((c) => c.expr === name && (c.exp_samples ?? []).length > 0)
    t.ok(cases.length > 0, `${name} has a promql_expr_test with expected samples`)
  }
})

t.test('every alerting rule has a promtool case where it fires, with labels and annotations', async (t) => {
  const fired = tests.flatMap((f) => f.tests).flatMap((g) => g.alert_rule_test ?? [])
  for (const a of alerts) {
    const id = ruleId(a.alert as string, a.labels)
    const match = fired.filter((c) => c.alertname === a.alert).flatMap((c) => c.exp_alerts ?? [])
      .find((e) => Object.entries(a.labels ?? {}).every(([k, v]) => e.exp_labels?.[k] === v))
    t.ok(match !== undefined, `${id} fires in a test`)
    if (match === undefined) continue
    t.equal(match.exp_annotations?.summary, a.annotations?.summary, `${id}: summary checked`)
    t.equal(match.exp_annotations?.runbook_url, a.annotations?.runbook_url, `${id}: runbook_url checked`)
    t.ok((match.exp_annotations?.description ?? '') !== '', `${id}: rendered description checked`)
  }
})

t.test('healthy traffic: realistic input, and every alert silent', async (t) => {
  const healthy = tests.flatMap((f) => f.tests).find((g) => g.name === 'healthy traffic')
  if (healthy === undefined) return t.fail('a test group named "healthy traffic"')
  const series = healthy.input_series.map((s) => parseSeries(s.series))
  const requests = series.filter((s) => s.name === 'http_requests_total').map((s) => s.labels)
  const has = (f: (l: Record<string, string>) => boolean): boolean => requests.some(f)
  t.ok(has((l) => l.route === '/items' && l.status_code === '201'), '201 created')
  t.ok(has((l) => l.route === '/items/:key' && l.status_code === '404'), '404 cache misses')
  t.ok(has((l) => l.route === UNMATCHED_ROUTE && l.status_code === '404'), '404 unmatched routes')
  t.ok(has((l) => l.status_code === '400'), '400 validation errors')
  t.ok(has((l) => l.route.startsWith('/demo/') && l.status_code.startsWith('5')), 'demo-route 5xx')
  t.ok(series.some((s) => s.name === 'up' && s.labels.job === 'redis-exporter' &&
    healthy.input_series.some((i) => i.series.includes('redis-exporter') && /^0/.test(i.values))), 'optional redis-exporter down')
  const cases = healthy.alert_rule_test ?? []
  for (const name of alertNames) {
    const quiet = cases.filter((c) => c.alertname === name)
    t.ok(quiet.length > 0 && quiet.every((c) => (c.exp_alerts ?? []).length === 0), `${name} stays silent`)
  }
  t.ok((healthy.promql_expr_test ?? []).some((c) => c.expr === 'ALERTS' && (c.exp_samples ?? []).length === 0),
    'ALERTS is empty: nothing even pending')
})

t.test('test input looks like statsd_exporter output once scraped', async (t) => {
  const histograms = ALL_METRICS.filter((m) => m.prometheusType === 'histogram')
  for (const file of tests) {
    for (const group of file.tests) {
      const series = group.input_series.map((s) => parseSeries(s.series))
      const where = `${file.path} / ${group.name ?? '(unnamed)'}`
      for (const s of series) {
        const metric = ALL_METRICS.find((m) => seriesNames(m).includes(s.name))
        if (metric === undefined) {
          t.ok(s.name === 'up' || EXPORTER_METRICS.has(s.name), `${where}: ${s.name} is an exporter or Prometheus metric`)
          continue
        }
        const want = ['job', ...GLOBAL_TAGS, ...metric.tags, ...(s.name.endsWith('_bucket') ? ['le'] : [])].sort()
        const pod = Object.keys(s.labels).filter((l) => POD_TARGET_LABELS.includes(l))
        const own = Object.keys(s.labels).filter((l) => !POD_TARGET_LABELS.includes(l)).sort()
        if (JSON.stringify(own) !== JSON.stringify(want) || (pod.length > 0 && pod.length < POD_TARGET_LABELS.length)) {
          t.fail(`${where}: ${s.name} labels`, { found: Object.keys(s.labels).sort(), wanted: want })
        }
        if (s.labels.job !== 'statsd-exporter') t.fail(`${where}: ${s.name} scraped by the statsd-exporter job`)
      }
      for (const h of histograms) {
        const key = (l: Record<string, string>): string => JSON.stringify(Object.entries(l).filter(([k]) => k !== 'le').sort())
        const buckets = new Map<string, string[]>()
        for (const s of series.filter((s) => s.name === `${h.prometheus}_bucket`)) {
          buckets.set(key(s.labels), [...(buckets.get(key(s.labels)) ?? []), s.labels.le])
        }
        const bounds = [...(h.buckets ?? []).map(goFloat), '+Inf']
        for (const [labels, les] of buckets) {
          t.same(les, bounds, `${where}: ${h.prometheus} ${labels} has every bucket bound, in order`)
          for (const suffix of ['_sum', '_count']) {
            t.ok(series.some((s) => s.name === h.prometheus + suffix && key(s.labels) === labels), `${where}: ${h.prometheus}${suffix} ${labels}`)
          }
        }
      }
    }
  }
})

t.test('tests that load the alerts evaluate the recording rules first', async (t) => {
  const order = RULE_FILES.flatMap((f) => ruleGroups(f)).map((g) => g.name)
  for (const file of tests.filter((f) => f.rule_files.includes('../rules/alerts.yml'))) {
    t.same(file.rule_files, RULE_FILES.map((f) => `../${f}`), `${file.path}: loads records then alerts`)
    t.same(file.group_eval_order, order, `${file.path}: group_eval_order lists every group, records first`)
  }
})

t.test('runbook_url everywhere is config.runbookBaseUrl + <alertname>.md (run `npm run generate`)', async (t) => {
  const files = ['rules', 'tests'].flatMap((dir) => readdirSync(join(PROMETHEUS_DIR, dir)).map((f) => `${dir}/${f}`))
    .filter((f) => RUNBOOK_URL_FILE.test(f))
  t.ok(files.includes('rules/alerts.yml') && files.length > 2, 'the alerts and their tests')
  for (const file of files) {
    const text = readFileSync(join(PROMETHEUS_DIR, file), 'utf8')
    t.equal(withRunbookUrls(text, runbookBaseUrl()), text, `${file} has no stale runbook_url`)
  }
})

t.test('a `for` never only delays: 0s on a windowed condition, or longer than its window', async (t) => {
  const recordWindow = new Map(records.map((r) => [r.record as string, Math.max(0, ...[...r.expr.matchAll(/\[(\w+)\]/g)].map((m) => seconds(m[1])))]))
  for (const a of alerts) {
    const windows = [...a.expr.matchAll(/\[(\w+)\]/g)].map((m) => seconds(m[1]))
    for (const name of metricNames(a.expr)) windows.push(recordWindow.get(name) ?? 0)
    const window = Math.max(0, ...windows)
    const wait = seconds(a.for ?? '0s')
    t.ok(wait === 0 || wait > window, `${ruleId(a.alert as string, a.labels)}: for ${a.for ?? '0s'}, window ${window} s`)
  }
})
