import { join } from 'node:path'
import t from 'tap'
import { NO_PROMETHEUS, havePromtool, promtool } from '../helpers/prometheus.js'
import { PROMETHEUS_DIR, durationSeconds, expandValues, parseSeries, testFiles, type TestGroup } from '../helpers/promtool.js'

/**
 * The incident timelines of etc/prometheus/tests/outage.test.yml ("alerts describe the
 * present", docs/alerts.md "Alerts describe the present"): promtool runs them, and these checks read when each service's
 * incident starts and ends from its input series, not from the group's name.
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

/** One service's incident, in seconds from the start of the test. */
interface Incident { service: string, from: number, to: number }

/**
 * Each service's incident, from its input series: the scrapes where `redis_connection_up` reads
 * 0 or an API route's 5xx counter rose (a series that appears counts from 0; demo routes fail on
 * purpose and are left out, as from the SLOs). The file's convention (its header): an incident
 * from t to t+D shows in the scrapes at t+interval ... t+D, so it starts one scrape before the
 * first bad one and ends at the last. Services in input order.
 * @throws {Error} when a service's bad scrapes are not one unbroken run.
 */
function incidents (group: TestGroup, interval: number): Incident[] {
  const bad = new Map<string, Set<number>>()
  for (const input of group.input_series) {
    const { name, labels } = parseSeries(input.series)
    const values = expandValues(input.values)
    const steps = bad.get(labels.service ?? '') ?? new Set<number>()
    bad.set(labels.service ?? '', steps)
    values.forEach((v, i) => {
      if (v === undefined) return
      if (name === 'redis_connection_up' && v === 0) steps.add(i)
      if (name === 'http_requests_total' && /^5/.test(labels.status_code ?? '') && !(labels.route ?? '').startsWith('/demo/') && v > (values[i - 1] ?? 0)) steps.add(i)
    })
  }
  return [...bad].filter(([, steps]) => steps.size > 0).map(([service, steps]) => {
    const sorted = [...steps].sort((a, b) => a - b)
    const first = sorted[0] ?? 0
    const last = sorted[sorted.length - 1] ?? 0
    if (last - first + 1 !== sorted.length) throw new Error(`${service}: the bad scrapes are not one run: ${sorted.join(',')}`)
    return { service, from: (first - 1) * interval, to: last * interval }
  })
}

/** Seconds as promtool writes a duration (`1h1m30s`), for messages and the group name. */
function hms (s: number): string {
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m${s % 60}s`
}

t.test('promtool series notation, as the Prometheus docs expand it', async (t) => {
  t.same(expandValues('-2+4x3'), [-2, 2, 6, 10])
  t.same(expandValues(' 1-2x4'), [1, -1, -3, -5, -7])
  t.same(expandValues(' 1x4'), [1, 1, 1, 1, 1])
  t.same(expandValues(' 1 _x3 stale'), [1, undefined, undefined, undefined, undefined])
  t.same(expandValues('_ 0.5+0.25x2 Inf'), [undefined, 0.5, 0.75, 1, Infinity])
  t.throws(() => expandValues('1+x3'), /not promtool series notation: 1\+x3/)
})

const group = tests.flatMap((f) => f.tests)[0]
const interval = seconds(group?.interval ?? '1m')

t.test('every input series covers the same steps', async (t) => {
  t.equal(tests.length, 1, FILE)
  const lengths = new Set((group?.input_series ?? []).map((i) => expandValues(i.values).length))
  t.same([...lengths], [433], `${group?.input_series.length ?? 0} series, 433 steps of ${interval} s each (0 to 1h12m)`)
})

t.test('the group name states the windows the series hold', async (t) => {
  const named = [...(group?.name ?? '').matchAll(/([\w-]+) (\w+) to (\w+)/g)].map(([, service, from, to]) => `${service} ${from} to ${to}`)
  t.same(named, incidents(group as TestGroup, interval).map((i) => `${i.service} ${hms(i.from)} to ${hms(i.to)}`), 'name (a description) = windows from the series')
})

t.test('incident timelines: nothing first fires after the incident, and the outage pages during it', async (t) => {
  const found = incidents(group as TestGroup, interval)
  t.same(found.map((i) => i.service), ['redis-outage-90s', 'redis-outage-5m', 'burst-500-90s'], 'one incident per service, from the series')
  const cases = (group?.promql_expr_test ?? []).filter((c) => c.expr === 'ALERTS')
    .map((c) => ({ at: seconds(c.eval_time), alerts: (c.exp_samples ?? []).map((s) => parseSeries(s.labels).labels) }))
  for (const { service, from, to } of found) {
    const name = `${service} (${hms(from)} to ${hms(to)}, from the series)`
    const timeline = cases.map((c) => ({ at: c.at, alerts: c.alerts.filter((a) => a.service === service) }))
    t.ok(timeline.some((c) => c.at < from && c.alerts.length === 0), `${name}: silent before`)
    t.ok(timeline.some((c) => c.at > from && c.at <= to && c.alerts.length > 0), `${name}: alerts during`)
    t.ok(timeline.some((c) => c.at > to), `${name}: checked after`)
    const firedDuring = new Set(timeline.filter((c) => c.at <= to).flatMap((c) => c.alerts)
      .filter((a) => a.alertstate === 'firing').map(alertId))
    const late = timeline.filter((c) => c.at > to).flatMap((c) => c.alerts.map((a) => ({ at: c.at, a })))
      .filter(({ a }) => !firedDuring.has(alertId(a))).map(({ at, a }) => `${a.alertname} ${a.severity} at ${at} s`)
    t.same(late, [], `${name}: every alert active after the incident had fired during it`)
    t.notOk(timeline.some((c) => c.alerts.some((a) => a.alertname === 'FastifyRedisCommandErrors')), `${name}: FastifyRedisCommandErrors not raised`)
  }
  const long = found.find((i) => i.service === 'redis-outage-5m')
  const during = cases.filter((c) => long !== undefined && c.at > long.from && c.at <= long.to)
    .flatMap((c) => c.alerts).filter((a) => a.service === 'redis-outage-5m' && a.alertstate === 'firing')
  t.ok(during.some((a) => a.alertname === 'FastifyRedisUnreachable'), '5 min outage: FastifyRedisUnreachable fires during it')
  t.ok(during.some((a) => a.alertname === 'FastifyErrorBudgetBurn' && a.long_window === '1h'), '5 min outage: the availability page fires during it')
})
