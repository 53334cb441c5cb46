/**
 * Pipeline: is the measurement itself healthy? The service sends StatsD over UDP, which never
 * reports a loss to the sender, so losses and rejects are only visible here, in statsd_exporter's
 * own counters and in Prometheus's `up`. Kernel drops at a full socket buffer happen before the
 * exporter reads a packet and appear in no counter: compare lines/s with the request rate.
 */
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline'
import type * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import { DS, timeSeries, upDownMappings, withTargets } from '../kit.js'
import { EXPORTER, EXPORTER_JOB, rate, sel, sumBy } from '../promql.js'
import { row, type Row } from './row.js'

const JOB = `job="${EXPORTER_JOB}"`

export function scrapeTargets (): statetimeline.PanelBuilder {
  return withTargets(new statetimeline.PanelBuilder()
    .id(801)
    .title('Scrape targets up')
    .description('Prometheus scrape health of every target (statsd-exporter, prometheus, alertmanager...). ' +
      'statsd-exporter down means every service panel goes flat, whatever the service does.')
    .datasource(DS)
    .span(12)
    .height(8)
    .mappings(upDownMappings()),
  [{ expr: 'up', legend: '{{job}} {{instance}}' }])
}

export function udpPackets (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 802,
    title: 'UDP packets and drops/s',
    description: 'Datagrams statsd_exporter read from its UDP socket, and datagrams it read but dropped because its ' +
      'internal packet queue was full (--statsd.udp-packet-queue-size).',
    unit: 'pps'
  }), [
    { expr: sumBy([], rate(sel(EXPORTER.udpPackets, JOB))), legend: 'packets' },
    { expr: sumBy([], rate(sel(EXPORTER.udpDrops, JOB))), legend: 'dropped' }
  ])
}

export function linesAndSamples (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 803,
    title: 'StatsD lines and samples/s',
    description: 'StatsD lines parsed and samples they carried (a multi-value or sampled line is several samples). ' +
      'Lines/s should follow requests/s (about two lines per response plus cache and Redis lines).',
    unit: 'ops'
  }), [
    { expr: sumBy([], rate(sel(EXPORTER.lines, JOB))), legend: 'lines' },
    { expr: sumBy([], rate(sel(EXPORTER.samples, JOB))), legend: 'samples' }
  ])
}

export function parseErrors (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 804,
    title: 'Sample and tag errors/s',
    description: 'Lines the exporter could not parse, by reason, and DogStatsD tags it could not parse. Anything ' +
      'above 0 means a sender is broken and its metrics are missing from this dashboard.',
    unit: 'ops'
  }), [
    { expr: sumBy(['reason'], rate(sel(EXPORTER.sampleErrors, JOB))), legend: 'sample error: {{reason}}' },
    { expr: sumBy([], rate(sel(EXPORTER.tagErrors, JOB))), legend: 'tag errors' }
  ]).noValue('0')
}

export function mappingEvents (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 805,
    title: 'Mapping: conflicts, unmapped and actions/s',
    description: 'Events whose name is already used by a metric of another type (conflicts, dropped), events no ' +
      'mapping matched, and events by mapping action (map, drop by the catch-all rule).',
    unit: 'ops'
  }), [
    { expr: sumBy(['type'], rate(sel(EXPORTER.conflicts, JOB))), legend: 'conflict: {{type}}' },
    { expr: sumBy([], rate(sel(EXPORTER.unmapped, JOB))), legend: 'unmapped' },
    { expr: sumBy(['action'], rate(sel(EXPORTER.actions, JOB))), legend: 'action: {{action}}' }
  ]).noValue('0')
}

export function exporterSeries (): timeseries.PanelBuilder {
  return withTargets(timeSeries({
    id: 806,
    title: 'Metrics held by the exporter',
    description: 'Metric vectors statsd_exporter holds, by type. A steady climb means a label with an open set ' +
      'of values (cardinality leak).',
    unit: 'short'
  }), [{ expr: sumBy(['type'], sel(EXPORTER.metrics, JOB)), legend: '{{type}}' }])
}

/** The Pipeline row. */
export function pipelineRow (): Row {
  return row(800, 'Pipeline', [scrapeTargets(), udpPackets(), linesAndSamples(), parseErrors(), mappingEvents(), exporterSeries()])
}
