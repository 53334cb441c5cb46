import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { panelQueries } from '../../../scripts/dashboards/check.js'
import { podAggregationProblems } from '../../helpers/aggregation.js'

/**
 * With N pods, each with its own statsd_exporter, every counter the rules and panels read is
 * split over N series that come and go with the pods. What makes the results right (sum over
 * pods, counters restarting at zero) is checked with exact values by promtool in
 * etc/prometheus/tests/pods.test.yml; this checks that every expression has that shape.
 */

const root = new URL('../../../', import.meta.url)
const ruleDir = new URL('etc/prometheus/rules/', root)
const rules = readdirSync(ruleDir).filter((f) => f.endsWith('.yml')).sort()
  .flatMap((f) => (parse(readFileSync(new URL(f, ruleDir), 'utf8')) as { groups: Array<{ rules: Array<{ record?: string, alert?: string, expr: string }> }> }).groups)
  .flatMap((g) => g.rules)

const never = (): boolean => false
const always = (): boolean => true
/** Rules: a per-exporter view only of the exporter's own counters (StatsdExporterDroppingSamples). */
const exporterOwn = (metric: string): boolean => metric.startsWith('statsd_exporter_')

t.test('the check is not a rubber stamp', async (t) => {
  t.same(podAggregationProblems('sum by (service) (rate(x_total[5m]))', never), [])
  t.same(podAggregationProblems('histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))', never), [])
  t.same(podAggregationProblems('rate(x_total[5m])', never), ['rate(x_total[5m]) is not aggregated across pods'])
  t.same(podAggregationProblems('sum by (pod) (rate(x_total[5m]))', never), ['sum by (pod) (rate(x_total[5m])) keeps pod'])
  t.same(podAggregationProblems('sum without (route) (increase(x_total[5m]))', never), ['sum without (route) (increase(x_total[5m])): without() keeps the pod labels'])
  t.same(podAggregationProblems('sum by (instance) (rate(x_total[5m]))', never), ['sum by (instance) (rate(x_total[5m])) keeps instance'])
  t.same(podAggregationProblems('sum by (instance) (rate(x_total[5m]))', always), [], 'dashboards may show one line per pod')
  t.same(podAggregationProblems('sum by (instance) (rate(statsd_exporter_lines_total[5m]))', exporterOwn), [], 'rules: per exporter, its own counters')
  t.same(podAggregationProblems('sum by (instance, pod) (rate(statsd_exporter_lines_total[5m]))', exporterOwn),
    ['sum by (instance, pod) (rate(statsd_exporter_lines_total[5m])) keeps pod'])
  t.throws(() => podAggregationProblems('sum by (service (rate(x[5m]))', never), /does not parse/)
})

t.test('every recording rule and alert aggregates counters across pods', async (t) => {
  t.ok(rules.length > 20, 'rules found')
  for (const rule of rules) t.same(podAggregationProblems(rule.expr, exporterOwn), [], rule.record ?? rule.alert ?? rule.expr)
})

t.test('every dashboard panel aggregates counters across pods (per-pod views by instance, the pod name)', async (t) => {
  const dir = new URL('etc/dashboards/', root)
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const queries = panelQueries(JSON.parse(readFileSync(new URL(file, dir), 'utf8')))
    t.ok(queries.length > 0, `${file}: queries found`)
    for (const q of queries) {
      const expr = q.expr.replace(/\$__rate_interval|\$__interval/g, '1m').replace(/\$\{?(\w+)\}?/g, '.*')
      t.same(podAggregationProblems(expr, always), [], `${file} panel ${q.panelId} (${q.panelTitle}) ${q.refId}`)
    }
  }
})
