/**
 * The Prometheus 3.0 migration guide (prometheus/prometheus docs/migration.md), point by point,
 * against etc/prometheus, the dashboard and the compose file. CI runs Debian's Prometheus 2.42;
 * docker-compose ships 3.x: these tests hold the configuration to what means the same on both.
 * Points that cannot apply here are explained in docs/compatibility.md ("Prometheus 3.0 migration
 * guide, point by point").
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { substitute } from '../../scripts/dashboards/check.js'
import { ALL_METRICS, seriesNames } from '../../service/metrics/catalogue.js'
import { NO_PROMETHEUS, PROMETHEUS_BIN, havePrometheus } from '../helpers/prometheus.js'
import { testFiles } from '../helpers/promtool.js'
import {
  dashboardExpressions, durationSeconds, integerBoundSelectors, ruleExpressions, shortWindows
} from '../helpers/promql-compat.js'
import { ROOT } from '../helpers/stack.js'

interface ScrapeConfig { job_name: string, scrape_native_histograms?: boolean, always_scrape_classic_histograms?: boolean, [key: string]: unknown }
interface PrometheusConfig {
  global: { scrape_interval: string, evaluation_interval: string, [key: string]: unknown }
  alerting?: { alertmanagers?: Array<{ api_version?: string }> }
  scrape_configs: ScrapeConfig[]
}

const config = parse(readFileSync(join(ROOT, 'etc', 'prometheus', 'prometheus.yml'), 'utf8')) as PrometheusConfig
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as
  { services: Record<string, { image?: string, command?: string[] }> }
const stackSh = readFileSync(join(ROOT, 'scripts', 'stack.sh'), 'utf8')
const datasources = parse(readFileSync(join(ROOT, 'etc', 'grafana', 'provisioning', 'datasources', 'datasources.yml'), 'utf8')) as
  { datasources: Array<{ type: string, jsonData?: { timeInterval?: string } }> }

const scrapeSeconds = durationSeconds(config.global.scrape_interval)
const evaluationSeconds = durationSeconds(config.global.evaluation_interval)
const rules = ruleExpressions()
const dashboard = dashboardExpressions()
const unitTests = testFiles().flatMap((f) => f.tests.flatMap((g) => (g.promql_expr_test ?? [])
  .map((c) => ({ where: `${f.path} ${g.name ?? ''}`, expr: c.expr }))))

/**
 * Grafana's smallest `$__rate_interval`: max($__interval + scrape interval, 4 x scrape interval),
 * with the datasource's timeInterval as the scrape interval (Grafana docs, "Template variables:
 * $__rate_interval"); `$__interval` is never below timeInterval.
 */
const timeInterval = durationSeconds(datasources.datasources.find((d) => d.type === 'prometheus')?.jsonData?.timeInterval ?? '15s')
const GRAFANA_MINIMUM = { __rate_interval: `${4 * timeInterval}s`, __interval: `${timeInterval}s` }

t.test('the checkers catch what they are for', async (t) => {
  t.same(integerBoundSelectors('rate(x_bucket{le="1"}[5m])'), ['le="1"'])
  t.same(integerBoundSelectors('x_bucket{le="10.0"} + y{quantile!="1"}'), ['le="10.0"', 'quantile!="1"'])
  t.same(integerBoundSelectors('x_bucket{le=~"0.5|1"}'), ['le=~"0.5|1"'])
  t.same(integerBoundSelectors('x_bucket{le="0.1"} or x_bucket{le="+Inf"} or y{quantile="0.99"} or z{handle="1"}'), [])
  t.same(shortWindows('rate(x[15s])', 10), ['[15s]'], 'one point in a left-open 15 s window at a 10 s interval')
  t.same(shortWindows('rate(x[20s]) + max_over_time(rate(y[1m])[1m:1m])', 10), ['[1m:1m]'], 'a subquery one step long')
  t.same(shortWindows('avg_over_time(rate(x[40s])[1d:5m])', 10), [])
  t.equal(durationSeconds('1h30m'), 5400)
  t.throws(() => durationSeconds('$__interval'), /not a Prometheus duration/)
})

t.test('le/quantile normalisation: no rule, panel or unit test selects a whole-number bound', async (t) => {
  const all = [...rules, ...dashboard, ...unitTests]
  t.ok(rules.length > 20 && dashboard.length > 50, `${rules.length} rules, ${dashboard.length} dashboard queries, ${unitTests.length} unit-test queries`)
  for (const e of all) t.same(integerBoundSelectors(e.expr), [], e.where)
  t.ok(all.some((e) => /\ble="0\.\d+"/.test(e.expr)), 'a fractional bound is selected somewhere (the latency SLI): the check has something to look at')
})

t.test('native vs classic histograms: the classic _bucket series keep being ingested', async (t) => {
  const readsBuckets = [...rules, ...dashboard].filter((e) => /_bucket\b/.test(e.expr))
  t.ok(readsBuckets.length > 0, `${readsBuckets.length} rules and panels read classic buckets`)
  // Prometheus 3.8+ scrapes native histograms only with scrape_native_histograms: true, and
  // then drops the classic buckets unless always_scrape_classic_histograms is also set.
  for (const scope of [{ job_name: 'global', ...config.global }, ...config.scrape_configs]) {
    const native = scope.scrape_native_histograms === true
    t.ok(!native || scope.always_scrape_classic_histograms === true, `${scope.job_name}: native scraping off, or classic kept`)
    t.notOk('scrape_classic_histograms' in scope, `${scope.job_name}: no scrape_classic_histograms (renamed in 3.0)`)
  }
  const flags = [...(compose.services.prometheus?.command ?? []), stackSh].join('\n')
  t.notMatch(flags, /native-histograms/, 'no native-histograms feature flag (a no-op since 3.9, and no classic buckets with it before)')
})

t.test('left-open range selectors: every window holds at least two points', async (t) => {
  for (const e of rules) {
    const interval = /\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b/.test(e.expr) ? Math.max(scrapeSeconds, evaluationSeconds) : scrapeSeconds
    t.same(shortWindows(e.expr, interval), [], e.where)
  }
  for (const e of dashboard) t.same(shortWindows(substitute(e.expr, GRAFANA_MINIMUM), scrapeSeconds), [], `${e.where} ($__rate_interval = ${GRAFANA_MINIMUM.__rate_interval})`)
})

/**
 * promtool unit-test files whose input points are too far apart for some rule window under
 * 3.x's left-open ranges: with points 5 minutes apart, a [5m] window holds two points on 2.x
 * only because evaluation times fall on sample times, and one point on 3.x, so the 5m-window
 * rules record nothing there. These files pass on both, but on promtool 3 their 5m-window cases
 * are vacuous. Known and listed here so that no new file joins them and a fixed one drops out
 * (the fix: input points at most half the shortest window apart, with values rescaled).
 */
const COARSE_TEST_INPUT = ['tests/healthy.test.yml', 'tests/slo-long.test.yml']

t.test('left-open range selectors: promtool unit-test input is fine enough for the rule windows', async (t) => {
  const coarse = testFiles().filter((file) => {
    // promtool's default input interval is 1m (docs: "Unit testing for rules").
    const spacing = Math.max(...file.tests.map((g) => durationSeconds(g.interval ?? '1m')))
    const short = rules.filter((e) => shortWindows(e.expr, spacing).length > 0)
    if (short.length > 0) t.comment(`${file.path}: points ${spacing} s apart; too coarse for ${short.length} rules, e.g. ${short[0].where}`)
    return short.length > 0
  }).map((f) => f.path)
  t.same(coarse, COARSE_TEST_INPUT)
})

t.test('Alertmanager API v2: no v1 configuration or calls', async (t) => {
  for (const am of config.alerting?.alertmanagers ?? []) t.not(am.api_version, 'v1', 'api_version is v2 (the default)')
  t.ok((config.alerting?.alertmanagers ?? []).length > 0, 'alerting is configured')
  // Prometheus has /api/v1/alerts, /status and /alertmanagers of its own: only Alertmanager's
  // port or endpoints only Alertmanager has are looked for (this file names them, so it is skipped).
  const grep = spawnSync('grep', ['-rnE', '--exclude=prometheus3.test.ts', String.raw`:9093/api/v1/|/api/v1/(silences?|receivers|alerts/groups)\b`, 'test', 'scripts', 'service', 'etc'], { cwd: ROOT, encoding: 'utf8' })
  t.equal(grep.stdout.trim(), '', 'nothing calls Alertmanager\'s removed v1 API')
})

/** Feature flags the 3.0 release removed (migration guide, "Flags"); 3.x warns and ignores them. */
const REMOVED_FEATURES = ['promql-at-modifier', 'promql-negative-offset', 'new-service-discovery-manager', 'expand-external-labels',
  'no-default-scrape-port', 'agent', 'remote-write-receiver', 'auto-gomemlimit', 'auto-gomaxprocs', 'native-histograms']
/** Deprecated flag 3.0 removed outright (prometheus/prometheus#14742): 3.x refuses to start with it. */
const REMOVED_FLAGS = ['--storage.tsdb.retention']

t.test('removed flags: compose and stack.sh pass none of the flags 3.0 removed', async (t) => {
  const args = [...(compose.services.prometheus?.command ?? []), ...stackSh.match(/"--[a-z.-]+=?/g) ?? []].map((a) => a.replace(/^"/, ''))
  for (const arg of args) {
    const flag = arg.split('=')[0]
    t.notOk(REMOVED_FLAGS.includes(flag), `${flag} is not removed`)
    if (flag === '--enable-feature') for (const f of arg.split('=')[1].split(',')) t.notOk(REMOVED_FEATURES.includes(f), `feature ${f} still exists`)
  }
})

t.test('every flag compose passes to Prometheus exists in Debian\'s 2.42 too', { skip: havePrometheus() ? false : NO_PROMETHEUS }, async (t) => {
  const help = spawnSync(PROMETHEUS_BIN, ['--help'], { encoding: 'utf8' })
  for (const arg of compose.services.prometheus?.command ?? []) {
    const flag = arg.split('=')[0]
    t.match(help.stdout + help.stderr, new RegExp(`${flag.replace(/\./g, '\\.')}[=\\s]`), `Prometheus 2.42 knows ${flag}`)
  }
})

t.test('UTF-8 names: every name is valid under the legacy scheme, no quoted names', async (t) => {
  const legacy = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
  const names = [...ALL_METRICS.flatMap(seriesNames), ...ALL_METRICS.flatMap((m) => m.tags)]
  for (const name of names) t.match(name, legacy, `${name}: legacy-valid, so the 3.x UTF-8 default changes nothing`)
  for (const e of [...rules, ...dashboard]) t.notMatch(e.expr, /\{\s*"/, `${e.where}: no {"quoted.name"} selector (2.x cannot parse it)`)
  t.notOk('metric_name_validation_scheme' in config.global, 'no validation scheme set: 2.42 would reject the key')
})

t.test('holt_winters: renamed and feature-gated in 3.0; nothing uses it', async (t) => {
  for (const e of [...rules, ...dashboard]) t.notMatch(e.expr, /\b(holt_winters|double_exponential_smoothing)\s*\(/, e.where)
})
