/**
 * Static checks on a dashboard model and its PromQL, shared by the generator (which refuses to
 * write a dashboard that fails them) and the tests (which also run the queries for real).
 *
 * The PromQL helpers here are deliberately small lexical tools, not a parser: the real parser is
 * Prometheus's own (`promtool check rules`, the HTTP API), which the tests run on every
 * expression. These only answer questions the parser does not: which metric names an
 * expression reads, and which range a rate() uses.
 */

/** One Prometheus query of a panel, as found in the dashboard JSON. */
export interface PanelQuery {
  readonly panelId: number
  readonly panelTitle: string
  readonly panelType: string
  /** Title of the row the panel sits under. */
  readonly row: string
  readonly refId: string
  readonly expr: string
  readonly instant: boolean
  readonly datasource: unknown
}

interface JsonPanel {
  id?: number
  type?: string
  title?: string
  panels?: JsonPanel[]
  targets?: Array<{ refId?: string, expr?: string, instant?: boolean, datasource?: unknown }>
}

/**
 * Every Prometheus target of every panel, in dashboard order, with the row it belongs to
 * (expanded rows are followed by their panels; collapsed rows nest them).
 */
export function panelQueries (model: { panels?: unknown[] }): PanelQuery[] {
  const out: PanelQuery[] = []
  let row = ''
  const visit = (panel: JsonPanel): void => {
    if (panel.type === 'row') {
      row = panel.title ?? ''
      for (const nested of panel.panels ?? []) visit(nested)
      return
    }
    for (const t of panel.targets ?? []) {
      if (typeof t.expr !== 'string') continue
      out.push({
        panelId: panel.id ?? -1,
        panelTitle: panel.title ?? '',
        panelType: panel.type ?? '',
        row,
        refId: t.refId ?? '',
        expr: t.expr,
        instant: t.instant === true,
        datasource: t.datasource
      })
    }
  }
  for (const panel of (model.panels ?? []) as JsonPanel[]) visit(panel)
  return out
}

/** Replaces Grafana variables (`$name`, `${name}`, `[[name]]`) that `values` names; leaves others. */
export function substitute (expr: string, values: Readonly<Record<string, string>>): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, a?: string, b?: string, c?: string) => {
    const name = a ?? b ?? c ?? ''
    return Object.hasOwn(values, name) ? values[name] : whole
  })
}

/** The `metric{matchers}` argument of `label_values(metric{...}, label)`, and the label. */
export function parseLabelValues (query: string): { selector: string, label: string } {
  const match = /^\s*label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)\s*$/.exec(query)
  if (match === null) throw new Error(`not a label_values(selector, label) query: ${query}`)
  return { selector: match[1], label: match[2] }
}

/** Replaces every string literal by `""`, so that nothing inside quotes is read as PromQL. */
export function stripStrings (expr: string): string {
  return expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
}

/** PromQL words that are not metric names when they are not followed by `(`. */
const KEYWORDS = new Set([
  'and', 'or', 'unless', 'atan2', 'bool', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right',
  'offset', 'inf', 'nan'
])

/**
 * Metric names an expression reads: identifiers outside label matchers, range brackets,
 * grouping clauses and strings, not followed by `(` (functions, aggregations), not keywords,
 * not numbers. A selector written only as `{__name__="x"}` is not seen (the dashboard does not
 * use that form). Sorted, without duplicates.
 */
export function metricNames (expr: string): string[] {
  const stripped = stripStrings(expr)
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ')
    .replace(/\boffset\s+-?[0-9a-z]+/gi, ' ')
    .replace(/@\s*[0-9.]+/g, ' ')
  const names = new Set<string>()
  const token = /0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|([A-Za-z_:][A-Za-z0-9_:]*)|\S/g
  for (let m = token.exec(stripped); m !== null; m = token.exec(stripped)) {
    const word = m[1]
    if (word === undefined) continue
    const next = /^\s*(\S?)/.exec(stripped.slice(token.lastIndex))?.[1]
    if (next === '(' || KEYWORDS.has(word.toLowerCase())) continue
    names.add(word)
  }
  return [...names].sort()
}

/** One `rate(...)`, `irate(...)` or `increase(...)` call and the range(s) its argument uses. */
export interface RangeCall {
  readonly fn: string
  /** Bracket contents at the top level of the argument, e.g. `$__rate_interval` or `5m:1m`. */
  readonly ranges: string[]
  /** Metric names read inside the argument. */
  readonly metrics: string[]
}

/** Finds every rate/irate/increase call (strings ignored) and the range its argument uses. */
export function rangeCalls (expr: string): RangeCall[] {
  const text = stripStrings(expr)
  const calls: RangeCall[] = []
  const fn = /\b(rate|irate|increase)\s*\(/g
  for (let m = fn.exec(text); m !== null; m = fn.exec(text)) {
    let depth = 1
    let i = fn.lastIndex
    const ranges: string[] = []
    for (; i < text.length && depth > 0; i++) {
      const c = text[i]
      if (c === '(') depth++
      else if (c === ')') depth--
      else if (c === '[' && depth === 1) {
        const end = text.indexOf(']', i)
        ranges.push(text.slice(i + 1, end))
        i = end
      }
    }
    calls.push({ fn: m[1], ranges, metrics: metricNames(text.slice(fn.lastIndex, i - 1)) })
  }
  return calls
}

/** The range every rate/irate/increase must use: Grafana's rate interval (>= 4 scrapes). */
export const RATE_RANGE = '$__rate_interval'

/** True for a recording rule name (`level:metric:operations`: only those contain a colon). */
export function isRecordingRule (name: string): boolean {
  return name.includes(':')
}

/**
 * Problems with rate ranges: a rate/irate/increase whose range is not `[$__rate_interval]`,
 * unless it reads only recording rules (already windowed, any range is a deliberate choice).
 */
export function rateRangeProblems (expr: string): string[] {
  return rangeCalls(expr)
    .filter((call) => !(call.metrics.length > 0 && call.metrics.every(isRecordingRule)))
    .filter((call) => call.ranges.length !== 1 || call.ranges[0].replace(/^\$\{(\w+)\}$/, '$$$1') !== RATE_RANGE)
    .map((call) => `${call.fn}() over [${call.ranges.join('][')}] in: ${expr}`)
}

/** Checks the generator enforces before writing: every rate range is `$__rate_interval`. */
export function assertDashboard (model: { panels?: unknown[] }): void {
  const problems = panelQueries(model).flatMap((q) =>
    rateRangeProblems(q.expr).map((p) => `panel ${q.panelId} (${q.panelTitle}) ${q.refId}: ${p}`))
  if (problems.length > 0) throw new Error(`dashboard has invalid queries:\n${problems.join('\n')}`)
}

/**
 * Series that exist only after their first event: statsd_exporter creates a label set with its
 * first sample (5xx and 4xx responses, aborted requests, Redis command errors; its own sample
 * errors and conflicts), and Prometheus writes ALERTS only while an alert is active. A query
 * on them alone returns nothing on a healthy service, so every panel that reads them either
 * falls back to 0 in the query or sets a `noValue` (test/etc/dashboards.test.ts); a check that
 * a query "returns data" must allow these to be empty.
 */
export const EVENT_ONLY_SERIES = /status_code=~"[45]\.\."|http_requests_aborted_total|redis_command_errors_total|statsd_exporter_(sample_errors|events_conflict|events_error)_total|ALERTS/

/** True when the expression falls back to 0 where its series are absent (`or vector(0)`, `or 0 * all`). */
export function fallsBackToZero (expr: string): boolean {
  return /\bor vector\(0\)|\bor\s+0 \*/.test(expr)
}
