/**
 * Writes what is generated from one source each:
 * - from the metric catalogue (the plugin's and service/metrics/catalogue.ts): etc/statsd/mapping.yml for
 *   statsd_exporter and the metric table in docs/metrics.md;
 * - from package.json's config.runbookBaseUrl (scripts/runbooks.ts): every runbook_url in
 *   etc/prometheus/rules/alerts.yml and in the promtool tests' expected annotations;
 * - then the Kubernetes objects generated from those and the other sources
 *   (etc/kubernetes/base/generated, scripts/kubernetes): they must come last, since they wrap
 *   the files written above.
 * Run with `npm run generate`; tests fail when any of them is stale.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { serviceMapping } from './mapping.js'
import { withCatalogue } from './catalogue-docs.js'
import { RUNBOOK_URL_FILE, runbookBaseUrl, withRunbookUrls } from './runbooks.js'
import { writeGenerated } from './kubernetes/write.js'

const mapping = new URL('../etc/statsd/mapping.yml', import.meta.url)
writeFileSync(mapping, serviceMapping())
const metricsPage = new URL('../docs/metrics.md', import.meta.url)
writeFileSync(metricsPage, withCatalogue(readFileSync(metricsPage, 'utf8')))

const prometheus = new URL('../etc/prometheus/', import.meta.url)
const base = runbookBaseUrl()
const ruleFiles = ['rules', 'tests'].flatMap((dir) => readdirSync(new URL(`${dir}/`, prometheus)).map((f) => `${dir}/${f}`))
  .filter((f) => RUNBOOK_URL_FILE.test(f))
for (const file of ruleFiles) {
  const url = new URL(file, prometheus)
  const text = readFileSync(url, 'utf8')
  const next = withRunbookUrls(text, base)
  if (next !== text) writeFileSync(url, next)
}
process.stdout.write(`wrote ${mapping.pathname}, the catalogue in ${metricsPage.pathname} and runbook_url (${base}) in ${ruleFiles.length} files under ${prometheus.pathname}\n`)
process.stdout.write(`wrote ${writeGenerated()}\n`)
