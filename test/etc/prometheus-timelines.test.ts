import { join } from 'node:path'
import t from 'tap'
import { NO_PROMETHEUS, havePromtool, promtool } from '../helpers/prometheus.js'
import { PROMETHEUS_DIR, durationSeconds, parseSeries, testFiles } from '../helpers/promtool.js'

/**
 * The incident timelines of etc/prometheus/tests/outage.test.yml ("alerts describe the
 * present", README "Alerts"): promtool runs them, and their group names ("... <from> to <to>")
 * say when each incident starts and ends, which these checks read.
 */
const FILE = 'tests/outage.test.yml'
const seconds = durationSeconds
const tests = testFiles().filter((f) => f.path === FILE)

t.test('promtool test rules {FILE}', { skip: havePromtool() ? false : NO_PROMETHEUS }, async (t) => {
  const result = promtool(['test', 'rules', join(PROMETHEUS_DIR, FILE)], 170_000)
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`
  t.equal(result.status, 0, 'promtool test rules', { output })
  t.match(output, /SUCCESS/)
})

/** Identity of an ALERTS sample: its labels without alertstate. */
function alertId (labels: string): string {
  const parsed = parseSeries(labels)
  return JSON.stringify(Object.entries(parsed.labels).filter(([k]) => k !== 'alertstate').sort())
}

t.test('incident timelines: nothing first fires after the incident, and the outage pages during it', async (t) => {
  t.equal(tests.length, 1, FILE)
  const timelines = tests.flatMap((f) => f.tests).filter((g) => / (\w+) to (\w+)$/.test(g.name ?? ''))
  t.equal(timelines.length, 3, 'Redis outage of 90 s and of 5 min, 5xx burst')
  for (const group of timelines) {
    const [, from, to] = / (\w+) to (\w+)$/.exec(group.name as string) as RegExpExecArray
    const cases = (group.promql_expr_test ?? []).filter((c) => c.expr === 'ALERTS')
      .map((c) => ({ at: seconds(c.eval_time), alerts: (c.exp_samples ?? []).map((s) => s.labels) }))
    t.ok(cases.some((c) => c.at < seconds(from) && c.alerts.length === 0), `${group.name}: silent before`)
    t.ok(cases.some((c) => c.at > seconds(from) && c.at <= seconds(to) && c.alerts.length > 0), `${group.name}: alerts during`)
    t.ok(cases.some((c) => c.at > seconds(to)), `${group.name}: checked after`)
    const firedDuring = new Set(cases.filter((c) => c.at <= seconds(to)).flatMap((c) => c.alerts)
      .filter((l) => l.includes('alertstate="firing"')).map(alertId))
    for (const c of cases.filter((c) => c.at > seconds(to))) {
      for (const labels of c.alerts) t.ok(firedDuring.has(alertId(labels)), `${group.name}: ${labels} at ${c.at} s already fired during the incident`)
    }
    const all = cases.flatMap((c) => c.alerts)
    t.notOk(all.some((l) => l.includes('FastifyRedisCommandErrors')), `${group.name}: FastifyRedisCommandErrors not raised`)
  }
  const long = timelines.find((g) => (g.name ?? '').startsWith('Redis outage of 5 min'))
  const end = seconds(/ to (\w+)$/.exec(long?.name ?? ' to 0s')?.[1] ?? '0s')
  const during = (long?.promql_expr_test ?? []).filter((c) => seconds(c.eval_time) <= end).flatMap((c) => (c.exp_samples ?? []).map((s) => s.labels))
  t.ok(during.some((l) => l.includes('"FastifyRedisUnreachable"') && l.includes('"firing"')), '5 min outage: FastifyRedisUnreachable fires during it')
  t.ok(during.some((l) => l.includes('"FastifyErrorBudgetBurn"') && l.includes('long_window="1h"') && l.includes('"firing"')), '5 min outage: the availability page fires during it')
})
