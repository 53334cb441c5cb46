/* eslint-disable no-template-curly-in-string -- `${name}` is Grafana's variable syntax, data in these strings */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import {
  EVENT_ONLY_SERIES, fallsBackToZero, metricNames, panelQueries, parseLabelValues, rangeCalls, rateRangeProblems, substitute
} from '../../scripts/dashboards/check.js'
import { DASHBOARD_FILE, DASHBOARD_UID, buildDashboard, renderDashboard } from '../../scripts/dashboards/fastify-red.js'
import { RULES } from '../../scripts/dashboards/promql.js'
import { NO_ALERTS_FIRING } from '../../scripts/dashboards/rows/overview.js'
import { ALL_METRICS, seriesNames } from '../../service/metrics/catalogue.js'
import { NO_PROMETHEUS, havePromtool, promtool } from '../helpers/prometheus.js'

const root = new URL('../../', import.meta.url)
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8')
const exists = (path: string): boolean => existsSync(new URL(path, root))

const model = buildDashboard()
const queries = panelQueries(model)
const variables = (model.templating?.list ?? []) as Array<Record<string, any>>
const variableQueries = variables.filter((v) => v.type === 'query')
  .map((v) => ({ name: String(v.name), ...parseLabelValues(String(v.definition)) }))

/** Panels in dashboard order, rows included (expanded rows: panels follow at the top level). */
const panels = (model.panels ?? []) as Array<Record<string, any>>

/** Grafana values for the checks: the "All" selection and a concrete multi-value one. */
const SCENARIOS: ReadonlyArray<Record<string, string>> = [
  { __rate_interval: '40s', __interval: '10s', service: '.*', instance: '.*', route: '.*', datasource: 'prometheus' },
  { __rate_interval: '40s', __interval: '10s', service: 'svc', instance: 'host-a', route: '(/items/:key|__unmatched__)', datasource: 'prometheus' }
]

/** Recording rules defined in etc/prometheus/rules/*.yml (empty when the directory is absent). */
function recordedNames (): Set<string> {
  const dir = 'etc/prometheus/rules/'
  if (!exists(dir)) return new Set()
  const names = new Set<string>()
  for (const file of readdirSync(new URL(dir, root)).filter((f) => f.endsWith('.yml'))) {
    const doc = parse(read(dir + file)) as { groups?: Array<{ rules?: Array<{ record?: string }> }> }
    for (const group of doc.groups ?? []) for (const rule of group.rules ?? []) if (rule.record !== undefined) names.add(rule.record)
  }
  return names
}

/** statsd_exporter self-metric names: the real exporter's page, plus vectors that appear with their first increment. */
function exporterNames (): Set<string> {
  const page = readFileSync(new URL('../fixtures/statsd-exporter-0.27.2/exposition.txt', import.meta.url), 'utf8')
  const names = new Set([...page.matchAll(/^# TYPE (statsd_\S+) /gm)].map((m) => m[1]))
  // Label vectors of statsd_exporter's main.go: absent from /metrics until first incremented.
  for (const name of ['statsd_exporter_sample_errors_total', 'statsd_exporter_events_conflict_total', 'statsd_exporter_events_error_total']) names.add(name)
  return names
}

t.test('the committed JSON is exactly what the code generates (run `npm run dashboards`)', async (t) => {
  t.equal(read(DASHBOARD_FILE), renderDashboard(), `${DASHBOARD_FILE} differs from scripts/dashboards: run npm run dashboards`)
  t.equal(renderDashboard(), renderDashboard(), 'generation is deterministic')
})

t.test('identity: uid, unique panel ids, rows in order, refIds A, B, C...', async (t) => {
  t.equal(model.uid, DASHBOARD_UID)
  t.equal(model.uid, 'fastify-red')
  const ids = panels.map((p) => p.id)
  t.ok(ids.every((id) => Number.isInteger(id) && id > 0), 'every panel and row has a fixed positive id')
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique')
  t.same(panels.filter((p) => p.type === 'row').map((p) => p.title),
    ['Overview', 'Rate', 'Errors', 'Duration', 'Cache', 'Redis', 'Runtime', 'Pipeline'])
  for (const p of panels.filter((p) => p.type !== 'row')) {
    const refIds = (p.targets ?? []).map((x: { refId: string }) => x.refId)
    t.same(refIds, refIds.map((_: string, i: number) => String.fromCharCode(65 + i)), `panel ${p.id} refIds`)
    t.ok(typeof p.description === 'string' && p.description.length > 20, `panel ${p.id} (${p.title}) is described`)
    t.ok(p.gridPos.x + p.gridPos.w <= 24, `panel ${p.id} fits the grid`)
  }
})

t.test('every panel, target and variable uses the datasource variable, whose default is the provisioned uid', async (t) => {
  const provisioned = parse(read('etc/grafana/provisioning/datasources/datasources.yml')) as {
    datasources: Array<{ name: string, uid: string, type: string }>
  }
  const prometheus = provisioned.datasources.find((d) => d.type === 'prometheus')
  t.equal(prometheus?.uid, 'prometheus')
  const ref = { type: 'prometheus', uid: '${datasource}' }

  const dsVariable = variables.find((v) => v.type === 'datasource')
  t.equal(dsVariable?.name, 'datasource')
  t.equal(dsVariable?.query, 'prometheus', 'the variable lists Prometheus datasources')
  t.equal(dsVariable?.current?.value, prometheus?.uid, 'its default is the provisioned uid')

  for (const p of panels.filter((p) => p.type !== 'row' && p.type !== 'alertlist')) {
    t.same(p.datasource, ref, `panel ${p.id} datasource`)
  }
  for (const q of queries) t.same(q.datasource, ref, `panel ${q.panelId} target ${q.refId} datasource`)
  for (const v of variables.filter((v) => v.type === 'query')) t.same(v.datasource, ref, `variable ${v.name} datasource`)

  // The alert list filters by datasource *name* (what Grafana's editor stores for that option).
  const alertList = panels.find((p) => p.type === 'alertlist')
  t.equal(alertList?.options?.datasource, prometheus?.name, 'the alert list reads the provisioned Prometheus')
})

t.test('variables: datasource, service, instance, route (multi, All = .*)', async (t) => {
  t.same(variables.map((v) => v.name), ['datasource', 'service', 'instance', 'route'])
  t.match(variables.find((v) => v.name === 'service')?.current, { text: 'All', value: '$__all' }, 'service defaults to All')
  const instance = variables.find((v) => v.name === 'instance')
  t.equal(instance?.definition, 'label_values(nodejs_heap_size_used_bytes{service=~"$service"}, instance)', 'instances of the selected services')
  const route = variables.find((v) => v.name === 'route')
  t.equal(route?.definition, 'label_values(http_requests_total{service=~"$service", instance=~"$instance"}, route)')
  t.equal(route?.query?.query, route?.definition, 'the query and its definition agree')
  for (const v of variableQueries) {
    const variable = variables.find((x) => x.name === v.name)
    t.match(variable, { multi: true, includeAll: true, allValue: '.*', refresh: 2 }, `${v.name} is multi-value with All`)
    t.ok(ALL_METRICS.some((m) => seriesNames(m).includes(metricNames(v.selector)[0])), `${v.name} reads a service metric`)
  }
})

t.test('the PromQL checker: metric names, rate ranges', async (t) => {
  t.same(metricNames('sum by (route, le) (rate(a_bucket{route=~"$route", x="y(z)"}[$__rate_interval])) / on (route) group_left b'), ['a_bucket', 'b'])
  t.same(metricNames('histogram_quantile(0.99, sum without (instance) (rate(x[5m] offset 1h))) > bool 1e-3'), ['x'])
  t.same(metricNames('count(ALERTS{alertstate="firing"}) or vector(0) and on() up == 0x1F unless Inf'), ['ALERTS', 'up'])
  t.same(metricNames('label_replace(rate(m_total[1m]), "status_class", "${1}xx", "status_code", "([1-5]).*")'), ['m_total'])
  t.same(metricNames('service:http_requests:rate5m{route=~"/demo/.*"} * 2.5'), ['service:http_requests:rate5m'])
  t.same(rangeCalls('rate(a[$__rate_interval]) + increase(b{c="[5m]"}[1h]) + irate(x[5m:1m])')
    .map((c) => [c.fn, c.ranges, c.metrics]), [
    ['rate', ['$__rate_interval'], ['a']], ['increase', ['1h'], ['b']], ['irate', ['5m:1m'], ['x']]
  ])
  t.same(rateRangeProblems('sum(rate(a[$__rate_interval])) / sum(rate(b[${__rate_interval}]))'), [])
  t.equal(rateRangeProblems('rate(a[5m])').length, 1, 'a fixed range is rejected')
  t.equal(rateRangeProblems('rate(a)').length, 1, 'a missing range is rejected')
  t.same(rateRangeProblems('avg_over_time(rate(service:x:rate5m[1h])[1d:5m])'), [], 'a rate over a recording rule may pick its range')
  t.equal(substitute('x{a=~"$instance", b="${route}"}[$__rate_interval] ${1} $unknown', { instance: 'i', route: 'r', __rate_interval: '40s' }),
    'x{a=~"i", b="r"}[40s] ${1} $unknown', 'only known variables are replaced')
})

t.test('every rate(), irate() and increase() uses [$__rate_interval]', async (t) => {
  const calls = queries.flatMap((q) => rangeCalls(q.expr))
  t.ok(calls.length > 30, `${calls.length} rate calls checked`)
  for (const q of queries) t.same(rateRangeProblems(q.expr), [], `panel ${q.panelId} ${q.refId}`)
})

t.test('every metric an expression reads exists: catalogue, recording rules, exporter and Prometheus series', async (t) => {
  const catalogue = new Set(ALL_METRICS.flatMap(seriesNames))
  const exporter = exporterNames()
  const prometheus = new Set(['up', 'ALERTS'])
  const expressions = [...queries.map((q) => q.expr), ...variableQueries.map((v) => v.selector)]
  const used = new Set(expressions.flatMap(metricNames))
  for (const name of used) {
    if (name.includes(':')) continue
    t.ok(catalogue.has(name) || exporter.has(name) || prometheus.has(name), `${name} is a known series`)
  }
  const rules = [...used].filter((n) => n.includes(':'))
  t.same(rules.filter((r) => !(Object.values(RULES) as string[]).includes(r)), [], 'recording rules come from the brief\'s list')
  for (const m of ALL_METRICS) {
    t.ok(seriesNames(m).some((s) => used.has(s)), `catalogue metric ${m.prometheus} is on the dashboard`)
  }
  for (const name of ['statsd_exporter_udp_packets_total', 'statsd_exporter_udp_packet_drops_total', 'statsd_exporter_lines_total',
    'statsd_exporter_samples_total', 'statsd_exporter_sample_errors_total', 'statsd_exporter_tag_errors_total',
    'statsd_exporter_events_conflict_total', 'up', 'ALERTS']) {
    t.ok(used.has(name), `${name} is on the dashboard`)
  }
})

const records = recordedNames()
t.test('every recording rule the dashboard reads is defined in etc/prometheus/rules', {
  skip: records.size === 0 ? 'etc/prometheus/rules/*.yml not found (written by the Prometheus rules task)' : false
}, async (t) => {
  const used = queries.flatMap((q) => metricNames(q.expr)).filter((n) => n.includes(':'))
  t.ok(used.length >= Object.keys(RULES).length, `${used.length} recorded-series reads`)
  for (const rule of new Set(used)) t.ok(records.has(rule), `${rule} is recorded`)
})

t.test('selectors of service metrics and recording rules follow the service, instance and route variables', async (t) => {
  const withRoute = new Set(ALL_METRICS.filter((m) => m.tags.includes('route')).flatMap(seriesNames))
  const service = new Set(ALL_METRICS.flatMap(seriesNames))
  let checked = 0
  for (const q of queries) {
    for (const [, name, matchers] of q.expr.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}/g)) {
      if (service.has(name)) {
        checked++
        t.ok(matchers.includes('service=~"$service"'), `panel ${q.panelId} ${q.refId}: ${name} filtered by $service`)
        t.ok(matchers.includes('instance=~"$instance"'), `panel ${q.panelId} ${q.refId}: ${name} filtered by $instance`)
        if (withRoute.has(name)) t.ok(matchers.includes('route=~"$route"'), `panel ${q.panelId} ${q.refId}: ${name} filtered by $route`)
      }
      if (name.startsWith('service')) t.ok(matchers.includes('service=~"$service"'), `panel ${q.panelId} ${q.refId}: ${name} filtered by $service`)
      if (name.startsWith('service_route:')) t.ok(matchers.includes('route=~"$route"'), `panel ${q.panelId} ${q.refId}: ${name} filtered by $route`)
    }
    for (const name of metricNames(q.expr).filter((n) => service.has(n) || /^service(_route)?:/.test(n))) {
      t.ok(q.expr.includes(`${name}{`), `panel ${q.panelId} ${q.refId}: ${name} has matchers`)
    }
  }
  t.ok(checked > 40, `${checked} selectors checked`)
})

t.test('every expression parses with Prometheus\'s parser (promtool check rules)', { skip: havePromtool() ? false : NO_PROMETHEUS }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-dashboard-rules-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const rules: Array<{ record: string, expr: string, what: string }> = []
  SCENARIOS.forEach((values, s) => {
    for (const q of queries) {
      rules.push({ record: `dashboard:panel_${q.panelId}_${q.refId}:s${s}`, expr: substitute(q.expr, values), what: `panel ${q.panelId} ${q.refId}` })
    }
    for (const v of variableQueries) {
      rules.push({ record: `dashboard:variable_${v.name}:s${s}`, expr: substitute(v.selector, values), what: `variable ${v.name}` })
    }
  })
  for (const r of rules) t.notMatch(r.expr, /\$(?!\{\d)/, `${r.what}: no Grafana variable left after substitution`)
  const file = join(dir, 'dashboard.yml')
  writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules: rules.map(({ record, expr }) => ({ record, expr })) }] }))
  const result = promtool(['check', 'rules', file])
  t.equal(result.status, 0, `promtool check rules:\n${result.stdout}${result.stderr}`)
  t.match(result.stdout, `SUCCESS: ${rules.length} rules found`)
})

t.test('provisioning: datasources and the dashboard provider', async (t) => {
  const ds = parse(read('etc/grafana/provisioning/datasources/datasources.yml')) as { apiVersion: number, datasources: Array<Record<string, any>> }
  t.equal(ds.apiVersion, 1)
  const prometheus = ds.datasources.find((d) => d.uid === 'prometheus')
  t.match(prometheus, { name: 'Prometheus', type: 'prometheus', access: 'proxy', url: 'http://prometheus:9090', isDefault: true })
  t.equal(prometheus?.jsonData?.timeInterval, '10s')
  t.equal(prometheus?.jsonData?.alertmanagerUid, 'alertmanager', 'silences go to the provisioned Alertmanager')
  t.match(ds.datasources.find((d) => d.uid === 'alertmanager'), {
    name: 'Alertmanager', type: 'alertmanager', url: 'http://alertmanager:9093', jsonData: { implementation: 'prometheus' }
  })
  t.equal(ds.datasources.filter((d) => d.isDefault === true).length, 1, 'one default datasource')
  if (exists('etc/prometheus/prometheus.yml')) {
    const config = parse(read('etc/prometheus/prometheus.yml')) as { global: { scrape_interval: string } }
    t.equal(prometheus?.jsonData?.timeInterval, config.global.scrape_interval, 'timeInterval equals the scrape interval')
  }

  const providers = parse(read('etc/grafana/provisioning/dashboards/dashboards.yml')) as { apiVersion: number, providers: Array<Record<string, any>> }
  t.equal(providers.apiVersion, 1)
  t.equal(providers.providers.length, 1)
  t.match(providers.providers[0], { type: 'file', allowUiUpdates: false, options: { path: '/var/lib/grafana/dashboards' } })
  if (exists('docker-compose.yml')) {
    const compose = parse(read('docker-compose.yml')) as { services: { grafana?: { volumes?: string[] } } }
    const volumes = compose.services.grafana?.volumes ?? []
    t.ok(volumes.some((v) => /^\.\/etc\/dashboards:\/var\/lib\/grafana\/dashboards(:ro)?$/.test(v)), 'compose mounts etc/dashboards where the provider reads')
    t.ok(volumes.some((v) => /^\.\/etc\/grafana\/provisioning:\/etc\/grafana\/provisioning(:ro)?$/.test(v)), 'compose mounts the provisioning directory')
  }
})

t.test('panels on event-only series never say "No data": the query falls back to 0, or the panel says what none means', async (t) => {
  const eventPanels = panels.filter((p) => ((p.targets ?? []) as Array<{ expr?: string }>).some((q) => EVENT_ONLY_SERIES.test(q.expr ?? '')))
  t.ok(eventPanels.length >= 8, `${eventPanels.length} panels read event-only series`)
  for (const p of eventPanels) {
    const exprs = ((p.targets ?? []) as Array<{ expr?: string }>).map((q) => q.expr ?? '')
    const guarded = exprs.filter((e) => EVENT_ONLY_SERIES.test(e)).every(fallsBackToZero)
    const noValue = p.fieldConfig?.defaults?.noValue as string | undefined
    t.ok(guarded || (noValue ?? '') !== '', `panel ${String(p.id)} "${String(p.title)}": ${guarded ? 'falls back to 0' : `noValue "${noValue ?? ''}"`}`)
  }
  const table = panels.find((p) => p.type === 'table' && JSON.stringify(p.targets).includes('ALERTS'))
  t.equal(table?.fieldConfig?.defaults?.noValue, NO_ALERTS_FIRING, 'the ALERTS table says "No alerts firing"')
})

t.test('ALERTS queries read only this service\'s alerts: exactly the alert names of etc/prometheus/rules/alerts.yml', async (t) => {
  const doc = parse(read('etc/prometheus/rules/alerts.yml')) as { groups: Array<{ rules: Array<{ alert?: string }> }> }
  const names = [...new Set(doc.groups.flatMap((g) => g.rules.flatMap((r) => r.alert ?? [])))].sort()
  const alertExprs = queries.map((q) => q.expr).filter((e) => /\bALERTS\b/.test(e))
  t.ok(alertExprs.length >= 2, `${alertExprs.length} queries read ALERTS`)
  for (const expr of alertExprs) {
    const matcher = /ALERTS\{[^}]*alertname=~"([^"]+)"/.exec(expr)
    t.same(matcher?.[1].split('|') ?? [], names, `filtered to the project's alerts: ${expr.slice(0, 60)}...`)
  }
})
