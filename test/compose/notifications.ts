/**
 * The alert's way out of the compose stack: Prometheus -> Alertmanager (inside the compose
 * network, by service name) -> the receiver whose notifications a user can watch (`alert-log`,
 * `docker-compose logs alert-log`).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { parse } from 'yaml'
import { poll, ROOT } from '../helpers/stack.js'
import type { ComposeProject } from './compose.js'

interface Route { group_wait?: string, routes?: Route[] }

/** The longest group_wait of etc/alertmanager/alertmanager.yml's routes, in seconds (Alertmanager's default 30 s). */
function longestGroupWait (): number {
  const config = parse(readFileSync(join(ROOT, 'etc', 'alertmanager', 'alertmanager.yml'), 'utf8')) as { route?: Route }
  const waits: number[] = []
  const walk = (route: Route | undefined): void => {
    if (route === undefined) return
    const match = /^(\d+)(s|m)$/.exec(route.group_wait ?? '30s')
    if (match !== null) waits.push(Number(match[1]) * (match[2] === 'm' ? 60 : 1))
    route.routes?.forEach(walk)
  }
  walk(config.route)
  return Math.max(30, ...waits)
}

/** Alert `name` reached Alertmanager (its v2 API lists it as active). */
export async function inAlertmanager (t: Test, am: string, name: string): Promise<void> {
  const found = await poll(`${name} in Alertmanager`, async () => {
    const res = await fetch(`${am}/api/v2/alerts?filter=${encodeURIComponent(`alertname="${name}"`)}`, { signal: AbortSignal.timeout(5000) })
    const alerts = await res.json() as Array<{ status: { state: string } }>
    return alerts.length > 0 ? true : undefined
  }, 30_000, 1000).catch(() => false)
  t.ok(found, `Prometheus delivered ${name} to Alertmanager through the compose network`)
}

/**
 * The `alert-log` receiver printed a FIRING line for `name`, within the longest group_wait plus
 * 30 s of Alertmanager's arrival.
 */
export async function inAlertLog (t: Test, stack: ComposeProject, name: string): Promise<void> {
  const bound = longestGroupWait() + 30
  let last = ''
  const logged = await poll(`${name} in alert-log`, async () => {
    const logs = await stack.compose(['logs', '--no-color', 'alert-log'], 30_000)
    last = logs.stdout
    return new RegExp(`FIRING ${name}\\b`).test(logs.stdout) ? true : undefined
  }, bound * 1000, 2000).catch(() => false)
  const line = last.split('\n').find((l) => l.includes(`FIRING ${name}`))
  t.ok(logged, `docker-compose logs alert-log shows the notification within ${bound} s${line === undefined ? '' : `: ${line.trim()}`}`)
}
