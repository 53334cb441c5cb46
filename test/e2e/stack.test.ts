/**
 * End to end: the native stack (scripts/stack.sh) on free ports in a temporary run directory,
 * driven by scripts/load.sh (siege), checked through the components' HTTP APIs.
 *
 * Run with `npm run test:e2e` (a few minutes). Parts that need a binary this machine lacks are
 * skipped with the binary's name and how to get it; statsd_exporter is the usual one (Debian
 * does not package it). Without it a UDP socket stands in for the exporter on the StatsD port,
 * so the service's own count of responses is still compared with siege's.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { parse } from 'yaml'
import { countedResponses, flushMarker, FLUSH_MARKER } from '../helpers/statsd-lines.js'
import { udpListener, type UdpListener } from '../helpers/udp.js'
import {
  dashboardQueries, get, NO_STATSD_EXPORTER, parseSiege, poll, promApi, promQuery, ROOT, run, stack,
  STACK_SH, statsdExporterBin, substituteVariables, which, freeStackPorts, isRunning
} from '../helpers/stack.js'

/** Binaries without which nothing here can run, and how to get them. */
const REQUIRED: Array<[string[], string]> = [
  [['redis-server'], 'apt-get install redis-server'],
  [['redis-cli'], 'apt-get install redis-tools'],
  [['prometheus'], 'apt-get install prometheus'],
  [['prometheus-alertmanager', 'alertmanager'], 'apt-get install prometheus-alertmanager'],
  [['siege'], 'apt-get install siege']
]
const missing = REQUIRED.filter(([names]) => names.every((n) => which(n) === undefined))
  .map(([names, how]) => `${names.join(' or ')} is not installed (${how})`)

const LOAD_SECONDS = 20
/** Simulated users for load.sh (siege -c). */
const LOAD_USERS = 4
/** Alert rules whose condition is true when statsd_exporter is missing, as it is here. */
const EXPORTER_MISSING_ALERTS = ['StatsdExporterDown']
/**
 * Metrics that only exist after an event healthy traffic does not produce (an error, an
 * abort, a mapping conflict, an alert): a dashboard query over them alone may return nothing.
 * 5xx responses are not among them: load.sh sends /demo/error (a 500) in every pass of every
 * user, so `http_requests_total{status_code=~"5.."}` exists after any load.sh run.
 */
const EVENT_ONLY_METRICS = [
  'ALERTS', 'http_requests_aborted_total', 'redis_command_errors_total',
  'statsd_exporter_sample_errors_total', 'statsd_exporter_events_conflict_total'
]

function ruleNames (kind: 'record' | 'alert'): string[] {
  const dir = join(ROOT, 'etc', 'prometheus', 'rules')
  const names: string[] = []
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
    const doc = parse(readFileSync(join(dir, file), 'utf8')) as { groups?: Array<{ rules?: Array<Record<string, string>> }> }
    for (const group of doc.groups ?? []) {
      for (const rule of group.rules ?? []) {
        const name = rule[kind]
        if (name !== undefined && !names.includes(name)) names.push(name)
      }
    }
  }
  return names
}

interface RuleState {
  name: string
  type: 'recording' | 'alerting'
  health: string
  lastError?: string
  lastEvaluation: string
}

t.test('the native stack, end to end', { skip: missing.length > 0 ? missing.join('; ') : false, timeout: 330_000 }, async (t) => {
  const exporter = statsdExporterBin()
  const withExporter = exporter !== undefined
  if (!withExporter) {
    t.comment(`SKIPPING every check that needs statsd_exporter: ${NO_STATSD_EXPORTER}`)
    t.comment('A UDP socket stands in for it on the StatsD port.')
  }
  const standIn = withExporter ? undefined : await udpListener(t, 0, 4 * 1024 * 1024)
  const ports = await freeStackPorts(standIn?.port)
  const dir = mkdtempSync(join(tmpdir(), 'fm-stack-'))
  const env: Record<string, string> = {
    ...ports,
    STACK_DIR: dir,
    STACK_TIMEOUT: '60',
    REDIS_PASSWORD: randomBytes(16).toString('hex'),
    GRAFANA_ADMIN_PASSWORD: randomBytes(12).toString('hex'),
    LOG_LEVEL: 'warn',
    SERVICE_INSTANCE: 'e2e',
    // The Redis gauge reaches the exporter within a second of an outage.
    RUNTIME_METRICS_INTERVAL_MS: '1000'
  }
  const app = `http://127.0.0.1:${ports.APP_PORT}`
  const prom = `http://127.0.0.1:${ports.PROMETHEUS_PORT}`
  const am = `http://127.0.0.1:${ports.ALERTMANAGER_PORT}`

  // Teardown stops everything, also after a failure; a SIGTERM/SIGINT (tap's timeout, Ctrl-C)
  // gets the same synchronous stop before the process dies.
  const stopNow = (): void => {
    spawnSync(STACK_SH, ['stop'], { env: { ...process.env, ...env }, timeout: 60_000, stdio: 'ignore' })
    rmSync(dir, { recursive: true, force: true })
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    stopNow()
    process.kill(process.pid, signal)
  }
  process.once('SIGTERM', onSignal)
  process.once('SIGINT', onSignal)
  t.teardown(async () => {
    await stack(['stop'], env, 60_000)
    process.removeListener('SIGTERM', onSignal)
    process.removeListener('SIGINT', onSignal)
    rmSync(dir, { recursive: true, force: true })
  })

  const started = await stack(['start'], env, 240_000)
  t.comment(started.stdout.trimEnd())
  if (started.code !== 0) {
    t.fail(`scripts/stack.sh start exited ${started.code}: ${started.stderr}`)
    return
  }

  await t.test('the runner started what it could and said what it skipped', async (t) => {
    for (const name of ['redis', 'alertmanager', 'prometheus', 'app']) {
      t.match(started.stdout, new RegExp(`^started\\s+${name}\\s`, 'm'), `${name} started`)
    }
    if (!withExporter) {
      t.match(started.stdout, /SKIPPED\s+statsd-exporter: statsd_exporter not found.*STATSD_EXPORTER_BIN/, 'the missing exporter is named, with how to get it')
    }
    const status = await stack(['status'], env, 30_000)
    t.equal(status.code, 0, 'status: every started component is up')
    t.match(status.stdout, new RegExp(`^prometheus\\s+up\\s+${prom}/`, 'm'), 'status shows Prometheus up with its URL')
    t.match(status.stdout, new RegExp(`^app\\s+up\\s+${app}/`, 'm'), 'status shows the service up with its URL')
  })

  await t.test('the service is live and ready (Redis with a password)', async (t) => {
    t.same(await get(`${app}/health/live`), { status: 200, body: '{"status":"ok"}' })
    t.same(await get(`${app}/health/ready`), { status: 200, body: '{"status":"ok","redis":"up"}' })
  })

  await t.test('Alertmanager is ready and Prometheus sends alerts to it', async (t) => {
    t.equal((await get(`${am}/-/ready`)).status, 200, 'Alertmanager /-/ready')
    const urls = await poll('Prometheus to discover Alertmanager', async () => {
      const data = await promApi<{ activeAlertmanagers: Array<{ url: string }> }>(prom, '/api/v1/alertmanagers')
      const found = data.activeAlertmanagers.map((a) => a.url)
      return found.some((u) => u.startsWith(`${am}/`)) ? found : undefined
    }, 30_000)
    t.ok(urls.length === 1, `one active Alertmanager: ${urls.join(', ')}`)
  })

  await t.test('Prometheus loaded every rule and evaluates each without error', async (t) => {
    const rules = await poll('every rule to be evaluated once', async () => {
      const data = await promApi<{ groups: Array<{ file: string, rules: RuleState[] }> }>(prom, '/api/v1/rules')
      const all = data.groups.flatMap((g) => g.rules)
      return all.length > 0 && all.every((r) => !r.lastEvaluation.startsWith('0001-')) ? all : undefined
    }, 40_000)
    const records = ruleNames('record')
    const alerts = ruleNames('alert')
    t.same([...new Set(rules.filter((r) => r.type === 'recording').map((r) => r.name))].sort(), [...records].sort(), 'every recording rule of etc/prometheus/rules is loaded')
    t.same([...new Set(rules.filter((r) => r.type === 'alerting').map((r) => r.name))].sort(), [...alerts].sort(), 'every alerting rule of etc/prometheus/rules is loaded')
    const unhealthy = rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)
    t.same(unhealthy, [], `all ${rules.length} rules evaluate without error`)
  })

  await t.test('redis-exporter: Prometheus scrapes Redis server-side metrics', {
    skip: started.stdout.includes('SKIPPED  redis-exporter') ? 'redis_exporter is not installed: apt-get install prometheus-redis-exporter' : false
  }, async (t) => {
    const up = await poll('redis_up from redis-exporter', async () => {
      const result = await promQuery(prom, 'redis_up{job="redis-exporter"}')
      return result.length > 0 ? result : undefined
    }, 30_000)
    t.equal(up[0]?.value[1], '1', 'redis_up is 1: the exporter authenticates with the password')
  })

  await t.test('Grafana serves the provisioned dashboard behind a log-in', {
    skip: started.stdout.includes('SKIPPED  grafana') ? 'grafana-server is not installed: not packaged by Debian; put bin/grafana-server of Grafana\'s standalone Linux build on PATH or set GRAFANA_SERVER_BIN' : false
  }, async (t) => {
    const grafana = `http://127.0.0.1:${ports.GRAFANA_PORT}`
    t.equal((await get(`${grafana}/api/dashboards/uid/fastify-red`)).status, 401, 'anonymous access is refused')
    const auth = { authorization: 'Basic ' + Buffer.from(`admin:${env.GRAFANA_ADMIN_PASSWORD}`).toString('base64') }
    const dashboard = await poll('the provisioned dashboard', async () => {
      const res = await fetch(`${grafana}/api/dashboards/uid/fastify-red`, { headers: auth })
      return res.status === 200 ? res.status : undefined
    }, 30_000)
    t.equal(dashboard, 200, 'dashboard fastify-red is provisioned')
    const health = await fetch(`${grafana}/api/datasources/uid/prometheus/health`, { headers: auth })
    t.equal(health.status, 200, 'the Prometheus datasource reaches Prometheus')
  })

  // A key written before the load, read back after the Redis restart (append-only file).
  const stored = await fetch(`${app}/items`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key: 'e2e-persisted', value: 'survives a restart' })
  })
  t.equal(stored.status, 201, 'stored an item before the load')
  const lastOwnRequest = Date.now()

  let siegeTotal = 0
  /**
   * The service's count against siege's. They are equal except for one race siege's `-t` mode
   * creates: when time is up siege cancels its users, and a response the service had already
   * written (so counted, truly served) may be cancelled before siege read it. Each of the
   * LOAD_USERS users has at most one request in flight, so the service may count up to that
   * many more, never fewer; anything else is a counting bug.
   */
  const cutoffCheck = (t: Test, counted: number, received: number, what: string): void => {
    t.comment(`${what}: ${counted}; responses siege received: ${received}`)
    if (counted === received) {
      t.pass(`${what} equals the responses load.sh reported (${counted})`)
      return
    }
    t.ok(counted > received && counted - received <= LOAD_USERS,
      `${what} (${counted}) exceeds the responses siege received (${received}) by at most the ${LOAD_USERS} requests its time-out cut after they were served`)
  }
  await t.test(`scripts/load.sh for ${LOAD_SECONDS} s: the service counts every response siege got`, async (t) => {
    const counterExpr = 'sum(http_requests_total{instance="e2e"})'
    let before = 0
    if (withExporter) {
      before = await poll('a scrape newer than the last request', async () => {
        const [value] = await promQuery(prom, counterExpr)
        const [stamp] = await promQuery(prom, 'max(timestamp(http_requests_total{instance="e2e"}))')
        return value !== undefined && stamp !== undefined && Number(stamp.value[1]) * 1000 > lastOwnRequest + 1500 ? Number(value.value[1]) : undefined
      }, 40_000)
    } else {
      // Everything the service measured so far has arrived; the run's count starts from zero.
      await flushMarker(standIn as UdpListener, app)
      standIn?.clear()
    }
    // -p: this stack's Prometheus, never whatever answers on the default port.
    const load = await run(join(ROOT, 'scripts', 'load.sh'), ['-c', String(LOAD_USERS), '-t', `${LOAD_SECONDS}S`, '-p', prom, app],
      { LOAD_PROGRESS_SECONDS: '5', SERVICE_NAME: '' }, (LOAD_SECONDS + 150) * 1000)
    t.equal(load.code, 0, 'load.sh exited 0')
    const output = load.stdout + load.stderr
    const progress = output.match(/^load\.sh: \d+s {2}responses \d+ {2}2xx \d+ {2}3xx \d+ {2}4xx \d+ {2}5xx \d+ {2}socket errors \d+$/gm) ?? []
    t.ok(progress.length >= 2, `progress lines while it ran:\n${progress.join('\n')}`)
    // load.sh walks its URL file in order, so every user meets /demo/error within one pass:
    // the 5xx series (and the dashboard's 5xx panels) exist in every run, not by chance.
    t.match(output, /^By status:\t.*\b500=[1-9]\d*\b/m, 'a 500 from /demo/error was among the responses')
    let siege
    try {
      siege = parseSiege(load.stdout + load.stderr)
    } catch (err) {
      t.fail(`load.sh printed no siege summary: ${(err as Error).message}`)
      return
    }
    siegeTotal = siege.responses
    t.comment(`siege: ${siege.transactions} transactions, ${siege.failed} failed (5xx), ${siege.responses} responses received`)
    t.ok(siege.transactions > 0, 'siege got responses')
    const loadEnded = Date.now()
    if (withExporter) {
      const increase = await poll('a scrape newer than the load', async () => {
        const [value] = await promQuery(prom, counterExpr)
        const [stamp] = await promQuery(prom, 'max(timestamp(http_requests_total{instance="e2e"}))')
        return value !== undefined && stamp !== undefined && Number(stamp.value[1]) * 1000 > loadEnded + 1500 ? Number(value.value[1]) - before : undefined
      }, 40_000)
      cutoffCheck(t, increase, siegeTotal, 'increase of http_requests_total')
      t.match(output, new RegExp(`^Prometheus counted:\\t${increase} \\(increase of`, 'm'), 'load.sh\'s own check counted the same')
      t.match(output, /^Counts agree:\t(exactly|within the cut-off allowance)/m, 'and load.sh says they agree')
    } else {
      t.match(output, /^Prometheus counted:\tnot checked: Prometheus at http:\/\/127\.0\.0\.1:\d+ has no series with service="fastify-monitoring"/m,
        'load.sh says why it could not check (no exporter to scrape)')
      // Every response siege received was counted before the marker's (a request siege's time-out
      // cut may be counted later or not at all: the check allows only more, never fewer).
      await flushMarker(standIn as UdpListener, app)
      const lines = (standIn as UdpListener).lines()
      const counted = countedResponses(lines) - countedResponses(lines, FLUSH_MARKER)
      cutoffCheck(t, counted, siegeTotal, 'http.requests sent over StatsD (UDP stand-in)')
    }
  })

  const exporterSkip = withExporter ? false : NO_STATSD_EXPORTER

  /** Every panel query of etc/dashboards, variables substituted as Grafana would by default. */
  const panelQueries = readdirSync(join(ROOT, 'etc', 'dashboards')).filter((f) => f.endsWith('.json')).flatMap((file) => {
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'etc', 'dashboards', file), 'utf8'))
    const values = variableValues(dashboard)
    return dashboardQueries(dashboard).map((q) => ({ where: `${file} / ${q.panel}`, expr: substituteVariables(q.expr, values) }))
  })

  await t.test('every dashboard query is valid PromQL', async (t) => {
    t.ok(panelQueries.length > 0, `${panelQueries.length} panel queries in etc/dashboards`)
    const rejected: string[] = []
    for (const query of panelQueries) {
      await promQuery(prom, query.expr).catch((err: Error) => { rejected.push(`${query.where}: ${err.message}`) })
    }
    t.same(rejected, [], 'Prometheus accepts every query')
  })

  await t.test('every dashboard query returns data', { skip: exporterSkip }, async (t) => {
    const empty: string[] = []
    for (const query of panelQueries) {
      const eventOnly = EVENT_ONLY_METRICS.some((m) => new RegExp(`\\b${m}\\b`).test(query.expr))
      if (!eventOnly && (await promQuery(prom, query.expr)).length === 0) empty.push(`${query.where}: ${query.expr}`)
    }
    t.same(empty, [], 'no panel is empty after the load (except over metrics that only errors create)')
  })

  await t.test('every recording rule produces series', { skip: exporterSkip }, async (t) => {
    const empty: string[] = []
    for (const name of ruleNames('record')) {
      if ((await promQuery(prom, name)).length === 0) empty.push(name)
    }
    t.same(empty, [], 'no recording rule is empty after the load')
  })

  await t.test('no alert on healthy traffic', async (t) => {
    // Not only firing: the test runs for less than any alert's `for`, so a broken condition
    // would show as pending only. Healthy traffic must leave every alert condition false.
    const alerts = await promQuery(prom, 'ALERTS')
    const names = [...new Set(alerts.map((a) => a.metric.alertname ?? ''))].sort()
    if (withExporter) {
      t.same(names, [], 'ALERTS is empty (none firing, none pending)')
    } else {
      t.same(names, EXPORTER_MISSING_ALERTS, 'only StatsdExporterDown is active: the exporter is missing, which it reports')
      t.same(alerts.filter((a) => a.metric.alertstate === 'firing' && !EXPORTER_MISSING_ALERTS.includes(a.metric.alertname ?? '')), [], 'nothing else fires')
    }
  })

  await t.test('Redis outage: 503 without a crash, the alert goes pending, then recovery', async (t) => {
    const stopped = await stack(['stop', 'redis'], env, 30_000)
    t.equal(stopped.code, 0, 'redis stopped')
    standIn?.clear()
    const ready = await poll('readiness to report Redis down', async () => {
      const res = await get(`${app}/health/ready`)
      return res.status === 503 ? res : undefined
    }, 15_000)
    t.same(ready, { status: 503, body: '{"status":"unavailable","redis":"down"}' }, '/health/ready answers 503')
    t.equal((await get(`${app}/items/e2e-persisted`)).status, 503, 'a read answers 503')
    t.equal((await get(`${app}/health/live`)).status, 200, 'the process is alive')
    if (standIn !== undefined) {
      await standIn.waitFor((lines) => lines.some((l) => l.startsWith('redis.connection.up:0|g')), 10_000)
      t.pass('the service sent redis.connection.up 0 (the input of FastifyRedisUnreachable) to the UDP stand-in')
    }
    await t.test('FastifyRedisUnreachable goes pending', { skip: exporterSkip }, async (t) => {
      const state = await poll('FastifyRedisUnreachable to go pending', async () => {
        const result = await promQuery(prom, 'ALERTS{alertname="FastifyRedisUnreachable"}')
        return result[0]?.metric.alertstate
      }, 60_000, 2000)
      t.ok(state === 'pending' || state === 'firing', `FastifyRedisUnreachable is ${state}`)
    })
    const status = await stack(['status'], env, 30_000)
    t.match(status.stdout, /^app\s+up\s/m, 'the service still runs')

    const restarted = await stack(['start', 'redis'], env, 60_000)
    t.equal(restarted.code, 0, 'redis started again')
    standIn?.clear()
    await poll('readiness to recover', async () => {
      const res = await get(`${app}/health/ready`)
      return res.status === 200 ? res : undefined
    }, 20_000)
    t.pass('/health/ready answers 200 again')
    t.same(await get(`${app}/items/e2e-persisted`), { status: 200, body: '{"key":"e2e-persisted","value":"survives a restart"}' }, 'the item written before the outage is back')
    if (standIn !== undefined) {
      await standIn.waitFor((lines) => lines.some((l) => l.startsWith('redis.connection.up:1|g')), 10_000)
      t.pass('the service sent redis.connection.up 1 again')
    }
    await t.test('FastifyRedisUnreachable clears', { skip: exporterSkip }, async (t) => {
      await poll('FastifyRedisUnreachable to clear', async () => {
        const result = await promQuery(prom, 'ALERTS{alertname="FastifyRedisUnreachable"}')
        return result.length === 0 ? true : undefined
      }, 60_000, 2000)
      t.pass('no FastifyRedisUnreachable alert')
    })
  })

  await t.test('stop stops every process the runner started', async (t) => {
    const pidDir = join(dir, 'pids')
    const pids = existsSync(pidDir)
      ? readdirSync(pidDir).map((f) => Number(readFileSync(join(pidDir, f), 'utf8').split(' ')[0]))
      : []
    t.ok(pids.length >= 4, `${pids.length} pid files`)
    const stopped = await stack(['stop'], env, 90_000)
    t.equal(stopped.code, 0, 'stop exited 0')
    t.same(pids.filter(isRunning), [], 'no process left')
    t.same(readdirSync(pidDir), [], 'no pid file left')
  })
  t.comment(`siege responses in total: ${siegeTotal}`)
})

/**
 * Values for a dashboard's variables as Grafana would render them with the defaults: `All`
 * (or a multi-value) becomes `.*`, the datasource its uid, and the built-in intervals those
 * of a 10 s scrape interval ($__rate_interval = 4 x 10 s, rounded up to a minute).
 */
function variableValues (dashboard: { templating?: { list?: Array<{ name: string, type: string, includeAll?: boolean, current?: { value?: unknown } }> } }): Record<string, string> {
  const values: Record<string, string> = {
    __rate_interval: '1m',
    __interval: '10s',
    __interval_ms: '10000',
    __range: '5m',
    __range_s: '300'
  }
  for (const variable of dashboard.templating?.list ?? []) {
    const current = variable.current?.value
    const first = Array.isArray(current) ? current[0] : current
    if (first === '$__all' || (variable.includeAll === true && first === undefined) || Array.isArray(current)) {
      values[variable.name] = '.*'
    } else if (typeof first === 'string') {
      values[variable.name] = first
    }
  }
  return values
}
