/**
 * Writes what is generated from the metric catalogue (service/metrics/catalogue.ts):
 * etc/statsd/mapping.yml for statsd_exporter and the metric table in README.md; then the
 * Kubernetes objects generated from those and the other sources (etc/kubernetes/base/generated,
 * scripts/kubernetes). Run with `npm run generate`; tests fail when any of them is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { renderMapping } from '../service/metrics/mapping.js'
import { withCatalogue } from './catalogue-docs.js'
import { writeGenerated } from './kubernetes/write.js'

const mapping = new URL('../etc/statsd/mapping.yml', import.meta.url)
writeFileSync(mapping, renderMapping())
const readme = new URL('../README.md', import.meta.url)
writeFileSync(readme, withCatalogue(readFileSync(readme, 'utf8')))
process.stdout.write(`wrote ${mapping.pathname} and the catalogue in ${readme.pathname}\n`)
process.stdout.write(`wrote ${writeGenerated()}\n`)
