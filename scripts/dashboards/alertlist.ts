/**
 * Grafana's core "Alert list" panel (`alertlist`), which the foundation SDK (v0.0.21) ships no
 * builder for. Built the way the SDK's README documents custom panels: a subclass of the generic
 * panel builder that sets the plugin id and typed options.
 *
 * Option names follow Grafana's `UnifiedAlertListOptions`
 * (public/app/plugins/panel/alertlist/types.ts). `datasource` holds the datasource *name*:
 * that is what Grafana's own editor stores for that option.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'

/** Which alert states the list shows. */
export interface AlertStateFilter {
  firing: boolean
  pending: boolean
  recovering: boolean
  noData: boolean
  normal: boolean
  error: boolean
}

/** Options of the `alertlist` panel that this dashboard sets. */
export interface AlertListOptions {
  viewMode: 'list' | 'stat'
  groupMode: 'default' | 'custom'
  groupBy: string[]
  maxItems: number
  /** 1 alphabetical asc, 2 desc, 3 importance, 4 time asc, 5 time desc. */
  sortOrder: 1 | 2 | 3 | 4 | 5
  dashboardAlerts: boolean
  alertName: string
  alertInstanceLabelFilter: string
  /** Name of the datasource whose rules are listed (datasource-managed alerts). */
  datasource: string
  showInactiveAlerts: boolean
  stateFilter: AlertStateFilter
}

/** Builder for the `alertlist` panel. */
export class AlertListPanelBuilder extends dashboard.PanelBuilder {
  constructor (options: AlertListOptions) {
    super()
    this.internal.type = 'alertlist'
    this.internal.options = options
  }
}
