/**
 * Application metrics, declared rather than hard-wired: an application lists its own counters,
 * timers and gauges (StatsD name, tags with their closed value sets, Prometheus name, help,
 * buckets) with {@link defineMetrics}, hands the list to `renderMapping` for statsd_exporter, and
 * records through {@link recorder}, which sends through the plugin's aggregating sink like the
 * plugin's own metrics.
 */
import type { MetricDefinition, PrometheusType, StatsdType } from './catalogue.js'
import type { MetricsSink, Series } from './sink.js'

/** Tag keys with the closed set of values each may take (never a raw URL, never a key). */
export type TagValues = Readonly<Record<string, readonly string[]>>

/** One application metric as the application declares it. */
export interface MetricDeclaration {
  /** StatsD name on the wire, e.g. `cache.lookups` (letters, digits, `_` and `.`). */
  readonly statsd: string
  /** `counter` (`|c`), `timer` (`|ms`, sent in milliseconds, a `_seconds` histogram) or `gauge` (`|g`). */
  readonly type: StatsdType
  /** Tag keys and their closed value sets, in the order they are written on the line. */
  readonly tags: TagValues
  /** Prometheus name: counters end in `_total`, timers in `_seconds`. */
  readonly prometheus: string
  /** Unit of the Prometheus series (`seconds`, `bytes`, `lookups`...). */
  readonly unit: string
  readonly help: string
  /** Histogram bucket upper bounds in seconds; required for timers. */
  readonly buckets?: readonly number[]
}

/** A declared metric, as the catalogue and the mapping generator read it. */
export interface DeclaredMetric<D extends MetricDeclaration = MetricDeclaration> extends MetricDefinition {
  readonly type: D['type']
  readonly tags: readonly string[]
  /** The closed value set of every tag. */
  readonly tagValues: D['tags']
}

const PROMETHEUS_TYPE: Record<StatsdType, PrometheusType> = { counter: 'counter', timer: 'histogram', gauge: 'gauge' }
const STATSD_NAME = /^[a-zA-Z_][a-zA-Z0-9_.]*$/
const PROMETHEUS_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

/**
 * Checks the declarations and turns them into catalogue entries.
 * @throws {TypeError} naming the metric and the field that is wrong.
 */
export function defineMetrics<const D extends Record<string, MetricDeclaration>> (declarations: D): { readonly [K in keyof D]: DeclaredMetric<D[K]> } {
  const out: Record<string, DeclaredMetric> = {}
  for (const [key, d] of Object.entries(declarations)) {
    const fail = (detail: string): never => { throw new TypeError(`metric ${key}: ${detail}`) }
    if (!STATSD_NAME.test(d.statsd)) fail(`statsd must match ${STATSD_NAME}, got ${JSON.stringify(d.statsd)}`)
    if (!(d.type in PROMETHEUS_TYPE)) fail(`type must be counter, timer or gauge, got ${JSON.stringify(d.type)}`)
    if (!PROMETHEUS_NAME.test(d.prometheus)) fail(`prometheus must match ${PROMETHEUS_NAME}, got ${JSON.stringify(d.prometheus)}`)
    if (d.type === 'counter' && !d.prometheus.endsWith('_total')) fail(`prometheus of a counter must end in _total, got ${d.prometheus}`)
    if (d.type === 'timer' && !d.prometheus.endsWith('_seconds')) fail(`prometheus of a timer must end in _seconds, got ${d.prometheus}`)
    if (d.type === 'timer' && !(d.buckets !== undefined && d.buckets.length > 0)) fail('buckets (seconds) are required for a timer')
    for (const [tag, values] of Object.entries(d.tags)) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(tag)) fail(`tag name ${JSON.stringify(tag)} is not a Prometheus label name`)
      if (values.length === 0) fail(`tag ${tag} needs at least one value (a closed set)`)
      for (const v of values) if (!/^[^,|#:\s]+$/.test(v)) fail(`tag ${tag} value ${JSON.stringify(v)} contains a character StatsD tags cannot carry`)
    }
    out[key] = {
      statsd: d.statsd,
      type: d.type,
      tags: Object.keys(d.tags),
      tagValues: d.tags,
      prometheus: d.prometheus,
      prometheusType: PROMETHEUS_TYPE[d.type],
      unit: d.unit,
      help: d.help,
      ...(d.buckets !== undefined ? { buckets: d.buckets } : {})
    }
  }
  return out as { readonly [K in keyof D]: DeclaredMetric<D[K]> }
}

/** The tags of one measurement: one value from each tag's closed set. */
export type TagsOf<M extends DeclaredMetric> = { readonly [K in keyof M['tagValues']]: M['tagValues'][K][number] }

/** A counter of declared metric M. */
export interface Counter<M extends DeclaredMetric> {
  /** Adds `n` (default 1) to the series with these tags. */
  add (tags: TagsOf<M>, n?: number): void
  /** The series with these tags, to keep and record into without a lookup. */
  with (tags: TagsOf<M>): Series
}
/** A timer of declared metric M (values in milliseconds). */
export interface Timer<M extends DeclaredMetric> {
  /** Records one duration, in milliseconds. */
  observe (tags: TagsOf<M>, milliseconds: number): void
  with (tags: TagsOf<M>): Series
}
/** A gauge of declared metric M. */
export interface Gauge<M extends DeclaredMetric> {
  /** Sets the series with these tags to `value` (base units). */
  set (tags: TagsOf<M>, value: number): void
  with (tags: TagsOf<M>): Series
}

/** The typed recorder of a set of declared metrics. */
export type Recorder<D extends Record<string, DeclaredMetric>> = {
  readonly [K in keyof D]: D[K]['type'] extends 'counter' ? Counter<D[K]> : D[K]['type'] extends 'timer' ? Timer<D[K]> : Gauge<D[K]>
}

type Node = Map<string, Node | Series>

/**
 * Builds a series lookup for one metric: the tags are checked against the closed sets once per
 * value combination, their `key:value` strings built once, and later calls find the series
 * through one map per tag. A value outside a tag's set is reported to `onInvalid` and the
 * measurement dropped (the TypeScript types make it a compile error first).
 */
function seriesOf (sink: MetricsSink, metric: DeclaredMetric, onInvalid: (err: Error) => void): (tags: Readonly<Record<string, string>>) => Series | undefined {
  const keys = metric.tags
  const root: Node = new Map()
  let only: Series | undefined
  return (tags) => {
    if (keys.length === 0) {
      only ??= sink.series(metric, [])
      return only
    }
    let node = root
    for (let i = 0; i < keys.length - 1; i++) {
      const value = tags[keys[i]]
      let next = node.get(value) as Node | undefined
      if (next === undefined) {
        if (!metric.tagValues[keys[i]].includes(value)) return invalid(keys[i], value)
        node.set(value, next = new Map())
      }
      node = next
    }
    const last = keys[keys.length - 1]
    const value = tags[last]
    let series = node.get(value) as Series | undefined
    if (series === undefined) {
      if (!metric.tagValues[last].includes(value)) return invalid(last, value)
      series = sink.series(metric, keys.map((k) => `${k}:${tags[k]}`))
      node.set(value, series)
    }
    return series
  }
  function invalid (tag: string, value: unknown): undefined {
    onInvalid(new RangeError(`metric ${metric.statsd}: tag ${tag} value ${JSON.stringify(value)} is not in its declared set; measurement dropped`))
    return undefined
  }
}

/**
 * A typed recorder for declared metrics, sending through `sink` (the plugin's `fastify.metrics`).
 * @param onInvalid gets a tag value outside its declared set (JavaScript callers); default: ignored.
 */
export function recorder<D extends Record<string, DeclaredMetric>> (sink: MetricsSink, metrics: D, onInvalid: (err: Error) => void = () => {}): Recorder<D> {
  const out: Record<string, unknown> = {}
  for (const [key, metric] of Object.entries(metrics)) {
    const lookup = seriesOf(sink, metric, onInvalid)
    const record = (tags: Readonly<Record<string, string>>, value: number): void => { lookup(tags)?.record(value) }
    const withTags = (tags: Readonly<Record<string, string>>): Series => lookup(tags) ?? DROPPED
    out[key] = metric.type === 'counter'
      ? { add: (tags: Readonly<Record<string, string>>, n = 1) => record(tags, n), with: withTags }
      : metric.type === 'timer'
        ? { observe: record, with: withTags }
        : { set: record, with: withTags }
  }
  return out as Recorder<D>
}

const DROPPED: Series = { record () {} }
