/**
 * Duration: latency from the `http_request_duration_seconds` histogram (Fastify's
 * reply.elapsedTime, sent in ms, observed in seconds by statsd_exporter). Quantiles are
 * estimated from buckets, so they are only as precise as the bucket bounds around them; the
 * 0.1 s objective is a bucket bound, so the SLO panel is exact.
 */
import * as common from '@grafana/grafana-foundation-sdk/common'
import * as heatmap from '@grafana/grafana-foundation-sdk/heatmap'
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus'
import type * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import { LATENCY_OBJECTIVE_SECONDS } from '../../../service/metrics/catalogue.js'
import { DS, thresholds, timeSeries, withTargets } from '../kit.js'
import { BY_INSTANCE, BY_ROUTE, BY_SERVICE, FAST_BURN, M, RULES, SLOW_BUDGET_RATIO, quantile, rate, sel, sumBy } from '../promql.js'
import { row, type Row } from './row.js'

const bucket = sel(`${M.duration}_bucket`, BY_INSTANCE, BY_ROUTE)
const sum = sel(`${M.duration}_sum`, BY_INSTANCE, BY_ROUTE)
const count = sel(`${M.duration}_count`, BY_INSTANCE, BY_ROUTE)

export function latencyPercentiles (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 401,
    title: 'Latency p50 / p90 / p99 and average',
    description: 'Request duration across the selected instances and routes: quantiles estimated from the ' +
      'histogram buckets, and the mean (sum / count). The dashed line is the 100 ms objective.',
    unit: 's'
  }).thresholds(thresholds(['green', null], ['red', LATENCY_OBJECTIVE_SECONDS]))
    .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed)),
  [
    { expr: quantile(0.5, bucket), legend: 'p50' },
    { expr: quantile(0.9, bucket), legend: 'p90' },
    { expr: quantile(0.99, bucket), legend: 'p99' },
    { expr: `${sumBy([], rate(sum))} / ${sumBy([], rate(count))}`, legend: 'average' }
  ])
}

export function p99ByRoute (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 402,
    title: 'Latency p99 by route',
    description: '99th percentile of request duration by route. /demo/io, /demo/cpu and /demo/random-latency are ' +
      'slow on purpose.',
    unit: 's'
  }), [{ expr: quantile(0.99, bucket, ['route']), legend: '{{route}}' }])
}

export function averageByRoute (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 403,
    title: 'Average latency by route',
    description: 'Mean request duration by route (rate of _sum / rate of _count). The mean hides tails: read it ' +
      'next to p99.',
    unit: 's'
  }), [{ expr: `${sumBy(['route'], rate(sum))} / ${sumBy(['route'], rate(count))}`, legend: '{{route}}' }])
}

export function latencyHeatmap (): heatmap.PanelBuilder {
  return withTargets(new heatmap.PanelBuilder()
    .id(404)
    .title('Latency distribution (histogram buckets)')
    .description('Requests per second in each duration bucket over time (selected instances and routes). Bands ' +
      'above 0.1 s are requests that missed the objective.')
    .datasource(DS)
    .span(12)
    .height(8)
    .calculate(false)
    .yAxis(new heatmap.YAxisConfigBuilder().unit('s'))
    .color(new heatmap.HeatmapColorOptionsBuilder()
      .mode(heatmap.HeatmapColorMode.Scheme)
      .scheme('Oranges')
      .scale(heatmap.HeatmapColorScale.Exponential)
      .exponent(0.5)
      .steps(64))
    .cellGap(1)
    .showLegend(),
  [{ expr: sumBy(['le'], rate(bucket)), legend: '{{le}}', format: prometheus.PromQueryFormat.Heatmap }])
}

export function recordedRouteQuantiles (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 405,
    title: 'Route latency p50 / p90 / p99 (5m, recorded)',
    description: 'Per-route quantiles over 5 minutes, all instances (recording rules `' + RULES.p50 + '`, `:p90_rate5m`, ' +
      '`:p99_rate5m`). Smoother than the panels above and cheap to load over long ranges.',
    unit: 's'
  }), [
    { expr: sel(RULES.p50, BY_SERVICE, BY_ROUTE), legend: 'p50 {{route}}' },
    { expr: sel(RULES.p90, BY_SERVICE, BY_ROUTE), legend: 'p90 {{route}}' },
    { expr: sel(RULES.p99, BY_SERVICE, BY_ROUTE), legend: 'p99 {{route}}' }
  ])
}

export function sloSlowBurn (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 406,
    title: 'API requests slower than 100 ms vs SLO (5m, 1h)',
    description: 'Share of API requests (route !~ /demo/.*) slower than 0.1 s over 5 minutes and 1 hour (recording ' +
      'rules `' + RULES.sloSlow5m + '`, `' + RULES.sloSlow1h + '`). Dashed lines: the 1% budget of the 99% ' +
      'latency SLO and 14.4 times it, where both windows together page (FastifyLatencyBudgetBurn, critical).',
    unit: 'percentunit'
  }).thresholds(thresholds(['green', null], ['orange', SLOW_BUDGET_RATIO], ['red', FAST_BURN * SLOW_BUDGET_RATIO]))
    .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed)),
  [
    { expr: sel(RULES.sloSlow5m, BY_SERVICE), legend: '5m {{service}}' },
    { expr: sel(RULES.sloSlow1h, BY_SERVICE), legend: '1h {{service}}' }
  ])
}

/** The Duration row. */
export function durationRow (): Row {
  return row(400, 'Duration', [
    latencyPercentiles(), p99ByRoute(), averageByRoute(), latencyHeatmap(), recordedRouteQuantiles(), sloSlowBurn()
  ])
}
