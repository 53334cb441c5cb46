/**
 * The plugin's options and metric declarations are checked up front, with errors that name the
 * option or the metric and field; the typed recorder sends declared metrics through the sink with
 * their tags, and keeps a value outside a tag's set out.
 */
import Fastify from 'fastify'
import t from 'tap'
import statsdRed, { defineMetrics, recorder, renderMapping, type MetricsSink } from 'fastify-statsd-red'
import { noopSink } from '../helpers/noop-sink.js'

t.test('a bad option stops the registration, naming the option', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ port: 0 }, /option port must be an integer from 1 to 65535, got 0/],
    [{ port: '9125' }, /option port must be an integer/],
    [{ host: '' }, /option host must be a non-empty string/],
    [{ service: 'a,b' }, /option service must be a non-empty string without/],
    [{ instance: 'a b' }, /option instance must be/],
    [{ tags: { service: 'x' } }, /option tags must not set service/],
    [{ tags: { 'bad-name': 'x' } }, /option tags has a key that is not a Prometheus label name/],
    [{ tags: { region: 'eu|west' } }, /option tags.region must be/],
    [{ flushIntervalMs: 0 }, /option flushIntervalMs must be an integer from 1/],
    [{ maxDatagramBytes: 64 }, /option maxDatagramBytes must be an integer from 128 to 65507, got 64/],
    [{ runtimeIntervalMs: -1 }, /option runtimeIntervalMs must be an integer from 0/],
    [{ excludeRoutes: '/health' }, /option excludeRoutes must be an array/],
    [{ logger: {} }, /option logger must have a warn\(\) method/],
    [{ onError: 'log' }, /option onError must be a function/],
    [{ http: 'yes' }, /option http must be a boolean/]
  ]
  for (const [options, message] of cases) {
    const app = Fastify()
    app.register(statsdRed, options)
    await t.rejects(async () => { await app.ready() }, message, JSON.stringify(options))
    await app.close()
  }
})

t.test('a bad declaration throws, naming the metric and the field', async (t) => {
  const base = { statsd: 'jobs.done', type: 'counter', tags: {}, prometheus: 'jobs_done_total', unit: 'jobs', help: 'Jobs done.' } as const
  t.throws(() => defineMetrics({ jobs: { ...base, prometheus: 'jobs_done' } }), /metric jobs: prometheus of a counter must end in _total/)
  t.throws(() => defineMetrics({ jobs: { ...base, type: 'timer', prometheus: 'jobs_seconds' } }), /metric jobs: buckets \(seconds\) are required for a timer/)
  t.throws(() => defineMetrics({ jobs: { ...base, statsd: 'jobs done' } }), /metric jobs: statsd must match/)
  t.throws(() => defineMetrics({ jobs: { ...base, tags: { kind: [] } } }), /metric jobs: tag kind needs at least one value/)
  t.throws(() => defineMetrics({ jobs: { ...base, tags: { kind: ['a:b'] } } }), /metric jobs: tag kind value "a:b"/)
  t.throws(() => renderMapping(defineMetrics({ dup: { ...base, statsd: 'http.requests', prometheus: 'dup_total' } })), /two metrics are named http.requests/)
})

t.test('the recorder sends declared metrics through the sink, one series per tag set', async (t) => {
  const series: string[] = []
  const recorded: string[] = []
  const sink: MetricsSink = {
    ...noopSink(),
    series: (metric, tags) => {
      series.push(`${metric.statsd}|${tags.join(',')}`)
      return { record: (value) => { recorded.push(`${metric.statsd}|${tags.join(',')}=${value}`) } }
    }
  }
  const metrics = defineMetrics({
    jobs: { statsd: 'jobs.done', type: 'counter', tags: { kind: ['a', 'b'], result: ['ok', 'failed'] }, prometheus: 'jobs_done_total', unit: 'jobs', help: 'Jobs done.' },
    wait: { statsd: 'jobs.wait', type: 'timer', tags: {}, prometheus: 'jobs_wait_seconds', unit: 'seconds', help: 'Wait.', buckets: [0.1, 1] },
    depth: { statsd: 'jobs.depth', type: 'gauge', tags: { kind: ['a', 'b'] }, prometheus: 'jobs_depth', unit: 'jobs', help: 'Depth.' }
  })
  const errors: string[] = []
  const rec = recorder(sink, metrics, (err) => errors.push(err.message))
  rec.jobs.add({ kind: 'a', result: 'ok' })
  rec.jobs.add({ kind: 'a', result: 'ok' }, 2)
  rec.jobs.add({ kind: 'b', result: 'failed' })
  rec.wait.observe({}, 12.5)
  rec.depth.set({ kind: 'b' }, 7)
  rec.jobs.add({ kind: 'c', result: 'ok' } as unknown as { kind: 'a', result: 'ok' })
  t.same(series, ['jobs.done|kind:a,result:ok', 'jobs.done|kind:b,result:failed', 'jobs.wait|', 'jobs.depth|kind:b'], 'one series per tag set, built once')
  t.same(recorded, ['jobs.done|kind:a,result:ok=1', 'jobs.done|kind:a,result:ok=2', 'jobs.done|kind:b,result:failed=1', 'jobs.wait|=12.5', 'jobs.depth|kind:b=7'])
  t.same(errors, ['metric jobs.done: tag kind value "c" is not in its declared set; measurement dropped'])
})
