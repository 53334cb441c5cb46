import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { ALL_METRICS, GLOBAL_TAGS } from '../../service/metrics/catalogue.js'
import { serviceMapping } from '../../scripts/mapping.js'
import { build } from '../helpers/app.js'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'

interface Rule { match: string, match_type?: string, match_metric_type?: string, action?: string, name: string }

const committed = readFileSync(new URL('../../etc/statsd/mapping.yml', import.meta.url), 'utf8')
const rules = (parse(committed) as { mappings: Rule[] }).mappings

/** The specific (non-drop) rule statsd_exporter would apply to a line's name and type, if any. */
function specificRule (name: string, type: string): Rule | undefined {
  const metricType = { c: 'counter', ms: 'observer', g: 'gauge' }[type]
  return rules.find((r) => r.action !== 'drop' && r.match_type !== 'regex' && r.match === name && r.match_metric_type === metricType)
}

t.test('etc/statsd/mapping.yml is what the catalogue generates (run `npm run generate`)', async (t) => {
  t.equal(committed, serviceMapping())
})

t.test('the mapping ends with a catch-all drop and maps each catalogue metric once', async (t) => {
  const last = rules[rules.length - 1]
  t.same({ match: last.match, match_type: last.match_type, action: last.action }, { match: '.', match_type: 'regex', action: 'drop' })
  for (const metric of ALL_METRICS) {
    const matching = rules.filter((r) => r.match === metric.statsd)
    t.equal(matching.length, 1, `${metric.statsd} has exactly one rule`)
    t.equal(matching[0]?.name, metric.prometheus, `${metric.statsd} -> ${metric.prometheus}`)
  }
})

t.test('Prometheus names follow the conventions', async (t) => {
  for (const metric of ALL_METRICS) {
    t.match(metric.prometheus, /^[a-z_][a-z0-9_]*$/, metric.prometheus)
    if (metric.prometheusType === 'counter') t.match(metric.prometheus, /_total$/, `${metric.prometheus}: counters end in _total`)
    else t.notMatch(metric.prometheus, /_total$/, `${metric.prometheus}: only counters end in _total`)
    if (metric.type === 'timer') {
      t.match(metric.prometheus, /_seconds$/, `${metric.prometheus}: timers become _seconds histograms`)
      t.ok(metric.buckets?.length, `${metric.prometheus} has explicit buckets`)
    }
  }
})

t.test('every name the service emits on the wire is mapped by a specific rule', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const { app, udp, redis } = await build(t)
  await app.inject({ method: 'POST', url: '/items', payload: { key: 'a', value: 'b' } })
  await app.inject({ method: 'GET', url: '/items/a' })
  await app.inject({ method: 'GET', url: '/items/b' })
  await app.inject({ method: 'GET', url: '/items?limit=10' })
  await app.inject({ method: 'DELETE', url: '/items/a' })
  await app.inject({ method: 'GET', url: '/' })
  await app.inject({ method: 'GET', url: '/nowhere' })
  await app.inject({ method: 'GET', url: '/health/ready' })
  await redis.stop()
  await app.inject({ method: 'GET', url: '/' })
  // Closing takes a last runtime sample and flushes it: every gauge and the info metric.
  await app.close()
  const lines = await udp.waitFor((l) => l.some((x) => x.startsWith('service.info:')) && l.some((x) => x.startsWith('redis.command.errors:')))
  const allowedTags = new Set<string>(GLOBAL_TAGS)
  for (const m of ALL_METRICS) for (const tag of m.tags) allowedTags.add(tag)
  const seen = new Set<string>()
  for (const line of lines) {
    const match = /^([a-z0-9_.]+):([-0-9.e:]+)\|(c|ms|g)\|#(.*)$/.exec(line)
    if (match === null) {
      t.fail(`not a DogStatsD line: ${line}`)
      continue
    }
    const [, name, , type, tags] = match
    seen.add(name)
    if (specificRule(name, type) === undefined) t.fail(`${name}|${type} falls through to the catch-all drop`)
    for (const tag of tags.split(',')) t.ok(allowedTags.has(tag.slice(0, tag.indexOf(':'))), `${name}: tag ${tag} is catalogued`)
  }
  // Everything but the aborted counter (test/plugins/aborted.test.ts) appears in this run.
  const expected = ALL_METRICS.map((m) => m.statsd).filter((n) => n !== 'http.requests.aborted').sort()
  t.same([...seen].sort(), expected, 'the run emitted every catalogued metric')
})

t.test('docs/metrics.md carries the current metric catalogue (run `npm run generate`)', async (t) => {
  const { renderCatalogueTable } = await import('../../scripts/catalogue-docs.js')
  const page = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8')
  t.ok(page.includes(renderCatalogueTable()), 'docs/metrics.md table matches the catalogue')
})
