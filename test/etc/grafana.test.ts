/**
 * The provisioned dashboard against the Grafana that docker-compose pins. Grafana migrates a
 * dashboard's JSON model only upwards (schemaVersion N to the latest it knows); one written for
 * a newer Grafana is loaded as is, with fields the older one does not understand. So the
 * dashboard's schemaVersion must not exceed what the pinned Grafana knows.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { ROOT } from '../helpers/stack.js'

/**
 * From which Grafana release on a dashboard schemaVersion is known (the highest one, for that
 * release and later ones up to the next row). Each row is a floor: where the exact release that
 * introduced a version is not documented, the row names the newest version shown to exist by then.
 */
const GRAFANA_SCHEMA: ReadonlyArray<{ since: string, schemaVersion: number, source: string }> = [
  { since: '10.4.0', schemaVersion: 39, source: 'grafana/grafonnet#196 (2024-04): dashboards saved by Grafana 10.4 carry schemaVersion 39' },
  { since: '12.0.0', schemaVersion: 41, source: 'V41 migration (drops timepicker.time_options): grafana/grafana#100135, backend #100554, merged 2025-02, before 12.0.0' },
  { since: '12.3.0', schemaVersion: 42, source: 'V42 migration (hideFrom.viz implies hideFrom.tooltip): grafana/grafana#110517, merged 2025-09, before 12.3.0 (2025-11-19)' },
  { since: '13.0.0', schemaVersion: 42, source: 'apps/dashboard/pkg/migration/schemaversion: LATEST_VERSION = 42, "the final version for the v1 dashboard API" (README); a V43 exists in later sources, release not established: 42 kept as the floor' }
]

/** Compares dotted versions numerically (`13.2.0` > `12.10.1`). */
function compareVersions (a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

/** The highest schemaVersion the given Grafana release knows, or undefined below the table. */
function highestSchemaVersion (grafana: string): number | undefined {
  return GRAFANA_SCHEMA.filter((row) => compareVersions(row.since, grafana) <= 0).at(-1)?.schemaVersion
}

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { image?: string }> }
const grafanaImage = compose.services.grafana?.image ?? ''
const grafanaVersion = /^grafana\/grafana(?:-oss)?:(\d+\.\d+\.\d+)$/.exec(grafanaImage)?.[1] ?? ''
const dashboardDir = join(ROOT, 'etc', 'dashboards')
const dashboards = readdirSync(dashboardDir).filter((f) => f.endsWith('.json')).sort()
  .map((f) => ({ file: f, model: JSON.parse(readFileSync(join(dashboardDir, f), 'utf8')) as { schemaVersion?: number, panels?: Array<{ type?: string, panels?: Array<{ type?: string }> }> } }))

t.test('the table is ordered and the lookup picks the newest row not after the release', async (t) => {
  const sorted = [...GRAFANA_SCHEMA].sort((a, b) => compareVersions(a.since, b.since))
  t.same(GRAFANA_SCHEMA, sorted, 'rows in release order')
  t.ok(GRAFANA_SCHEMA.every((row, i) => i === 0 || row.schemaVersion >= GRAFANA_SCHEMA[i - 1].schemaVersion), 'schema versions never go down')
  t.equal(highestSchemaVersion('11.4.0'), 39, 'Grafana 11.4 (the previous pin) is held to 39: a 42 dashboard fails')
  t.equal(highestSchemaVersion('12.10.3'), 42, 'versions compare numerically, not as strings')
  t.equal(highestSchemaVersion('9.5.0'), undefined, 'below the table: unknown, so the check fails rather than guesses')
})

t.test(`the dashboards' schemaVersion is known to the pinned Grafana (${grafanaImage})`, async (t) => {
  t.not(grafanaVersion, '', `${grafanaImage} is grafana/grafana at an exact version`)
  const limit = highestSchemaVersion(grafanaVersion)
  t.ok(limit !== undefined, `Grafana ${grafanaVersion} is in the table`)
  t.ok(dashboards.length > 0, 'dashboards found')
  for (const d of dashboards) {
    t.ok(Number.isInteger(d.model.schemaVersion), `${d.file} has a schemaVersion`)
    t.ok((d.model.schemaVersion ?? Infinity) <= (limit ?? -1), `${d.file}: schemaVersion ${String(d.model.schemaVersion)} <= ${String(limit)} (Grafana ${grafanaVersion})`)
  }
})

/** Panel plugins Grafana 12 removed with AngularJS support (Grafana "Angular support deprecation" docs). */
const ANGULAR_PANELS = ['graph', 'singlestat', 'table-old', 'grafana-piechart-panel', 'grafana-worldmap-panel']

t.test('no AngularJS panel: Grafana 12 and later cannot render them', async (t) => {
  for (const d of dashboards) {
    const types = (d.model.panels ?? []).flatMap((p) => [p.type, ...(p.panels ?? []).map((n) => n.type)])
    for (const type of new Set(types)) t.notOk(ANGULAR_PANELS.includes(type ?? ''), `${d.file}: panel type ${String(type)}`)
  }
})

t.test('provisioning files use the format Grafana 13 reads (apiVersion 1)', async (t) => {
  const dir = join(ROOT, 'etc', 'grafana', 'provisioning')
  for (const kind of ['datasources', 'dashboards']) {
    for (const file of readdirSync(join(dir, kind)).filter((f) => /\.ya?ml$/.test(f))) {
      const doc = parse(readFileSync(join(dir, kind, file), 'utf8')) as Record<string, unknown>
      t.equal(doc.apiVersion, 1, `${kind}/${file}: apiVersion 1`)
      t.ok(Array.isArray(doc[kind === 'datasources' ? 'datasources' : 'providers']), `${kind}/${file}: has its list`)
    }
  }
})
