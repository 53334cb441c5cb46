/**
 * Dashboard variables: the Prometheus datasource (default: the provisioned uid), the services
 * (every app that runs the plugin), their instances, and the routes. Service, instance and route
 * are multi-value with "All" = `.*`, so every panel can use `=~"$var"` whatever is selected.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import { DATASOURCE_VARIABLE, DS, PROMETHEUS_NAME, PROMETHEUS_UID } from './kit.js'
import { M } from './promql.js'

/** The Prometheus datasource to read from; defaults to the provisioned one. */
export function datasourceVariable (): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder(DATASOURCE_VARIABLE)
    .label('Data source')
    .type('prometheus')
    .current({ selected: true, text: PROMETHEUS_NAME, value: PROMETHEUS_UID })
}

/** A multi-value query variable over `label_values(...)`, "All" meaning any value. */
function labelValues (name: string, label: string, query: string): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(DS)
    .query({ qryType: 1, query, refId: 'PrometheusVariableQueryEditor-VariableQuery' })
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ selected: true, text: 'All', value: '$__all' })
}

/**
 * Services: the `service` label every app running the plugin sends (its `service` option), read
 * from a runtime gauge every instance sends every few seconds.
 */
export function serviceVariable (): dashboard.QueryVariableBuilder {
  return labelValues('service', 'Service', `label_values(${M.heapUsed}, service)`)
}

/**
 * Instances of the selected services. Read from a runtime gauge every instance sends every few seconds, so an
 * idle instance is listed too, and never from a `process_*` name that statsd_exporter's and
 * Prometheus's own process metrics share.
 */
export function instanceVariable (): dashboard.QueryVariableBuilder {
  return labelValues('instance', 'Instance', `label_values(${M.heapUsed}{service=~"$service"}, instance)`)
}

/** Route templates that served the selected instances. */
export function routeVariable (): dashboard.QueryVariableBuilder {
  return labelValues('route', 'Route', `label_values(${M.requests}{service=~"$service", instance=~"$instance"}, route)`)
}
