import { parser } from '@prometheus-io/lezer-promql'

/**
 * Whether a PromQL expression stays right when its input comes from many pods (etc/kubernetes:
 * one statsd_exporter per pod, pods replaced at every rollout), read with Prometheus's own
 * PromQL grammar (@prometheus-io/lezer-promql, the parser of Prometheus's web UI).
 *
 * Every range function over counters (rate, irate, increase) must sit inside an aggregation
 * that drops the pod: `sum by (...)` whose labels name none of the PodMonitor's target labels
 * (and not `instance`, the pod name, unless the caller allows a per-pod view of that metric).
 * `without` is refused: it keeps every label it does not name, the pod's among them.
 */

/** The labels a PodMonitor target adds; each pod has its own values. */
export const POD_LABELS = ['pod', 'namespace', 'container', 'endpoint'] as const

const COUNTER_FUNCTIONS = new Set(['rate', 'irate', 'increase'])

interface Node { name: string, from: number, to: number, parent: Node | null, firstChild: Node | null, nextSibling: Node | null, getChild: (name: string) => Node | null }

function children (node: Node): Node[] {
  const out: Node[] = []
  for (let c = node.firstChild; c !== null; c = c.nextSibling) out.push(c)
  return out
}

/**
 * The problems of `expr`, one string each (empty when it aggregates across pods).
 * @param perPod whether `by (instance)` is a deliberate per-pod view for a counter name: always
 *   for dashboards (one line per pod); for rules, only the exporter's own statsd_exporter_*
 *   counters (each exporter is its own target and is alerted on as such).
 * @throws {Error} when the expression does not parse.
 */
export function podAggregationProblems (expr: string, perPod: (metric: string) => boolean): string[] {
  const tree = parser.parse(expr)
  const problems: string[] = []
  const text = (n: Node): string => expr.slice(n.from, n.to)
  tree.iterate({
    enter: (ref) => {
      if (ref.type.isError) throw new Error(`PromQL does not parse at ${ref.from}: ${expr}`)
      if (ref.name !== 'FunctionCall') return
      const node = ref.node as unknown as Node
      const fn = node.getChild('FunctionIdentifier')
      if (fn === null || !COUNTER_FUNCTIONS.has(text(fn))) return
      let agg = node.parent
      while (agg !== null && agg.name !== 'AggregateExpr') agg = agg.parent
      if (agg === null) {
        problems.push(`${text(node)} is not aggregated across pods`)
        return
      }
      const modifier = agg.getChild('AggregateModifier')
      if (modifier === null) return
      if (modifier.getChild('Without') !== null) {
        problems.push(`${text(agg)}: without() keeps the pod labels`)
        return
      }
      const grouping = modifier.getChild('GroupingLabels')
      const labels = grouping === null ? [] : children(grouping).filter((c) => c.name === 'LabelName').map(text)
      const selector = node.getChild('FunctionCallBody')?.getChild('MatrixSelector')?.getChild('VectorSelector')?.getChild('Identifier')
      const forbidden = [...POD_LABELS, ...(selector != null && perPod(text(selector)) ? [] : ['instance'])]
      const kept = labels.filter((l) => forbidden.includes(l))
      if (kept.length > 0) problems.push(`${text(agg)} keeps ${kept.join(', ')}`)
    }
  })
  return problems
}
