/**
 * Errors: 5xx are errors, 4xx are the client's business. Ratios are always windowed (rate over
 * `$__rate_interval`, or 5m/1h in the recording rules), never lifetime counters divided.
 */
import * as common from '@grafana/grafana-foundation-sdk/common'
import type * as stat from '@grafana/grafana-foundation-sdk/stat'
import type * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import { statPanel, thresholds, timeSeries, withTargets } from '../kit.js'
import { BY_INSTANCE, BY_ROUTE, BY_SERVICE, ERROR_BUDGET_RATIO, FAST_BURN, M, RULES, rate, ratio, sel, sumBy } from '../promql.js'
import { row, type Row } from './row.js'

/** Share of selected responses whose status code matches `codes` (a regex like `5..`). */
function share (codes: string): string {
  const part = sumBy([], rate(sel(M.requests, BY_INSTANCE, BY_ROUTE, `status_code=~"${codes}"`)))
  const all = sumBy([], rate(sel(M.requests, BY_INSTANCE, BY_ROUTE)))
  return ratio(part, all)
}

export function ratio5xxRecorded (): stat.PanelBuilder {
  return withTargets(statPanel({
    id: 301,
    title: '5xx ratio (5m)',
    description: 'Share of 5xx responses over the last 5 minutes, all routes and instances (recording rule `' +
      RULES.ratio5xx + '`).',
    unit: 'percentunit',
    width: 6,
    height: 8
  }).decimals(2).thresholds(thresholds(['green', null], ['orange', ERROR_BUDGET_RATIO], ['red', 0.05])),
  [{ expr: sel(RULES.ratio5xx, BY_SERVICE), legend: '{{service}}' }])
}

export function ratio4xxRecorded (): stat.PanelBuilder {
  return withTargets(statPanel({
    id: 302,
    title: '4xx ratio (5m)',
    description: 'Share of 4xx responses over the last 5 minutes, all routes and instances (recording rule `' +
      RULES.ratio4xx + '`). Item misses (404) and bad input (400) land here; a jump means clients changed, ' +
      'not that the service broke.',
    unit: 'percentunit',
    width: 6,
    height: 8
  }).decimals(2).thresholds(thresholds(['blue', null])),
  [{ expr: sel(RULES.ratio4xx, BY_SERVICE), legend: '{{service}}' }])
}

export function errorRatios (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 303,
    title: '5xx and 4xx ratio',
    description: 'Share of 5xx and of 4xx among the selected responses, windowed over $__rate_interval (0 while ' +
      'no such response was ever counted).',
    unit: 'percentunit'
  }), [
    { expr: share('5..'), legend: '5xx' },
    { expr: share('4..'), legend: '4xx' }
  ])
}

export function serverErrorsByRoute (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 304,
    title: '5xx/s by route and status',
    description: 'Server errors per second by route and status code. /demo/random-status and /demo/error fail on ' +
      'purpose; 503 on /items routes means Redis was unavailable.',
    unit: 'reqps',
    width: 12
  }), [{
    expr: sumBy(['route', 'status_code'], rate(sel(M.requests, BY_INSTANCE, BY_ROUTE, 'status_code=~"5.."'))),
    legend: '{{route}} {{status_code}}'
  }]).noValue('0')
}

export function clientErrorsByRoute (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 305,
    title: '4xx/s by route and status',
    description: 'Client errors per second by route and status code (404 item misses, 400 validation, 429 demo).',
    unit: 'reqps',
    width: 12
  }), [{
    expr: sumBy(['route', 'status_code'], rate(sel(M.requests, BY_INSTANCE, BY_ROUTE, 'status_code=~"4.."'))),
    legend: '{{route}} {{status_code}}'
  }]).noValue('0')
}

export function sloErrorBurn (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 306,
    title: 'API 5xx ratio vs SLO (5m, 1h)',
    description: 'Share of 5xx among API requests (route !~ /demo/.*) over 5 minutes and 1 hour (recording rules `' +
      RULES.sloErrors5m + '`, `' + RULES.sloErrors1h + '`). Dashed lines: the 0.1% error budget of the 99.9% ' +
      'availability SLO (above it the budget is spent faster than it accrues) and 14.4 times it, where both ' +
      'windows together page (FastifyErrorBudgetBurn, critical).',
    unit: 'percentunit',
    width: 24
  }).thresholds(thresholds(['green', null], ['orange', ERROR_BUDGET_RATIO], ['red', FAST_BURN * ERROR_BUDGET_RATIO]))
    .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed)),
  [
    { expr: sel(RULES.sloErrors5m, BY_SERVICE), legend: '5m {{service}}' },
    { expr: sel(RULES.sloErrors1h, BY_SERVICE), legend: '1h {{service}}' }
  ])
}

/** The Errors row. */
export function errorsRow (): Row {
  return row(300, 'Errors', [
    ratio5xxRecorded(), ratio4xxRecorded(), errorRatios(), serverErrorsByRoute(), clientErrorsByRoute(), sloErrorBurn()
  ])
}
