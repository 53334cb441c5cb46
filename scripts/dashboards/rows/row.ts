import type * as cog from '@grafana/grafana-foundation-sdk/cog'
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'

/** One dashboard row: its header and the panels under it, in reading order. */
export interface Row {
  readonly row: dashboard.RowBuilder
  readonly panels: ReadonlyArray<cog.Builder<dashboard.Panel>>
}

/** An expanded row header with a fixed id (panels follow it at the top level, as Grafana expects). */
export function row (id: number, title: string, panels: ReadonlyArray<cog.Builder<dashboard.Panel>>): Row {
  return { row: new dashboard.RowBuilder(title).id(id).collapsed(false), panels }
}
