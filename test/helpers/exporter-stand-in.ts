import { createServer } from 'node:http'
import { parse } from 'yaml'
import { ALL_METRICS, type MetricDefinition } from '../../service/metrics/catalogue.js'
import { ExporterRegistry, parseLabels } from '../fixtures/exposition.js'
import { udpListener } from './udp.js'
import type { TestLike } from './redis.js'

/** A stand-in for statsd_exporter: a real UDP socket in, a real /metrics page out. */
export interface ExporterStandIn {
  /** UDP port to point the service's STATSD_PORT at. */
  readonly udpPort: number
  /** `127.0.0.1:port` of the HTTP server serving /metrics, a Prometheus scrape target. */
  readonly target: string
  /** The page as served now. */
  render (): string
  /** Sum of `http_requests_total` over the series whose labels satisfy `where`. */
  requests (where?: (labels: Record<string, string>) => boolean): number
}

/** Where the stand-in listens: free ports on 127.0.0.1 unless given (a container binds 0.0.0.0). */
export interface ExporterStandInOptions {
  host?: string
  udpPort?: number
  httpPort?: number
  /**
   * A statsd_exporter mapping file's text to map through instead of the project's catalogue
   * (an adopter's generated mapping: exact-name rules with `match_metric_type`, as
   * `renderMapping` writes them).
   */
  mapping?: string
}

/** The metrics a generated mapping file maps: one per exact-name rule, the catch-all drop left out. */
function metricsOfMapping (text: string): MetricDefinition[] {
  const TYPES = { counter: 'counter', observer: 'timer', gauge: 'gauge' } as const
  const rules = (parse(text) as { mappings: Array<{ match: string, match_type?: string, match_metric_type?: keyof typeof TYPES, action?: string, name: string, help?: string, histogram_options?: { buckets?: number[] } }> }).mappings
  return rules.filter((r) => r.action !== 'drop' && r.match_type !== 'regex' && r.match_metric_type !== undefined).map((r) => {
    const type = TYPES[r.match_metric_type as keyof typeof TYPES]
    return {
      statsd: r.match,
      type,
      tags: [],
      prometheus: r.name,
      prometheusType: type === 'timer' ? 'histogram' : type,
      unit: '',
      help: r.help ?? '',
      buckets: r.histogram_options?.buckets
    }
  })
}

const STATSD_TYPES: Record<MetricDefinition['type'], string> = { counter: 'c', gauge: 'g', timer: 'ms' }

/**
 * Starts a stand-in for statsd_exporter 0.27.2 where the real one is not installable: it
 * receives the service's DogStatsD lines on a UDP socket, maps them through the metric
 * catalogue (the source `etc/statsd/mapping.yml` is generated from; test/metrics/mapping.test.ts
 * checks the two agree), or through the generated mapping file given as `mapping`, and serves the result at `/metrics` in the exporter's own text format,
 * byte for byte ({@link ExporterRegistry}, checked against the real exporter's page by
 * test/etc/query.test.ts). As in the exporter: tags become labels, counters add, gauges keep the
 * last value, a timer line observes each value in seconds (ms / 1000), unknown names and wrong
 * types are dropped. Sample rates are not handled: the service never sends them.
 * `/-/healthy` answers 200, as the exporter's does (compose's healthcheck asks it).
 * Both sockets close at teardown.
 */
export async function startExporterStandIn (t: TestLike, opts: ExporterStandInOptions = {}): Promise<ExporterStandIn> {
  const host = opts.host ?? '127.0.0.1'
  const registry = new ExporterRegistry()
  const metrics = opts.mapping === undefined ? ALL_METRICS : metricsOfMapping(opts.mapping)
  const byName = new Map(metrics.map((m) => [`${m.statsd}|${STATSD_TYPES[m.type]}`, m]))
  let consumed = 0
  const udp = await udpListener(t, opts.udpPort ?? 0, undefined, host)

  // Lines are taken in arrival order, each once, whenever the page or a count is read.
  const ingest = (): void => {
    const lines = udp.lines()
    for (; consumed < lines.length; consumed++) {
      const [head, type, ...rest] = (lines[consumed] ?? '').split('|')
      const [name, ...values] = (head ?? '').split(':')
      const metric = byName.get(`${name}|${type}`)
      if (metric === undefined) continue
      const tags = rest.find((p) => p.startsWith('#'))?.slice(1).split(',') ?? []
      const labels = Object.fromEntries(tags.map((tag) => [tag.slice(0, tag.indexOf(':')), tag.slice(tag.indexOf(':') + 1)]))
      for (const value of values.map(Number)) {
        if (metric.type === 'counter') registry.add(metric.prometheus, metric.help, labels, value)
        else if (metric.type === 'gauge') registry.set(metric.prometheus, metric.help, labels, value)
        else registry.observe(metric.prometheus, metric.help, metric.buckets ?? [], labels, value / 1000)
      }
    }
  }

  const server = createServer((req, res) => {
    ingest()
    if (req.url === '/-/healthy') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('OK\n')
      return
    }
    if (req.url !== '/metrics') {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(registry.render())
  })
  await new Promise<void>((resolve) => server.listen(opts.httpPort ?? 0, host, () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0

  return {
    udpPort: udp.port,
    target: `127.0.0.1:${port}`,
    render: () => { ingest(); return registry.render() },
    requests (where = () => true) {
      ingest()
      let sum = 0
      for (const line of registry.render().split('\n')) {
        const match = /^http_requests_total\{(.*)\} (\S+)$/.exec(line)
        if (match === null) continue
        if (where(parseLabels(match[1] ?? ''))) sum += Number(match[2])
      }
      return sum
    }
  }
}
