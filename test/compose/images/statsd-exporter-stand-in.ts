/**
 * Entry point of the statsd-exporter stand-in image (test/compose/images/statsd-stand-in.ts builds
 * it): the project's exporter stand-in (test/helpers/exporter-stand-in.ts) on the ports
 * docker-compose.yml gives statsd_exporter, UDP 9125 for StatsD and HTTP 9102 for /metrics and
 * /-/healthy, on every interface of the container. Runs until SIGTERM (compose stop).
 */
import { startExporterStandIn } from '../../helpers/exporter-stand-in.js'

const closers: Array<() => unknown> = []
await startExporterStandIn({ teardown: (fn) => { closers.push(fn) } }, { host: '0.0.0.0', udpPort: 9125, httpPort: 9102 })
console.log('statsd-exporter STAND-IN (not prom/statsd-exporter): StatsD on udp/9125, /metrics on :9102')
process.once('SIGTERM', () => {
  Promise.all(closers.map((fn) => fn())).then(() => process.exit(0), () => process.exit(1))
})
