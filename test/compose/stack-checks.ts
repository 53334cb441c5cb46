/**
 * Waits and checks of the compose test against the running stack: container health as podman
 * reports it, and Prometheus's targets, rules, Alertmanager and alerts through its HTTP API.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { parse } from 'yaml'
import { poll, promApi, ROOT } from '../helpers/stack.js'
import type { ComposeService } from './compose.js'
import { containers, podman, type ContainerState } from './engine.js'

/** Seconds each step took, printed at the end. */
export interface Timings { up?: number, alert?: number, recovery?: number, resolved?: number, stopApp?: number, appExited?: number }

/** A service is ready when a one-shot (`restart: "no"`) exited 0, else when healthy (or running, without a healthcheck). */
function ready (service: ComposeService | undefined, c: ContainerState): boolean {
  if (service?.restart === 'no') return c.status === 'exited' && c.exitCode === 0
  return c.status === 'running' && (c.health === '' || c.health === 'healthy')
}

/**
 * Waits (up to 240 s) for every service in `names` to be ready, by podman's own state: docker-compose
 * 1.29 counts a dependency that exited as service_healthy, so `up`'s return proves nothing.
 * On timeout, fails with each container's state and the last log lines of those not ready.
 */
export async function waitHealthy (t: Test, project: string, services: Record<string, ComposeService>, names: string[]): Promise<void> {
  let last: ContainerState[] = []
  const done = await poll('every service ready', async () => {
    last = await containers(project)
    const pending = names.filter((n) => { const c = last.find((x) => x.service === n); return c === undefined || !ready(services[n], c) })
    return pending.length === 0 ? true : undefined
  }, 240_000, 1000).catch(() => false)
  if (!done) {
    for (const c of last.filter((x) => !ready(services[x.service], x))) {
      const logs = await podman(['logs', '--tail', '15', c.name])
      t.comment(`${c.name}: ${c.status} ${c.health} exit ${c.exitCode}\n${logs.stdout}${logs.stderr}`)
    }
  }
  t.ok(done, `ready: ${names.map((n) => { const c = last.find((x) => x.service === n); return `${n} ${c?.health !== '' ? c?.health : c?.status}` }).join(', ')}`)
}

interface Target { labels: Record<string, string>, health: string, lastError: string }
interface Rule { name: string, health: string, lastError?: string }

/** Rule groups in etc/prometheus/rules. */
function ruleGroups (): string[] {
  const dir = join(ROOT, 'etc', 'prometheus', 'rules')
  return readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).flatMap((f) =>
    ((parse(readFileSync(join(dir, f), 'utf8')) as { groups?: Array<{ name: string }> }).groups ?? []).map((g) => g.name))
}

/** Every scrape target up (waits for the first scrapes), every rule group loaded and healthy, Alertmanager discovered. */
export async function checkPrometheus (t: Test, prom: string): Promise<void> {
  let targets: Target[] = []
  const allUp = await poll('every target up', async () => {
    targets = (await promApi<{ activeTargets: Target[] }>(prom, '/api/v1/targets')).activeTargets
    return targets.length > 0 && targets.every((x) => x.health === 'up') ? true : undefined
  }, 90_000, 1000).catch(() => false)
  t.ok(allUp, `every target up: ${targets.map((x) => `${x.labels.job} ${x.health}${x.lastError !== '' ? ` (${x.lastError})` : ''}`).join(', ')}`)

  let groups: Array<{ name: string, rules: Rule[] }> = []
  const evaluated = await poll('every rule evaluated', async () => {
    groups = (await promApi<{ groups: Array<{ name: string, rules: Rule[] }> }>(prom, '/api/v1/rules')).groups
    return groups.every((g) => g.rules.every((r) => r.health === 'ok')) ? true : undefined
  }, 60_000, 1000).catch(() => false)
  t.same(groups.map((g) => g.name).sort(), ruleGroups().sort(), `the ${ruleGroups().length} rule groups of etc/prometheus/rules are loaded`)
  const bad = groups.flatMap((g) => g.rules).filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)
  t.ok(evaluated, `every rule evaluated without error${bad.length > 0 ? `: ${bad.join('; ')}` : ''}`)

  const ams = await promApi<{ activeAlertmanagers: Array<{ url: string }> }>(prom, '/api/v1/alertmanagers')
  t.match(ams.activeAlertmanagers.map((a) => a.url), [/alertmanager:9093/], 'Prometheus has alertmanager:9093 (the compose service) as its Alertmanager')
}

/** Seconds of a Prometheus duration like 30s, 1m, 1m30s. */
function seconds (duration: string): number {
  let total = 0
  for (const [, n, unit] of duration.matchAll(/(\d+)(ms|s|m|h)/g)) total += Number(n) * ({ ms: 0.001, s: 1, m: 60, h: 3600 }[unit as 'ms'] ?? 0)
  return total
}

/**
 * Waits for alert `name` to be firing (or, with `firing` false, not firing). The bound comes from
 * the files: the rule's `for`, plus a scrape interval and two evaluation intervals (the change
 * must be scraped, then seen true at two evaluations `for` apart), plus 30 s of slack for the
 * service's own detection and flush.
 */
export async function alertFiring (t: Test, prom: string, name: string, firing: boolean): Promise<void> {
  const config = parse(readFileSync(join(ROOT, 'etc', 'prometheus', 'prometheus.yml'), 'utf8')) as { global: Record<string, string> }
  const rules = readFileSync(join(ROOT, 'etc', 'prometheus', 'rules', 'alerts.yml'), 'utf8')
  const forClause = new RegExp(`alert: ${name}\\n(?:.*\\n)*?\\s+for: (\\S+)`).exec(rules)?.[1] ?? '0s'
  const bound = (firing ? seconds(forClause) : 0) + seconds(config.global.scrape_interval ?? '1m') +
    2 * seconds(config.global.evaluation_interval ?? '1m') + 30
  const started = Date.now()
  const ok = await poll(`${name} ${firing ? 'firing' : 'resolved'}`, async () => {
    const { alerts } = await promApi<{ alerts: Array<{ labels: Record<string, string>, state: string }> }>(prom, '/api/v1/alerts')
    const now = alerts.some((a) => a.labels.alertname === name && a.state === 'firing')
    return now === firing ? true : undefined
  }, bound * 1000, 1000).catch(() => false)
  t.ok(ok, `${name} ${firing ? `fires within ${bound} s (for: ${forClause})` : `resolves within ${bound} s`}: took ${((Date.now() - started) / 1000).toFixed(1)} s`)
}
