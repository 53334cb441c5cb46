/**
 * Lexical checks for PromQL that must mean the same on Prometheus 2.x (what CI runs: Debian's
 * 2.42) and 3.x (what docker-compose ships). Each one answers a point of the Prometheus 3.0
 * migration guide (prometheus/prometheus docs/migration.md) that promtool 2.42 cannot see.
 * Not a parser: the expressions are also parsed by the real promtool elsewhere.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { panelQueries, stripStrings } from '../../scripts/dashboards/check.js'
import { ROOT } from './stack.js'

/** One PromQL expression and where it comes from (for messages). */
export interface Expression { where: string, expr: string }

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 }

/**
 * A Prometheus duration (`40s`, `5m`, `1h30m`, `3d`) in seconds.
 * @throws on anything else (a Grafana variable left in, a typo).
 */
export function durationSeconds (text: string): number {
  const parts = [...text.matchAll(/(\d+)(ms|[smhdwy])/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`not a Prometheus duration: ${text}`)
  return parts.reduce((sum, p) => sum + Number(p[1]) * (UNITS[p[2]] ?? 0), 0)
}

/**
 * Matchers on `le` or `quantile` whose value is a whole number, e.g. `le="1"`, `le="10.0"`,
 * `quantile=~"0.5|1"`. Prometheus 3 stores these labels normalised to a float (`1` becomes
 * `1.0`) while 2.x keeps what the target wrote (statsd_exporter writes `1`): a selector on a
 * whole-number bound matches on one version and silently matches nothing on the other.
 * Fractional bounds (`0.1`) and `+Inf` read the same on both.
 */
export function integerBoundSelectors (expr: string): string[] {
  const found: string[] = []
  for (const m of expr.matchAll(/\b(le|quantile)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
    const alternatives = m[2].includes('~') ? m[3].replace(/\\\\/g, '\\').split('|').map((a) => a.replace(/\\\./g, '.')) : [m[3]]
    if (alternatives.some((a) => /^\s*[+-]?\d+(\.0*)?\s*$/.test(a))) found.push(m[0])
  }
  return found
}

/**
 * Every range of an expression: `[5m]` as `{ range: 300 }`, a subquery `[1d:5m]` as
 * `{ range: 86400, step: 300 }` (`step` undefined when the subquery leaves it to the
 * evaluation interval). Variables must be substituted first.
 */
export function ranges (expr: string): Array<{ text: string, range: number, step?: number }> {
  return [...stripStrings(expr).matchAll(/\[([^\]]+)\]/g)].map((m) => {
    const [range, step] = m[1].split(':').map((s) => s.trim())
    return { text: m[0], range: durationSeconds(range), step: step === undefined || step === '' ? undefined : durationSeconds(step) }
  })
}

/**
 * Windows that can hold fewer than two points (so no rate, no increase, no delta): Prometheus 3
 * range selectors are left-open, so a window of length W over points `interval` apart holds
 * exactly floor(W / interval) of them, one fewer than 2.x when a point sits on the left edge.
 */
export function shortWindows (expr: string, intervalSeconds: number): string[] {
  return ranges(expr)
    .filter((r) => r.step !== undefined ? r.range < 2 * r.step : r.range < 2 * intervalSeconds)
    .map((r) => r.text)
}

/** The rule files Prometheus loads (etc/prometheus/rules/*.yml). */
export function ruleExpressions (): Expression[] {
  const dir = join(ROOT, 'etc', 'prometheus', 'rules')
  return readdirSync(dir).filter((f) => f.endsWith('.yml')).sort().flatMap((file) => {
    const doc = parse(readFileSync(join(dir, file), 'utf8')) as { groups: Array<{ rules: Array<{ record?: string, alert?: string, expr: string }> }> }
    return doc.groups.flatMap((g) => g.rules.map((r) => ({ where: `rules/${file} ${r.record ?? r.alert ?? '?'}`, expr: String(r.expr) })))
  })
}

/** Every target and query-variable expression of the committed dashboards (etc/dashboards/*.json). */
export function dashboardExpressions (): Expression[] {
  const dir = join(ROOT, 'etc', 'dashboards')
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().flatMap((file) => {
    const model = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { panels?: unknown[], templating?: { list?: Array<{ name?: string, definition?: string }> } }
    const targets = panelQueries(model).map((q) => ({ where: `${file} panel ${q.panelId} ${q.refId}`, expr: q.expr }))
    const variables = (model.templating?.list ?? []).filter((v) => typeof v.definition === 'string' && v.definition !== '')
      .map((v) => ({ where: `${file} variable ${v.name ?? '?'}`, expr: String(v.definition) }))
    return [...targets, ...variables]
  })
}
