/**
 * etc/alertmanager/alertmanager.yml and the compose flags, held to what both Alertmanager 0.25
 * (Debian's, which CI runs: amtool check-config, routes test, a real inhibition in
 * test/etc/alertmanager.test.ts) and the 0.34 image read the same way.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { ROOT, which } from '../helpers/stack.js'

interface Route { matchers?: string[], match?: unknown, match_re?: unknown, routes?: Route[] }
const config = parse(readFileSync(join(ROOT, 'etc', 'alertmanager', 'alertmanager.yml'), 'utf8')) as
  { route: Route, inhibit_rules?: Array<Record<string, unknown>> }
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as
  { services: Record<string, { command?: string[] }> }

function routes (route: Route): Route[] {
  return [route, ...(route.routes ?? []).flatMap(routes)]
}

t.test('matchers: one form that the classic parser (0.25) and the UTF-8 parser (0.27 on) read alike', async (t) => {
  // name, operator, double-quoted value: valid and equal under both parsers (Alertmanager docs,
  // "UTF-8 strict mode" and "matchers"); bare or single-quoted values are where they differ.
  const form = /^[a-zA-Z_][a-zA-Z0-9_]*(=|!=|=~|!~)"[^"\\]*"$/
  const all = [
    ...routes(config.route).flatMap((r) => r.matchers ?? []),
    ...(config.inhibit_rules ?? []).flatMap((r) => [...(r.source_matchers as string[] ?? []), ...(r.target_matchers as string[] ?? [])])
  ]
  t.ok(all.length >= 4, `${all.length} matchers`)
  for (const m of all) t.match(m, form, m)
  for (const r of routes(config.route)) t.ok(r.match === undefined && r.match_re === undefined, 'no deprecated match/match_re')
  for (const r of config.inhibit_rules ?? []) t.ok(!('source_match' in r) && !('target_match' in r), 'no deprecated source_match/target_match')
})

const ALERTMANAGER = which('prometheus-alertmanager') ?? which('alertmanager')

t.test('every flag compose passes to Alertmanager exists in 0.25 too', {
  skip: ALERTMANAGER === undefined ? 'Alertmanager is not installed: apt-get install prometheus-alertmanager' : false
}, async (t) => {
  const help = spawnSync(ALERTMANAGER ?? '', ['--help'], { encoding: 'utf8' })
  const flags = (compose.services.alertmanager?.command ?? []).map((a) => a.split('=')[0])
  t.ok(flags.length >= 3, flags.join(' '))
  for (const flag of flags) t.match(help.stdout + help.stderr, new RegExp(`${flag.replace(/\./g, '\\.')}[=\\s]`), `Alertmanager 0.25 knows ${flag}`)
})
