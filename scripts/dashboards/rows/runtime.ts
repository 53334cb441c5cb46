/**
 * Runtime: the Node.js process behind the numbers. Gauges are sampled by the service every
 * RUNTIME_METRICS_INTERVAL_MS (5 s) and kept by statsd_exporter until the next sample.
 */
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus'
import * as table from '@grafana/grafana-foundation-sdk/table'
import type * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import { DS, timeSeries, withTargets } from '../kit.js'
import { BY_INSTANCE, BY_ROUTE, FROM_SERVICE, M, rate, sel, sumBy } from '../promql.js'
import { row, type Row } from './row.js'

export function eventLoopDelay (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 701,
    title: 'Event-loop delay',
    description: 'How late timers fire, per instance: median, p99 and max over each sampling interval ' +
      '(perf_hooks.monitorEventLoopDelay). Growing delay means CPU-bound work is blocking every request.',
    unit: 's'
  }), [
    { expr: sel(M.loopDelayP50, BY_INSTANCE), legend: 'p50 {{instance}}' },
    { expr: sel(M.loopDelayP99, BY_INSTANCE), legend: 'p99 {{instance}}' },
    { expr: sel(M.loopDelayMax, BY_INSTANCE), legend: 'max {{instance}}' }
  ])
}

export function eventLoopUtilization (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 702,
    title: 'Event-loop utilization',
    description: 'Share of time the event loop was busy, per instance (0..1). Near 1 the process is saturated; ' +
      '@fastify/under-pressure starts answering 503 there.',
    unit: 'percentunit'
  }).max(1), [{ expr: sel(M.loopUtilization, BY_INSTANCE), legend: '{{instance}}' }])
}

export function memory (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 703,
    title: 'Memory: heap used and RSS',
    description: 'V8 heap in use and resident set size, per instance. RSS growing while heap is flat points at ' +
      'native memory (buffers); both growing without bound is a leak.',
    unit: 'bytes'
  }), [
    { expr: sel(M.heapUsed, BY_INSTANCE), legend: 'heap {{instance}}' },
    { expr: sel(M.rss, FROM_SERVICE, BY_INSTANCE), legend: 'rss {{instance}}' }
  ])
}

export function cpu (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 704,
    title: 'CPU (cores)',
    description: 'CPU time per second of wall time, per instance (rate of process_cpu_seconds_total): 1 = one full ' +
      'core. A Node.js process runs JavaScript on one core, so near 1 it is CPU-bound.',
    unit: 'short'
  }), [{ expr: sumBy(['instance'], rate(sel(M.cpu, FROM_SERVICE, BY_INSTANCE))), legend: '{{instance}}' }])
}

export function inFlight (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 705,
    title: 'In-flight requests',
    description: 'Requests received and not yet answered, per instance, sampled at each metrics flush.',
    unit: 'short'
  }), [{ expr: sel(M.inFlight, BY_INSTANCE), legend: '{{instance}}' }])
}

export function aborted (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 706,
    title: 'Aborted requests/s by route',
    description: 'Requests whose client went away before the response, by route. Clients timing out on slow ' +
      'routes show up here before they show up as errors.',
    unit: 'reqps'
  }), [{ expr: sumBy(['route'], rate(sel(M.aborted, BY_INSTANCE, BY_ROUTE))), legend: '{{route}}' }]).noValue('0')
}

export function instances (): table.PanelBuilder {
  return withTargets(new table.PanelBuilder()
    .id(707)
    .title('Instances')
    .description('Every instance reporting, with its service version and Node.js version (service_info).')
    .datasource(DS)
    .span(12)
    .height(8)
    .withTransformation({
      id: 'organize',
      options: { excludeByName: { Time: true, Value: true } }
    }),
  [{
    expr: `max by (service, instance, version, node_version) (${sel(M.info, BY_INSTANCE)})`,
    instant: true,
    format: prometheus.PromQueryFormat.Table
  }])
}

/** The Runtime row. */
export function runtimeRow (): Row {
  return row(700, 'Runtime', [eventLoopDelay(), eventLoopUtilization(), memory(), cpu(), inFlight(), aborted(), instances()])
}
