import { join } from 'node:path'
import t from 'tap'
import { NO_PROMETHEUS, havePromtool, promtool } from '../helpers/prometheus.js'
import { PROMETHEUS_DIR, durationSeconds, parseSeries, testFiles } from '../helpers/promtool.js'

/**
 * The incident timelines of etc/prometheus/tests/outage.test.yml ("alerts describe the
 * present", README "Alerts"): promtool runs them, and the group name ("<service> <from> to <to>, ...")
 * says when each service's incident starts and ends, which these checks read.
 */
const FILE = 'tests/outage.test.yml'
const seconds = durationSeconds
const tests = testFiles().filter((f) => f.path === FILE)

t.test(`promtool test rules ${FILE}`, { skip: havePromtool() ? false : NO_PROMETHEUS }, async (t) => {
  const result = promtool(['test', 'rules', join(PROMETHEUS_DIR, FILE)], 170_000)
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`
  t.equal(result.status, 0, 'promtool test rules', { output })
  t.match(output, /SUCCESS/)
})

/** Identity of an ALERTS sample: its labels without alertstate. */
function alertId (labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'alertstate').sort())
}

t.test('incident timelines: nothing first fires after the incident, and the outage pages during it', async (t) => {
  t.equal(tests.length, 1, FILE)
  const group = tests.flatMap((f) => f.tests)[0]
  const incidents = [...(group?.name ?? '').matchAll(/([\w-]+) (\w+) to (\w+)/g)]
    .map(([, service, from, to]) => ({ service, from: seconds(from), to: seconds(to) }))
  t.same(incidents.map((i) => i.service), ['redis-outage-90s', 'redis-outage-5m', 'burst-500-90s'], 'incidents named in the group name')
  const cases = (group?.promql_expr_test ?? []).filter((c) => c.expr === 'ALERTS')
    .map((c) => ({ at: seconds(c.eval_time), alerts: (c.exp_samples ?? []).map((s) => parseSeries(s.labels).labels) }))
  for (const { service, from, to } of incidents) {
    const timeline = cases.map((c) => ({ at: c.at, alerts: c.alerts.filter((a) => a.service === service) }))
    t.ok(timeline.some((c) => c.at < from && c.alerts.length === 0), `${service}: silent before`)
    t.ok(timeline.some((c) => c.at > from && c.at <= to && c.alerts.length > 0), `${service}: alerts during`)
    t.ok(timeline.some((c) => c.at > to), `${service}: checked after`)
    const firedDuring = new Set(timeline.filter((c) => c.at <= to).flatMap((c) => c.alerts)
      .filter((a) => a.alertstate === 'firing').map(alertId))
    const late = timeline.filter((c) => c.at > to).flatMap((c) => c.alerts.map((a) => ({ at: c.at, a })))
      .filter(({ a }) => !firedDuring.has(alertId(a))).map(({ at, a }) => `${a.alertname} ${a.severity} at ${at} s`)
    t.same(late, [], `${service}: every alert active after the incident had fired during it`)
    t.notOk(timeline.some((c) => c.alerts.some((a) => a.alertname === 'FastifyRedisCommandErrors')), `${service}: FastifyRedisCommandErrors not raised`)
  }
  const long = incidents.find((i) => i.service === 'redis-outage-5m')
  const during = cases.filter((c) => long !== undefined && c.at > long.from && c.at <= long.to)
    .flatMap((c) => c.alerts).filter((a) => a.service === 'redis-outage-5m' && a.alertstate === 'firing')
  t.ok(during.some((a) => a.alertname === 'FastifyRedisUnreachable'), '5 min outage: FastifyRedisUnreachable fires during it')
  t.ok(during.some((a) => a.alertname === 'FastifyErrorBudgetBurn' && a.long_window === '1h'), '5 min outage: the availability page fires during it')
})
