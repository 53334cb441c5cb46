import { readFileSync } from 'node:fs'

/**
 * Runbook links. Prometheus cannot read environment variables or configuration inside alert
 * annotations, so the one setting, `config.runbookBaseUrl` in package.json, is written into
 * every `runbook_url` by `npm run generate` (the way the monitoring mixins configure theirs,
 * e.g. kubernetes-mixin's runbookURLPattern): into etc/prometheus/rules/alerts.yml and into the
 * expected annotations of the promtool tests. test/etc/prometheus.test.ts fails on drift.
 */

/** Files under etc/prometheus whose `runbook_url` lines the generator rewrites. */
export const RUNBOOK_URL_FILE = /^(rules\/alerts\.yml|tests\/[^/]+\.ya?ml)$/

const PACKAGE_JSON = new URL('../package.json', import.meta.url)

/**
 * The configured runbook base URL, without a trailing slash: `<base>/<alertname>.md` is each
 * alert's runbook (the files live in etc/runbooks).
 * @param packageJson the text of package.json (default: this repository's).
 * @throws {Error} naming `config.runbookBaseUrl` when it is missing or not an http(s) URL.
 */
export function runbookBaseUrl (packageJson = readFileSync(PACKAGE_JSON, 'utf8')): string {
  const config = (JSON.parse(packageJson) as { config?: { runbookBaseUrl?: unknown } }).config
  const base = config?.runbookBaseUrl
  if (typeof base !== 'string' || !/^https?:\/\/[^\s'"]+$/.test(base)) {
    throw new Error(`package.json config.runbookBaseUrl must be an http(s) URL, got ${JSON.stringify(base)}`)
  }
  return base.replace(/\/+$/, '')
}

/**
 * Rewrites every `runbook_url` in a rule or promtool test file to `<base>/<name>.md`, keeping
 * the `<name>.md` each line already ends with (the alert name; the tests check they agree) and
 * its quoting. Other lines are returned unchanged.
 */
export function withRunbookUrls (text: string, base: string): string {
  return text.replace(/^(\s*runbook_url: '?)[^'\s]*\/([A-Za-z0-9_]+\.md)('?)$/gm,
    (_line, key: string, file: string, quote: string) => `${key}${base}/${file}${quote}`)
}
