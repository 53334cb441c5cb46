/**
 * Redis, as the service sees it: every command's round trip (failed ones included), failures by
 * command, and whether the client holds a ready connection. These metrics are ones this project's
 * service declares, not the plugin's: for another app the panels say so instead of "No data".
 */
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline'
import type * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import { DS, timeSeries, upDownMappings, withTargets } from '../kit.js'
import { BY_INSTANCE, M, quantile, rate, sel, sumBy } from '../promql.js'
import { row, type Row } from './row.js'

/** What a Redis panel shows without data: the metrics are app-specific. */
export const NO_REDIS_DATA = 'No data: needs the redis_* metrics (declared by the example service, not the plugin)'

const bucket = sel(`${M.redisDuration}_bucket`, BY_INSTANCE)

export function commandLatency (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 601,
    title: 'Redis command latency p50 / p99 by command',
    description: 'Round trip of Redis commands measured by the service, by command. Timeouts (REDIS_COMMAND_TIMEOUT_MS) ' +
      'show up here as a p99 near the timeout.',
    unit: 's'
  }), [
    { expr: quantile(0.5, bucket, ['command']), legend: 'p50 {{command}}' },
    { expr: quantile(0.99, bucket, ['command']), legend: 'p99 {{command}}' }
  ]).noValue(NO_REDIS_DATA)
}

export function commandRate (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 602,
    title: 'Redis commands/s by command',
    description: 'Redis commands per second by command (count of the latency histogram).',
    unit: 'ops'
  }), [{ expr: sumBy(['command'], rate(sel(`${M.redisDuration}_count`, BY_INSTANCE))), legend: '{{command}}' }]).noValue(NO_REDIS_DATA)
}

export function commandErrors (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 603,
    title: 'Redis command errors/s by command',
    description: 'Failed Redis commands per second (timeout, connection down, error reply). The series appears with ' +
      'the first failure; "0" before that.',
    unit: 'ops'
  }), [{ expr: sumBy(['command'], rate(sel(M.redisErrors, BY_INSTANCE))), legend: '{{command}}' }]).noValue('0')
}

export function connectionState (): statetimeline.PanelBuilder {
  return withTargets(new statetimeline.PanelBuilder()
    .id(604)
    .title('Redis connection')
    .description('Whether each instance holds a ready Redis connection (redis_connection_up, sampled by the service). ' +
      'Red stretches are outages; /health/ready answers 503 during them.')
    .datasource(DS)
    .span(12)
    .height(8)
    .mappings(upDownMappings())
    .noValue(NO_REDIS_DATA),
  [{ expr: sel(M.redisUp, BY_INSTANCE), legend: '{{instance}}' }])
}

/** The Redis row. */
export function redisRow (): Row {
  return row(600, 'Redis', [commandLatency(), commandRate(), commandErrors(), connectionState()])
}
