/**
 * Cache: item lookups (`GET /items/:key`) by result. A miss is an answer (404), not a failure.
 * The metric is one this project's service declares, not the plugin's: for another app the
 * panels say so instead of an empty "No data".
 */
import type * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import { timeSeries, withTargets } from '../kit.js'
import { BY_INSTANCE, BY_SERVICE, M, RULES, rate, ratio, sel, sumBy } from '../promql.js'
import { row, type Row } from './row.js'

/** What a cache panel shows without data: the metric is app-specific. */
export const NO_CACHE_DATA = `No data: needs ${M.cacheLookups} (declared by the example service, not the plugin)`

const lookups = sel(M.cacheLookups, BY_INSTANCE)

export function hitRatio (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 501,
    title: 'Cache hit ratio',
    description: 'hit / (hit + miss) for the selected instances over $__rate_interval, and the 5-minute ratio of the ' +
      'whole service (recording rule `' + RULES.cacheHitRatio + '`).',
    unit: 'percentunit'
  }).max(1), [
    {
      expr: ratio(sumBy([], rate(sel(M.cacheLookups, BY_INSTANCE, 'result="hit"'))), sumBy([], rate(lookups))),
      legend: 'hit ratio'
    },
    { expr: sel(RULES.cacheHitRatio, BY_SERVICE), legend: 'hit ratio 5m {{service}}' }
  ]).noValue(NO_CACHE_DATA)
}

export function lookupsByResult (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 502,
    title: 'Cache hits and misses/s',
    description: 'Item lookups per second by result (hit, miss) for the selected instances.',
    unit: 'ops'
  }), [{ expr: sumBy(['result'], rate(lookups)), legend: '{{result}}' }]).noValue(NO_CACHE_DATA)
}

/** The Cache row. */
export function cacheRow (): Row {
  return row(500, 'Cache', [hitRatio(), lookupsByResult()])
}
