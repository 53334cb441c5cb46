import type { MetricsSink } from '../../service/metrics/sink.js'

/** A {@link MetricsSink} that records nothing; spread it and override what a test observes. */
export function noopSink (): MetricsSink {
  return {
    response () {},
    aborted () {},
    cacheLookup () {},
    redisCommand () {},
    gauge () {},
    cpuSeconds () {},
    info () {},
    flush: async () => {},
    close: async () => {}
  }
}
