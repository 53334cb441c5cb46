import type { MetricsSink } from 'fastify-statsd-red'

/** A {@link MetricsSink} that records nothing; spread it and override what a test observes. */
export function noopSink (): MetricsSink {
  return {
    response () {},
    aborted () {},
    series: () => ({ record () {} }),
    gauge () {},
    cpuSeconds () {},
    info () {},
    flush: async () => {},
    close: async () => {}
  }
}
