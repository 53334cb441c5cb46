import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { parse, stringify } from 'yaml'
import { ruleGroups, ruleId } from '../helpers/promtool.js'
import { freePort } from '../helpers/redis.js'

const CONFIG = fileURLToPath(new URL('../../etc/alertmanager/alertmanager.yml', import.meta.url))
const AMTOOL = process.env.AMTOOL_BIN ?? 'amtool'
/** Debian names the server `prometheus-alertmanager`; upstream tarballs name it `alertmanager`. */
const ALERTMANAGER = process.env.ALERTMANAGER_BIN ??
  ['prometheus-alertmanager', 'alertmanager'].find((bin) => spawnSync(bin, ['--version']).status === 0)
const HAVE_AMTOOL = spawnSync(AMTOOL, ['--version']).status === 0
const NO_AMTOOL = 'amtool is not installed: run `apt-get install -y prometheus-alertmanager` ' +
  '(scripts/install-deps.sh does; or set AMTOOL_BIN)'
const NO_ALERTMANAGER = 'prometheus-alertmanager is not installed: run `apt-get install -y prometheus-alertmanager` ' +
  '(scripts/install-deps.sh does; or set ALERTMANAGER_BIN)'
const SERVICE = 'fastify-monitoring'
const RECEIVER_BY_SEVERITY: Record<string, string> = { critical: 'page', warning: 'ticket' }

interface Route {
  receiver?: string
  group_by?: string[]
  matchers?: string[]
  routes?: Route[]
  [key: string]: unknown
}
interface Config {
  route: Route
  inhibit_rules: Array<Record<string, unknown>>
  receivers: Array<{ name: string, webhook_configs?: Array<{ url: string }> }>
}

/** Runs amtool; asserts exit 0 and shows its output when it fails. @returns stdout. */
function expectAmtool (t: Test, args: string[]): string {
  const result = spawnSync(AMTOOL, args, { encoding: 'utf8', timeout: 30_000 })
  t.equal(result.status, 0, `amtool ${args.join(' ')}`, { output: `${result.stdout}${result.stderr}` })
  return result.stdout
}

t.test('amtool check-config', { skip: HAVE_AMTOOL ? false : NO_AMTOOL }, async (t) => {
  t.match(expectAmtool(t, ['check-config', CONFIG]), /SUCCESS/)
})

t.test('current syntax: matchers, never the deprecated match/match_re', async (t) => {
  const config = parse(readFileSync(CONFIG, 'utf8')) as Config
  const walk = (route: Route): Route[] => [route, ...(route.routes ?? []).flatMap(walk)]
  for (const route of walk(config.route)) {
    t.notOk('match' in route || 'match_re' in route, `route to ${route.receiver ?? '(inherited)'}: no match/match_re`)
  }
  for (const rule of config.inhibit_rules) {
    t.same(Object.keys(rule).filter((k) => /_match(_re)?$/.test(k)), [], 'inhibit rule: source_matchers/target_matchers only')
  }
  t.same(config.route.group_by, ['alertname', 'service'])
  const names = new Set(config.receivers.map((r) => r.name))
  for (const route of walk(config.route)) {
    if (route.receiver !== undefined) t.ok(names.has(route.receiver), `receiver ${route.receiver} is defined`)
  }
  for (const url of config.receivers.flatMap((r) => r.webhook_configs ?? []).map((w) => w.url)) {
    t.match(url, /^http:\/\/alert-log:5001\//, `${url}: the compose stack's alert-log (etc/compose/alert-log.mjs), no outside service`)
  }
})

t.test('every alert routes by severity: critical pages, warning makes a ticket', { skip: HAVE_AMTOOL ? false : NO_AMTOOL }, async (t) => {
  const alerts = ['rules/alerts.yml'].flatMap(ruleGroups).flatMap((g) => g.rules).filter((r) => r.alert !== undefined)
  for (const a of alerts) {
    const labels = { alertname: a.alert as string, service: SERVICE, ...a.labels }
    const receiver = RECEIVER_BY_SEVERITY[a.labels?.severity ?? '']
    t.ok(receiver !== undefined, `${ruleId(a.alert as string, a.labels)}: known severity`)
    expectAmtool(t, ['config', 'routes', 'test', `--config.file=${CONFIG}`, `--verify.receivers=${receiver}`,
      ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)])
  }
  expectAmtool(t, ['config', 'routes', 'test', `--config.file=${CONFIG}`, '--verify.receivers=ticket', 'alertname=Unlabelled'])
})

/** One notification as Alertmanager's webhook sends it (the fields the test reads). */
interface Notification {
  receiver: string
  status: string
  alerts: Array<{ labels: Record<string, string> }>
}

t.test('a real Alertmanager inhibits warning twins and notifies the rest', { skip: ALERTMANAGER !== undefined ? false : NO_ALERTMANAGER }, async (t) => {
  // A local webhook receiver stands in for the pager and the ticket queue.
  const received: Notification[] = []
  const hook = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => {
      received.push(JSON.parse(body) as Notification)
      res.end()
    })
  })
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => hook.close(() => resolve())))
  const hookPort = (hook.address() as { port: number }).port

  // The committed configuration, with only the webhook addresses and group_wait changed.
  const dir = mkdtempSync(join(tmpdir(), 'fm-alertmanager-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const config = parse(readFileSync(CONFIG, 'utf8')) as Config
  config.route.group_wait = '1s'
  for (const r of config.receivers) for (const w of r.webhook_configs ?? []) w.url = `http://127.0.0.1:${hookPort}/${r.name}`
  writeFileSync(join(dir, 'alertmanager.yml'), stringify(config))

  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const child = spawn(ALERTMANAGER as string, [
    `--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr?.on('data', (chunk: Buffer) => { log = (log + chunk.toString()).slice(-10_000) })
  t.teardown(() => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  }))
  await until(async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok === true, 30_000,
    () => `alertmanager not ready:\n${log}`)

  const alert = (alertname: string, severity: string, service = SERVICE): { labels: Record<string, string> } =>
    ({ labels: { alertname, severity, service } })
  const posted = await fetch(`${url}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([
      alert('FastifyHighErrorRate', 'critical'),
      alert('FastifyHighErrorRate', 'warning'),
      alert('FastifyHighErrorRate', 'warning', 'other-service'),
      alert('FastifyRedisUnreachable', 'critical'),
      alert('FastifyRedisCommandErrors', 'warning')
    ])
  })
  t.equal(posted.status, 200, 'alerts accepted')

  type Status = Array<{ labels: Record<string, string>, status: { state: string, inhibitedBy: string[] } }>
  const states = async (): Promise<Record<string, string>> => {
    const list = await (await fetch(`${url}/api/v2/alerts`)).json() as Status
    return Object.fromEntries(list.map((a) => [`${a.labels.alertname}/${a.labels.severity}/${a.labels.service}`, a.status.state]))
  }
  t.same(await states(), {
    'FastifyHighErrorRate/critical/fastify-monitoring': 'active',
    'FastifyHighErrorRate/warning/fastify-monitoring': 'suppressed',
    'FastifyHighErrorRate/warning/other-service': 'active',
    'FastifyRedisUnreachable/critical/fastify-monitoring': 'active',
    'FastifyRedisCommandErrors/warning/fastify-monitoring': 'suppressed'
  }, 'a critical mutes its warning twin of the same service only; Redis unreachable mutes command errors')

  // Three groups have something to say: two pages and one ticket (the other service's warning).
  await until(async () => received.length >= 3, 30_000, () => `notifications: ${JSON.stringify(received)}\n${log}`)
  const sent = received.flatMap((n) => n.alerts.map((a) => `${n.receiver}: ${a.labels.alertname}/${a.labels.severity}/${a.labels.service}`))
  t.same(sent.sort(), [
    'page: FastifyHighErrorRate/critical/fastify-monitoring',
    'page: FastifyRedisUnreachable/critical/fastify-monitoring',
    'ticket: FastifyHighErrorRate/warning/other-service'
  ], 'inhibited warnings are never sent')
})

/** Polls `check` every 200 ms until it is true. @throws with `detail()` after `timeoutMs`. */
async function until (check: () => Promise<boolean>, timeoutMs: number, detail: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(detail())
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
