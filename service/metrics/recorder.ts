import { recorder, type MetricsSink, type Recorder } from 'fastify-statsd-red'
import { SERVICE_METRICS } from './catalogue.js'

/** The typed recorder of the service's declared metrics. */
export type ServiceRecorder = Recorder<typeof SERVICE_METRICS>

/** The service's declared metrics, recorded through the plugin's sink (`fastify.metrics`). */
export function serviceRecorder (sink: MetricsSink): ServiceRecorder {
  return recorder(sink, SERVICE_METRICS)
}
