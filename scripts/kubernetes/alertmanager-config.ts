/**
 * etc/alertmanager/alertmanager.yml's routing, inhibition and receivers as the spec of a
 * Prometheus Operator AlertmanagerConfig (monitoring.coreos.com/v1alpha1): the same tree in the
 * CRD's camelCase, with matcher strings (`severity="critical"`) as {name, value, matchType}.
 *
 * Only the fields alertmanager.yml uses are translated; any other field throws, so a new
 * setting in alertmanager.yml fails `npm run generate` instead of silently vanishing from the
 * cluster (translate it here, or by hand).
 */
import { parse } from 'yaml'
import { readSource } from './sources.js'

type Yaml = Record<string, unknown>

/** An AlertmanagerConfig matcher (the CRD's `matchers`, `sourceMatch`, `targetMatch` items). */
export interface Matcher { name: string, value: string, matchType: '=' | '!=' | '=~' | '!~' }

/**
 * Parses one Alertmanager matcher string, `name op "value"`.
 * @throws {Error} for anything else (unquoted values, several matchers in one string).
 */
export function parseMatcher (text: string): Matcher {
  const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(text)
  if (m === null) throw new Error(`alertmanager.yml: cannot translate matcher ${JSON.stringify(text)}`)
  return { name: m[1], value: m[3], matchType: m[2] as Matcher['matchType'] }
}

const ROUTE_KEYS: Record<string, string> = {
  receiver: 'receiver',
  group_by: 'groupBy',
  group_wait: 'groupWait',
  group_interval: 'groupInterval',
  repeat_interval: 'repeatInterval',
  continue: 'continue',
  matchers: 'matchers',
  routes: 'routes'
}

function unknown (where: string, key: string): never {
  throw new Error(`alertmanager.yml: ${where}.${key} has no translation in scripts/kubernetes/alertmanager-config.ts`)
}

function route (node: Yaml, where: string): Yaml {
  const out: Yaml = {}
  for (const [key, value] of Object.entries(node)) {
    const name = ROUTE_KEYS[key] ?? unknown(where, key)
    if (key === 'matchers') out[name] = (value as string[]).map(parseMatcher)
    else if (key === 'routes') out[name] = (value as Yaml[]).map((r, i) => route(r, `${where}.routes[${i}]`))
    else out[name] = value
  }
  return out
}

function inhibitRule (node: Yaml, i: number): Yaml {
  const out: Yaml = {}
  for (const [key, value] of Object.entries(node)) {
    if (key === 'source_matchers') out.sourceMatch = (value as string[]).map(parseMatcher)
    else if (key === 'target_matchers') out.targetMatch = (value as string[]).map(parseMatcher)
    else if (key === 'equal') out.equal = value
    else unknown(`inhibit_rules[${i}]`, key)
  }
  return out
}

function webhook (node: Yaml, where: string): Yaml {
  const keys: Record<string, string> = { url: 'url', send_resolved: 'sendResolved', max_alerts: 'maxAlerts' }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [keys[k] ?? unknown(where, k), v]))
}

function receiver (node: Yaml, i: number): Yaml {
  const out: Yaml = {}
  for (const [key, value] of Object.entries(node)) {
    if (key === 'name') out.name = value
    else if (key === 'webhook_configs') out.webhookConfigs = (value as Yaml[]).map((w, j) => webhook(w, `receivers[${i}].webhook_configs[${j}]`))
    else unknown(`receivers[${i}]`, key)
  }
  return out
}

/**
 * The AlertmanagerConfig spec for the given alertmanager.yml text (default: the file).
 * @throws {Error} naming the first field that has no translation.
 */
export function alertmanagerConfigSpec (text = readSource('etc/alertmanager/alertmanager.yml')): Yaml {
  const config = parse(text) as Yaml
  for (const key of Object.keys(config)) if (!['route', 'inhibit_rules', 'receivers'].includes(key)) unknown('(top)', key)
  return {
    route: route(config.route as Yaml, 'route'),
    inhibitRules: ((config.inhibit_rules ?? []) as Yaml[]).map(inhibitRule),
    receivers: ((config.receivers ?? []) as Yaml[]).map(receiver)
  }
}
