/**
 * Shared building blocks of the dashboard: the datasource reference every panel and target
 * uses, a Prometheus target factory, and panel factories with the house defaults (legend,
 * tooltip, size). Panels themselves live one function each in `./rows/`.
 */
import * as common from '@grafana/grafana-foundation-sdk/common'
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus'
import * as stat from '@grafana/grafana-foundation-sdk/stat'
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'

/** UID of the Prometheus datasource pinned in `etc/grafana/provisioning/datasources`. */
export const PROMETHEUS_UID = 'prometheus'
/** Name of that datasource (the alert list panel filters by name, not by uid). */
export const PROMETHEUS_NAME = 'Prometheus'
/** Name of the datasource variable; its default value is {@link PROMETHEUS_UID}. */
export const DATASOURCE_VARIABLE = 'datasource'

/**
 * The datasource of every panel, target and query variable: the datasource variable, whose
 * default is the provisioned uid. Going through the variable (never a hard-coded uid) lets a
 * reader point the whole dashboard at another Prometheus without editing it.
 */
export const DS: common.DataSourceRef = { type: 'prometheus', uid: `\${${DATASOURCE_VARIABLE}}` }

/** One Prometheus query of a panel. */
export interface TargetSpec {
  /** PromQL with Grafana variables (`$instance`, `$route`, `$__rate_interval`). */
  readonly expr: string
  /** Legend template, e.g. `{{route}}`. */
  readonly legend?: string
  /** Instant query (tables); otherwise a range query. */
  readonly instant?: boolean
  /** Result shape: time series (default), table or heatmap buckets. */
  readonly format?: prometheus.PromQueryFormat
}

/** A Prometheus target with a fixed `refId` (stable across regenerations). */
export function target (refId: string, spec: TargetSpec): prometheus.DataqueryBuilder {
  const builder = new prometheus.DataqueryBuilder()
    .datasource(DS)
    .refId(refId)
    .expr(spec.expr)
    .editorMode(prometheus.QueryEditorMode.Code)
    .legendFormat(spec.legend ?? '__auto')
  if (spec.instant === true) builder.instant()
  else builder.range()
  if (spec.format !== undefined) builder.format(spec.format)
  return builder
}

/** Adds targets A, B, C... in order, so refIds follow the order they are written in. */
export function withTargets<T extends { withTarget (t: prometheus.DataqueryBuilder): T }> (panel: T, specs: readonly TargetSpec[]): T {
  specs.forEach((spec, i) => panel.withTarget(target(String.fromCharCode(65 + i), spec)))
  return panel
}

/** Threshold steps from `[color, from]` pairs; the first step starts at -Infinity (null). */
export function thresholds (...steps: ReadonlyArray<readonly [string, number | null]>): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps(steps.map(([color, value]) => ({ color, value })))
}

/** Value mapping for 0/1 health gauges (`up`, `redis_connection_up`). */
export function upDownMappings (up = 'up', down = 'down'): dashboard.ValueMapping[] {
  return [{
    type: dashboard.MappingType.ValueToText,
    options: {
      0: { text: down, color: 'red', index: 0 },
      1: { text: up, color: 'green', index: 1 }
    }
  }]
}

/** Common panel placement and identity. */
interface PanelBase {
  readonly id: number
  readonly title: string
  /** What the panel shows, how to read it, and where the numbers come from. */
  readonly description: string
  readonly unit: string
  /** Grid width (24 = full) and height; defaults 12 x 8. */
  readonly width?: number
  readonly height?: number
}

/** A time series panel: legend as a list below, shared tooltip sorted by value. */
export function timeSeries (p: PanelBase): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .id(p.id)
    .title(p.title)
    .description(p.description)
    .datasource(DS)
    .unit(p.unit)
    .min(0)
    .span(p.width ?? 12)
    .height(p.height ?? 8)
    .lineWidth(1)
    .fillOpacity(10)
    .showPoints(common.VisibilityMode.Never)
    .legend(new common.VizLegendOptionsBuilder()
      .showLegend(true)
      .displayMode(common.LegendDisplayMode.List)
      .placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder()
      .mode(common.TooltipDisplayMode.Multi)
      .sort(common.SortOrder.Descending))
}

/** A stat panel showing the last value with a sparkline; defaults 4 x 4. */
export function statPanel (p: PanelBase): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .id(p.id)
    .title(p.title)
    .description(p.description)
    .datasource(DS)
    .unit(p.unit)
    .span(p.width ?? 4)
    .height(p.height ?? 4)
    .graphMode(common.BigValueGraphMode.Area)
    .colorMode(common.BigValueColorMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
}
