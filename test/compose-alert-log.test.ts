/**
 * etc/compose/alert-log.mjs, the compose stack's webhook receiver, fed by a real Alertmanager
 * running the committed etc/alertmanager/alertmanager.yml (only `alert-log:5001` pointed at
 * 127.0.0.1 and the group timers shortened): a firing alert and its resolution each become one
 * line on the receiver's stdout, which is what `docker-compose logs -f alert-log` shows.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { parse, stringify } from 'yaml'
import { freePort } from './helpers/redis.js'
import { poll, ROOT } from './helpers/stack.js'

const CONFIG = join(ROOT, 'etc', 'alertmanager', 'alertmanager.yml')
const ALERTMANAGER = process.env.ALERTMANAGER_BIN ??
  ['prometheus-alertmanager', 'alertmanager'].find((bin) => spawnSync(bin, ['--version']).status === 0)
const NO_ALERTMANAGER = 'prometheus-alertmanager is not installed: run `apt-get install -y prometheus-alertmanager` ' +
  '(scripts/install-deps.sh does; or set ALERTMANAGER_BIN)'

/** Starts a process, keeps its stdout, and stops it (SIGTERM) at the end of the test. */
function start (t: Test, command: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess, out: () => string } {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout?.on('data', (chunk: Buffer) => { out += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { out += chunk.toString() })
  t.teardown(() => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  }))
  return { child, out: () => out }
}

t.test('alert-log answers its healthcheck and refuses what is not a notification', async (t) => {
  const port = await freePort()
  const log = start(t, process.execPath, [join(ROOT, 'etc', 'compose', 'alert-log.mjs')], { ALERT_LOG_PORT: String(port) })
  const url = `http://127.0.0.1:${port}`
  await poll('alert-log to listen', async () => (await fetch(`${url}/health`).catch(() => undefined))?.ok === true ? true : undefined, 10_000, 100)
  t.equal((await fetch(`${url}/page`, { method: 'POST', body: 'not json' })).status, 400, 'not JSON: 400')
  t.equal((await fetch(`${url}/page`, { method: 'POST', body: '{"alerts":"x"}' })).status, 400, 'no alerts array: 400')
  t.equal((await fetch(`${url}/page`)).status, 405, 'GET: 405')
  t.match(log.out(), /alert-log: rejected a POST to \/page: not an Alertmanager notification/)
  const stopped = Date.now()
  log.child.kill('SIGTERM')
  await new Promise((resolve) => log.child.once('exit', resolve))
  t.equal(log.child.exitCode, 0, `SIGTERM: exits 0 (${Date.now() - stopped} ms)`)
})

t.test('a real Alertmanager with the committed routes: firing and resolved, one line each', { skip: ALERTMANAGER !== undefined ? false : NO_ALERTMANAGER }, async (t) => {
  const hookPort = await freePort()
  const log = start(t, process.execPath, [join(ROOT, 'etc', 'compose', 'alert-log.mjs')], { ALERT_LOG_PORT: String(hookPort) })

  const dir = mkdtempSync(join(tmpdir(), 'fm-alert-log-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const text = readFileSync(CONFIG, 'utf8')
  t.match(text, /url: http:\/\/alert-log:5001\/page/, 'the committed receivers post to alert-log')
  const config = parse(text.replaceAll('http://alert-log:5001/', `http://127.0.0.1:${hookPort}/`)) as { route: Record<string, unknown> }
  Object.assign(config.route, { group_wait: '1s', group_interval: '1s' })
  writeFileSync(join(dir, 'alertmanager.yml'), stringify(config))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  start(t, ALERTMANAGER as string, [`--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='])
  await poll('Alertmanager to be ready', async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok === true ? true : undefined, 30_000, 200)

  const labels = { alertname: 'FastifyRedisUnreachable', severity: 'critical', service: 'fastify-monitoring' }
  const annotations = { summary: 'Redis is unreachable from the service' }
  const startsAt = new Date(Date.now() - 60_000).toISOString()
  const post = async (endsAt?: string): Promise<number> => (await fetch(`${url}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([{ labels, annotations, startsAt, ...(endsAt !== undefined ? { endsAt } : {}) }])
  })).status
  t.equal(await post(), 200)
  const firing = await poll('the firing notification', async () => /^page FIRING .*$/m.exec(log.out())?.[0], 30_000, 200)
  t.match(firing, /^page FIRING FastifyRedisUnreachable \(critical, service=fastify-monitoring\) since \S+: Redis is unreachable from the service$/,
    'critical: the page receiver, with name, severity, service, start and summary')
  t.equal(await post(new Date().toISOString()), 200)
  const resolved = await poll('the resolved notification', async () => /^page RESOLVED .*$/m.exec(log.out())?.[0], 30_000, 200)
  t.match(resolved, /^page RESOLVED FastifyRedisUnreachable \(critical, service=fastify-monitoring\)/, 'send_resolved: the end is shown too')
})
