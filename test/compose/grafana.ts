/**
 * Checks of a running Grafana through its own HTTP API: the provisioned datasources and
 * dashboards exist, and every panel query returns data through Grafana's query endpoint
 * (`POST /api/ds/query`, the path its panels take), not through Prometheus directly.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { parse } from 'yaml'
import { dashboardQueries, ROOT, substituteVariables } from '../helpers/stack.js'
import type { ComposeProject } from './compose.js'

/**
 * Metrics that exist only after an event this test does not cause (an aborted request, an
 * exporter sample error or mapping conflict): a panel over them alone may rightly be empty.
 */
const NEVER_CAUSED = ['http_requests_aborted_total', 'statsd_exporter_sample_errors_total', 'statsd_exporter_events_conflict_total']

/** The provisioned datasources (etc/grafana/provisioning/datasources): uid and type. */
export function provisionedDatasources (): Array<{ uid: string, type: string }> {
  const dir = join(ROOT, 'etc', 'grafana', 'provisioning', 'datasources')
  return readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).flatMap((f) => {
    const doc = parse(readFileSync(join(dir, f), 'utf8')) as { datasources?: Array<{ uid?: string, type?: string }> }
    return (doc.datasources ?? []).map((d) => ({ uid: d.uid ?? '', type: d.type ?? '' })).filter((d) => d.uid !== '')
  })
}

/** `uid`s of the provisioned dashboards (etc/dashboards/*.json). */
export function provisionedDashboards (): string[] {
  const dir = join(ROOT, 'etc', 'dashboards')
  return readdirSync(dir).filter((f) => f.endsWith('.json'))
    .map((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { uid: string }).uid)
}

/** A Grafana reached with basic auth (admin and the generated password). */
export interface GrafanaClient {
  get<T> (path: string): Promise<{ status: number, body: T }>
  post<T> (path: string, body: unknown): Promise<{ status: number, body: T }>
}

export function grafanaClient (base: string, user: string, password: string): GrafanaClient {
  const headers = { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, 'content-type': 'application/json' }
  const call = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number, body: T }> => {
    const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15_000) })
    return { status: res.status, body: await res.json() as T }
  }
  return { get: (path) => call('GET', path), post: (path, body) => call('POST', path, body) }
}

interface Templating { templating?: { list?: Array<{ name: string, current?: { value?: unknown } }> } }

/**
 * Dashboard variables as the dashboard's saved defaults set them ("All" as `.*`); Grafana's
 * built-ins ($__rate_interval, $__interval, $__range) are left for Grafana to fill in.
 */
function dashboardVariables (dashboard: Templating): Record<string, string> {
  const values: Record<string, string> = {}
  for (const variable of dashboard.templating?.list ?? []) {
    const current = variable.current?.value
    const first = Array.isArray(current) ? current[0] : current
    values[variable.name] = first === '$__all' || Array.isArray(current) || typeof first !== 'string' ? '.*' : first
  }
  return values
}

interface Frame { data?: { values?: unknown[][] } }
interface QueryResponse { results?: Record<string, { frames?: Frame[], error?: string }> }

/**
 * Runs every panel query of dashboard `uid` (as Grafana serves it) through `/api/ds/query` over
 * the last `minutes`; resolves with the panels whose query failed or returned no data point.
 */
export async function emptyPanels (grafana: GrafanaClient, uid: string, datasourceUid: string, minutes = 10): Promise<string[]> {
  const { body } = await grafana.get<{ dashboard: Templating & { panels?: [] } }>(`/api/dashboards/uid/${uid}`)
  const values = dashboardVariables(body.dashboard)
  const problems: string[] = []
  for (const query of dashboardQueries(body.dashboard)) {
    if (NEVER_CAUSED.some((m) => new RegExp(`\\b${m}\\b`).test(query.expr))) continue
    const expr = substituteVariables(query.expr, values)
    const res = await grafana.post<QueryResponse>('/api/ds/query', {
      from: `now-${minutes}m`,
      to: 'now',
      queries: [{ refId: 'A', datasource: { type: 'prometheus', uid: datasourceUid }, expr, range: true, intervalMs: 10_000, maxDataPoints: 300 }]
    })
    const result = res.body.results?.A
    const points = (result?.frames ?? []).reduce((n, f) => n + (f.data?.values?.[1]?.length ?? 0), 0)
    if (res.status !== 200 || result?.error !== undefined || points === 0) {
      problems.push(`${query.panel}: ${expr} -> ${res.status} ${result?.error ?? `${points} points`}`)
    }
  }
  return problems
}

/**
 * The Grafana checks of the compose test: log in as admin with the generated password (read from
 * the secrets volume inside the container), find the provisioned datasources and dashboards,
 * and query every panel through Grafana.
 */
export async function checkGrafana (t: Test, stack: ComposeProject): Promise<void> {
  const secret = await stack.compose(['exec', '-T', 'grafana', 'cat', '/secrets/grafana/admin-password'])
  t.equal(secret.code, 0, 'the generated admin password is readable in the grafana container')
  const grafana = grafanaClient(`http://127.0.0.1:${stack.ports.grafana}`, process.env.GRAFANA_ADMIN_USER ?? 'admin', secret.stdout.trim())
  for (const { uid, type } of provisionedDatasources()) {
    const res = await grafana.get<{ type?: string }>(`/api/datasources/uid/${uid}`)
    t.same({ status: res.status, type: res.body.type }, { status: 200, type }, `${type} datasource ${uid} is provisioned`)
  }
  const prometheusUid = provisionedDatasources().find((d) => d.type === 'prometheus')?.uid ?? 'prometheus'
  for (const uid of provisionedDashboards()) {
    t.equal((await grafana.get(`/api/dashboards/uid/${uid}`)).status, 200, `dashboard ${uid} is provisioned`)
    t.same(await emptyPanels(grafana, uid, prometheusUid), [], `every panel query of ${uid} returns data through /api/ds/query`)
  }
}
