/**
 * Cache: item lookups (`GET /items/:key`) by result. A miss is an answer (404), not a failure.
 */
import type * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import { timeSeries, withTargets } from '../kit.js'
import { BY_INSTANCE, M, RULES, rate, ratio, sel, sumBy } from '../promql.js'
import { row, type Row } from './row.js'

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
    { expr: RULES.cacheHitRatio, legend: 'hit ratio 5m {{service}}' }
  ])
}

export function lookupsByResult (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 502,
    title: 'Cache hits and misses/s',
    description: 'Item lookups per second by result (hit, miss) for the selected instances.',
    unit: 'ops'
  }), [{ expr: sumBy(['result'], rate(lookups)), legend: '{{result}}' }])
}

/** The Cache row. */
export function cacheRow (): Row {
  return row(500, 'Cache', [hitRatio(), lookupsByResult()])
}
