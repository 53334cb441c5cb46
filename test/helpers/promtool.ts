import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

/**
 * Readers for the Prometheus files under etc/prometheus, typed as far as the tests look into
 * them: rule files (rules/*.yml) and promtool unit-test files (tests/*.yml).
 */

/** etc/prometheus, absolute. */
export const PROMETHEUS_DIR = fileURLToPath(new URL('../../etc/prometheus/', import.meta.url))

/** One rule of a rule group: a recording rule (`record`) or an alert (`alert`). */
export interface Rule {
  record?: string
  alert?: string
  expr: string
  for?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}

export interface RuleGroup {
  name: string
  rules: Rule[]
}

/** One `alert_rule_test` case: the alerts expected to fire (none when `exp_alerts` is empty). */
export interface AlertTest {
  eval_time: string
  alertname: string
  exp_alerts?: Array<{ exp_labels?: Record<string, string>, exp_annotations?: Record<string, string> }>
}

/** One `promql_expr_test` case. */
export interface PromqlTest {
  expr: string
  eval_time: string
  exp_samples?: Array<{ labels: string, value: number }>
}

/** One test group: input series (promtool's expanding notation) and the cases checked on them. */
export interface TestGroup {
  name?: string
  interval?: string
  input_series: Array<{ series: string, values: string }>
  alert_rule_test?: AlertTest[]
  promql_expr_test?: PromqlTest[]
}

/** A promtool unit-test file, with the path it was read from (relative to etc/prometheus). */
export interface TestFile {
  path: string
  rule_files: string[]
  evaluation_interval?: string
  group_eval_order?: string[]
  tests: TestGroup[]
}

/** The groups of a rule file, e.g. `rules/alerts.yml` (relative to etc/prometheus). */
export function ruleGroups (file: string): RuleGroup[] {
  return (parse(readFileSync(join(PROMETHEUS_DIR, file), 'utf8')) as { groups: RuleGroup[] }).groups
}

/** Every unit-test file in etc/prometheus/tests, sorted by name. */
export function testFiles (): TestFile[] {
  const dir = join(PROMETHEUS_DIR, 'tests')
  return readdirSync(dir).filter((f) => f.endsWith('.yml')).sort().map((f) => ({
    path: `tests/${f}`,
    ...(parse(readFileSync(join(dir, f), 'utf8')) as Omit<TestFile, 'path'>)
  }))
}

/** A series selector of the input notation, `name{k="v",...}`, split into name and labels. */
export interface ParsedSeries {
  name: string
  labels: Record<string, string>
}

/**
 * Parses a promtool input series such as `http_requests_total{job="statsd-exporter",le="0.1"}`.
 * Label values here never contain quotes or backslashes, so no unescaping is done.
 * @throws when the text is not `name` or `name{...}`.
 */
export function parseSeries (text: string): ParsedSeries {
  const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?$/.exec(text.trim())
  if (m === null) throw new Error(`not a series selector: ${text}`)
  const labels: Record<string, string> = {}
  for (const pair of (m[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="([^"]*)"/g)) labels[pair[1]] = pair[2]
  return { name: m[1], labels }
}

/**
 * How a test names one alerting rule: its alert name plus its static labels (severity, burn
 * windows), e.g. `FastifyErrorBudgetBurn{long_window="1h",severity="critical",short_window="5m"}`.
 * Twins share the name and differ by these labels.
 */
export function ruleId (alert: string, labels: Record<string, string> = {}): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v}"`)
  return `${alert}{${pairs.join(',')}}`
}

/**
 * A Prometheus duration (`90s`, `1h30m`, `0s`, as in `for` and `eval_time`) in seconds.
 * @throws {Error} for anything else.
 */
export function durationSeconds (duration: string): number {
  const units: Record<string, number> = { d: 86400, h: 3600, m: 60, s: 1 }
  const parts = [...duration.matchAll(/(\d+)([dhms])/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== duration) throw new Error(`not a duration: ${duration}`)
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * units[unit], 0)
}

/** A number in promtool's series notation (Prometheus's own float spellings included). */
const NUMBER = String.raw`[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN`
/** A number of the notation as a JS number (`Inf` is Prometheus's spelling of Infinity). */
function float (text: string): number {
  return Number(text.replace(/Inf$/, 'Infinity'))
}
/** `a+bxn`, `a-bxn` and `axn` (= `a+0xn`): n+1 values from a, b apart. */
const RUN = new RegExp(`^(${NUMBER})(?:([+-])(${NUMBER}))?x(\\d+)$`)

/**
 * Expands the `values` of a promtool input series into one entry per evaluation step (promtool's
 * notation, Prometheus docs "Unit testing for rules"): `a+bxn` and `a-bxn` are the n+1 values
 * a, a±b, ... a±n·b; `axn` is a n+1 times; `_` is one missing sample and `_xn` n of them;
 * `stale` a staleness marker. Missing and stale samples are `undefined` (no value at that step).
 * @throws {Error} for a term outside that notation.
 */
export function expandValues (values: string): Array<number | undefined> {
  const out: Array<number | undefined> = []
  for (const term of values.trim().split(/\s+/).filter((s) => s !== '')) {
    const gaps = /^_(?:x(\d+))?$/.exec(term)
    if (gaps !== null) {
      out.push(...Array<undefined>(gaps[1] === undefined ? 1 : Number(gaps[1])).fill(undefined))
      continue
    }
    if (term === 'stale') {
      out.push(undefined)
      continue
    }
    const run = RUN.exec(term)
    if (run !== null) {
      const step = (run[2] === '-' ? -1 : 1) * float(run[3] ?? '0')
      for (let k = 0; k <= Number(run[4]); k++) out.push(float(run[1] ?? '') + k * step)
      continue
    }
    if (!new RegExp(`^(?:${NUMBER})$`).test(term)) throw new Error(`not promtool series notation: ${term} (in ${values})`)
    out.push(float(term))
  }
  return out
}
