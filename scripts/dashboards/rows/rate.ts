/**
 * Rate: how much traffic, where it goes, and what it gets back. Every panel reads
 * `http_requests_total` (one increment per response, sent from the onResponse hook) filtered by
 * the instance and route variables.
 */
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge'
import * as common from '@grafana/grafana-foundation-sdk/common'
import type * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import { DS, thresholds, timeSeries, withTargets } from '../kit.js'
import { BY_INSTANCE, BY_ROUTE, BY_SERVICE, M, RULES, rate, sel, sumBy } from '../promql.js'
import { row, type Row } from './row.js'

const requests = sel(M.requests, BY_INSTANCE, BY_ROUTE)

export function requestsTotal (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 201,
    title: 'Requests/s',
    description: 'Responses per second for the selected instances and routes: the total and each instance.',
    unit: 'reqps'
  }), [
    { expr: sumBy([], rate(requests)), legend: 'total' },
    { expr: sumBy(['instance'], rate(requests)), legend: '{{instance}}' }
  ])
}

export function requestsByRoute (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 202,
    title: 'Requests/s by route',
    description: 'Responses per second by route template. `__unmatched__` counts requests that matched no route ' +
      '(404s for unknown URLs); the raw URL is never a label.',
    unit: 'reqps'
  }), [{ expr: sumBy(['route'], rate(requests)), legend: '{{route}}' }])
}

export function requestsByMethod (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 203,
    title: 'Requests/s by method',
    description: 'Responses per second by HTTP method.',
    unit: 'reqps'
  }), [{ expr: sumBy(['method'], rate(requests)), legend: '{{method}}' }])
}

export function requestsByStatusClass (): timeseries.PanelBuilder {
  // label_replace keeps the first digit of status_code: 2xx, 3xx, 4xx, 5xx.
  const byClass = `label_replace(${rate(requests)}, "status_class", "\${1}xx", "status_code", "([1-5]).*")`
  return withTargets(timeSeries({
    id: 204,
    title: 'Requests/s by status class',
    description: 'Responses per second by status class (2xx, 3xx, 4xx, 5xx), stacked. 404 item misses and 400s ' +
      'are 4xx: healthy answers, not errors.',
    unit: 'reqps'
  }).stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)),
  [{ expr: sumBy(['status_class'], byClass), legend: '{{status_class}}' }])
}

export function busiestRoutes (): bargauge.PanelBuilder {
  return withTargets(new bargauge.PanelBuilder()
    .id(205)
    .title('Busiest routes (5m)')
    .description('Responses per second by route over the last 5 minutes, all instances (recording rule `' +
      RULES.routeRequestsRate + '`), largest first.')
    .datasource(DS)
    .unit('reqps')
    .span(24)
    .height(7)
    .min(0)
    .orientation(common.VizOrientation.Horizontal)
    .displayMode(common.BarGaugeDisplayMode.Gradient)
    .thresholds(thresholds(['blue', null]))
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false)),
  [{ expr: `sort_desc(${sel(RULES.routeRequestsRate, BY_SERVICE, BY_ROUTE)})`, legend: '{{route}}', instant: true }])
}

/** The Rate row. */
export function rateRow (): Row {
  return row(200, 'Rate', [requestsTotal(), requestsByRoute(), requestsByMethod(), requestsByStatusClass(), busiestRoutes()])
}
