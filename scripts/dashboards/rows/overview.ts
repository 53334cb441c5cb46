/**
 * Overview: the service at a glance from recording rules (cheap to evaluate on every refresh),
 * and the alert state from Prometheus.
 */
import * as common from '@grafana/grafana-foundation-sdk/common'
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus'
import * as stat from '@grafana/grafana-foundation-sdk/stat'
import * as table from '@grafana/grafana-foundation-sdk/table'
import { AlertListPanelBuilder } from '../alertlist.js'
import { DS, PROMETHEUS_NAME, statPanel, thresholds, withTargets } from '../kit.js'
import { BY_SERVICE, ERROR_BUDGET_RATIO, FAST_BURN, OWN_ALERTS, RULES, SLOW_BUDGET_RATIO, sel } from '../promql.js'
import { row, type Row } from './row.js'
import { NO_CACHE_DATA } from './cache.js'

export function requestRate (): stat.PanelBuilder {
  return withTargets(statPanel({
    id: 101,
    title: 'Requests/s (5m)',
    description: 'Responses per second over the last 5 minutes, all routes and instances (recording rule `' +
      RULES.requestsRate + '`). Not filtered by the instance/route variables.',
    unit: 'reqps'
  }), [{ expr: sel(RULES.requestsRate, BY_SERVICE), legend: '{{service}}' }])
}

export function errorRatio (): stat.PanelBuilder {
  return withTargets(statPanel({
    id: 102,
    title: '5xx ratio (5m)',
    description: 'Share of responses that were 5xx over the last 5 minutes, all routes including the noisy ' +
      '/demo routes (recording rule `' + RULES.ratio5xx + '`). 4xx are not errors.',
    unit: 'percentunit'
  }).decimals(2).thresholds(thresholds(['green', null], ['orange', ERROR_BUDGET_RATIO], ['red', 0.05])),
  [{ expr: sel(RULES.ratio5xx, BY_SERVICE), legend: '{{service}}' }])
}

export function sloErrorRatio (): stat.PanelBuilder {
  return withTargets(statPanel({
    id: 103,
    title: 'API 5xx ratio, 1h (SLO 99.9%)',
    description: 'Share of 5xx among API requests (route !~ /demo/.*) over the last hour (recording rule `' +
      RULES.sloErrors1h + '`). Orange above the 0.1% error budget, red from 14.4 times it (the paging burn rate).',
    unit: 'percentunit'
  }).decimals(3).thresholds(thresholds(['green', null], ['orange', ERROR_BUDGET_RATIO], ['red', FAST_BURN * ERROR_BUDGET_RATIO])),
  [{ expr: sel(RULES.sloErrors1h, BY_SERVICE), legend: '{{service}}' }])
}

export function sloSlowRatio (): stat.PanelBuilder {
  return withTargets(statPanel({
    id: 104,
    title: 'API slower than 100 ms, 1h (SLO 99%)',
    description: 'Share of API requests (route !~ /demo/.*) slower than the 0.1 s objective over the last hour ' +
      '(recording rule `' + RULES.sloSlow1h + '`). Orange above the 1% budget, red from 14.4 times it.',
    unit: 'percentunit'
  }).decimals(2).thresholds(thresholds(['green', null], ['orange', SLOW_BUDGET_RATIO], ['red', FAST_BURN * SLOW_BUDGET_RATIO])),
  [{ expr: sel(RULES.sloSlow1h, BY_SERVICE), legend: '{{service}}' }])
}

export function cacheHitRatio (): stat.PanelBuilder {
  return withTargets(statPanel({
    id: 105,
    title: 'Cache hit ratio (5m)',
    description: 'Item lookups that found the key, hit / (hit + miss), over the last 5 minutes (recording rule `' +
      RULES.cacheHitRatio + '`). A low ratio is a property of the traffic, not an error.',
    unit: 'percentunit'
  }).decimals(1).thresholds(thresholds(['blue', null])),
  [{ expr: sel(RULES.cacheHitRatio, BY_SERVICE), legend: '{{service}}' }]).noValue(NO_CACHE_DATA)
}

export function firingAlerts (): stat.PanelBuilder {
  return withTargets(statPanel({
    id: 106,
    title: 'Alerts firing',
    description: 'Number of this service\'s Prometheus alerts firing now (ALERTS{alertstate="firing"}, only the ' +
      'alert names of etc/prometheus/rules/alerts.yml, so a shared Prometheus\'s other alerts are not counted). ' +
      '`or vector(0)` shows 0 instead of "No data" when nothing fires, because ALERTS has no series then.',
    unit: 'short'
  }).graphMode(common.BigValueGraphMode.None).colorMode(common.BigValueColorMode.Background)
    .thresholds(thresholds(['green', null], ['red', 1])),
  [{ expr: `count(ALERTS{alertstate="firing",${OWN_ALERTS}}) or vector(0)`, legend: 'firing' }])
}

export function alertList (): AlertListPanelBuilder {
  return new AlertListPanelBuilder({
    viewMode: 'list',
    groupMode: 'default',
    groupBy: [],
    maxItems: 20,
    sortOrder: 3,
    dashboardAlerts: false,
    alertName: '',
    alertInstanceLabelFilter: '',
    datasource: PROMETHEUS_NAME,
    showInactiveAlerts: false,
    stateFilter: { firing: true, pending: true, recovering: true, noData: false, normal: false, error: true }
  })
    .id(107)
    .title('Alert rules (Prometheus)')
    .description('Firing and pending alerts of the Prometheus alerting rules, read by Grafana from the ' +
      'Prometheus datasource (datasource-managed rules, sorted by importance).')
    .span(12)
    .height(8)
}

/** What the ALERTS table shows while no alert fires (instead of Grafana's "No data"). */
export const NO_ALERTS_FIRING = 'No alerts firing'

export function firingAlertsTable (): table.PanelBuilder {
  return withTargets(new table.PanelBuilder()
    .id(108)
    .title('Alerts firing (ALERTS)')
    .description('Every firing alert of this service with its labels, straight from the ALERTS series Prometheus ' +
      'writes while evaluating alerting rules (only the alert names of etc/prometheus/rules/alerts.yml). Works ' +
      'without Grafana alerting. ALERTS has no series while nothing fires, so the table says so instead of "No data".')
    .datasource(DS)
    .noValue(NO_ALERTS_FIRING)
    .span(12)
    .height(8)
    .withTransformation({
      id: 'organize',
      options: { excludeByName: { Time: true, Value: true, __name__: true, alertstate: true } }
    }),
  [{ expr: `ALERTS{alertstate="firing",${OWN_ALERTS}}`, instant: true, format: prometheus.PromQueryFormat.Table }])
}

/** The Overview row. */
export function overviewRow (): Row {
  return row(100, 'Overview', [
    requestRate(), errorRatio(), sloErrorRatio(), sloSlowRatio(), cacheHitRatio(), firingAlerts(),
    alertList(), firingAlertsTable()
  ])
}
