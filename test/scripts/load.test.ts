/**
 * scripts/load.sh with real siege against a real service process, and its count check against
 * a real Prometheus scraping exporter-format series of that service's own StatsD lines.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { startExporterStandIn } from '../helpers/exporter-stand-in.js'
import { havePrometheus, NO_PROMETHEUS, startPrometheus } from '../helpers/prometheus.js'
import { freePort, haveRedisServer, NO_REDIS, startRedis } from '../helpers/redis.js'
import { startService } from '../helpers/service-process.js'
import { ROOT, which, type RunResult } from '../helpers/stack.js'
import { udpListener } from '../helpers/udp.js'

const LOAD_SH = join(ROOT, 'scripts', 'load.sh')
const NO_SIEGE = 'siege is not installed: apt-get install -y siege'
const NO_CURL_JQ = 'curl and jq are not installed: apt-get install -y curl jq'
const USERS = 3

/** A load.sh run: its output, and `onStderr` called with everything written so far. */
function load (args: string[], env: Record<string, string> = {}, onStderr?: (text: string) => void): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(LOAD_SH, args, {
      cwd: ROOT,
      // No PROMETHEUS_URL or SERVICE_NAME from the caller's shell: every case says what it means.
      env: { ...process.env, PROMETHEUS_URL: '', SERVICE_NAME: '', BASE_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
      onStderr?.(stderr)
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** The number after a `Label:<tab>` line of load.sh's report. */
function reported (output: string, label: string): number | undefined {
  const match = new RegExp(`^${label}:\\t(\\d+)`, 'm').exec(output)
  return match?.[1] === undefined ? undefined : Number(match[1])
}

/** Responses by status code from the `By status:` line. */
function byStatus (output: string): Record<string, number> {
  const line = /^By status:\t(.*)$/m.exec(output)?.[1] ?? ''
  return Object.fromEntries(line.split(' ').filter((p) => p !== '').map((p) => p.split('=')).map(([k, v]) => [k, Number(v)]))
}

t.test('bad arguments: exit 2 with a line naming the option', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['-c', '0'], /-c wants 1\.\.9999 users, got '0'/],
    [['-t', '30'], /-t wants a number and S, M or H/],
    [['-F', 'many'], /-F wants a count of failed requests/],
    [['-p', 'localhost:9090'], /-p \(PROMETHEUS_URL\) must be http\(s\):\/\/host:port/],
    [['-s', 'a b'], /-s \(SERVICE_NAME\) must be a tag value/],
    [['-x'], /unknown option -x/],
    [['ftp://host'], /base-url must be http\(s\):\/\/host:port/]
  ]
  for (const [args, message] of cases) {
    const run = await load(args)
    t.equal(run.code, 2, `${args.join(' ')}: exit 2`)
    t.match(run.stderr, message)
  }
  const help = await load(['-h'])
  t.equal(help.code, 0)
  t.match(help.stderr + help.stdout, /-F {2}let siege give up after this many failed requests/)
})

t.test('siege-driven runs', { skip: which('siege') === undefined ? NO_SIEGE : false }, async (t) => {
  t.test('nothing answers: one line why, exit 1, no per-request errors, no colour codes', async (t) => {
    const dead = await freePort()
    const run = await load(['-c', '2', '-t', '2S', '-p', `http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${dead}`])
    const output = run.stdout + run.stderr
    t.equal(run.code, 1)
    t.match(output, new RegExp(`^load\\.sh: no response at all from http://127\\.0\\.0\\.1:${dead} in \\d+ s \\(\\d+ socket errors\\): is the service running there\\?$`, 'm'))
    t.match(output, /^Socket errors:\t[1-9]\d* \(first: socket: unable to connect .*Connection refused\)$/m, 'the errors are counted, the first one quoted')
    t.notMatch(output, /\[error\]/, 'no per-request error lines')
    t.notOk(output.includes('\u001b'), 'no colour codes')
    t.ok(output.split('\n').length < 40, `a short report (${output.split('\n').length} lines)`)
  })

  t.test('a real service', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
    const redis = await startRedis(t)
    const udp = await udpListener(t)
    const svc = await startService(t, {
      env: { REDIS_URL: redis.url, STATSD_HOST: '127.0.0.1', STATSD_PORT: String(udp.port), LOG_LEVEL: 'fatal' }
    })
    const deadPrometheus = `http://127.0.0.1:${await freePort()}`

    await t.test('progress lines, every kind of answer including a 5xx, and the service counts what siege got', async (t) => {
      udp.clear()
      const run = await load(['-c', String(USERS), '-t', '6S', '-p', deadPrometheus, svc.url], { LOAD_PROGRESS_SECONDS: '1' })
      const output = run.stdout + run.stderr
      t.equal(run.code, 0, output)
      const progress = output.match(/^load\.sh: \d+s {2}responses \d+ {2}2xx \d+ {2}3xx \d+ {2}4xx \d+ {2}5xx \d+ {2}socket errors 0$/gm) ?? []
      t.ok(progress.length >= 2, `progress lines while it ran:\n${progress.join('\n')}`)
      const received = reported(output, 'Responses received') ?? 0
      t.ok(received > 0, `responses received: ${received}`)
      const statuses = byStatus(output)
      t.ok((statuses['500'] ?? 0) > 0, '/demo/error answered 500: the 5xx panels have data in every run')
      for (const code of ['200', '201', '404']) t.ok((statuses[code] ?? 0) > 0, `some ${code}`)
      t.equal(Object.values(statuses).reduce((a, b) => a + b, 0), received, 'the statuses add up to the responses')
      t.match(output, new RegExp(`^Prometheus counted:\\tnot checked: no Prometheus answers at ${deadPrometheus} \\(set PROMETHEUS_URL or -p\\)$`, 'm'))
      // The service flushes every second; wait until two reads a flush apart agree.
      let counted = -1
      for (let previous = -2; counted !== previous;) {
        previous = counted
        await new Promise((resolve) => setTimeout(resolve, 1500))
        counted = udp.lines().map((l) => /^http\.requests:(\d+)\|c/.exec(l)?.[1]).reduce((sum, n) => sum + Number(n ?? 0), 0)
      }
      t.ok(counted >= received && counted - received <= USERS,
        `http.requests sent by the service (${counted}) = responses siege received (${received}), or up to ${USERS} more (siege -t cut-off)`)
    })

    await t.test('an outage does not stop the load; -F sets siege\'s threshold', async (t) => {
      await redis.stop()
      t.teardown(() => redis.start())
      const run = await load(['-c', String(USERS), '-d', '0', '-t', '4S', '-p', deadPrometheus, svc.url], { LOAD_PROGRESS_SECONDS: '1' })
      const output = run.stdout + run.stderr
      t.equal(run.code, 0, 'ran to the end and exited 0')
      const failed = (byStatus(output)['503'] ?? 0) + (byStatus(output)['500'] ?? 0)
      t.ok(failed > 40, `${failed} 5xx answers (siege counts each as a failure) did not stop it`)
      t.notMatch(output, /aborted|gave up/)
      const limited = await load(['-c', String(USERS), '-d', '0', '-t', '4S', '-F', '40', '-p', deadPrometheus, svc.url])
      t.equal(limited.code, 1, 'with -F 40 siege gives up, and load.sh exits 1')
      t.match(limited.stderr, /^load\.sh: siege gave up after \d+ s: 40 requests failed \(5xx or socket errors\), the -F threshold$/m)
      t.notMatch(limited.stderr, /excessive socket failure/, 'siege\'s own two-line message is replaced by that line')
    })
  })
})

t.test('the count check against Prometheus scraping the service\'s series', {
  skip: which('siege') === undefined
    ? NO_SIEGE
    : !haveRedisServer() ? NO_REDIS : !havePrometheus() ? NO_PROMETHEUS : which('jq') === undefined || which('curl') === undefined ? NO_CURL_JQ : false,
  timeout: 300_000
}, async (t) => {
  const redis = await startRedis(t)
  const exporter = await startExporterStandIn(t)
  const prometheus = await startPrometheus(t, { scrape: { job: 'statsd-exporter', target: exporter.target, interval: '1s' } })
  const svc = await startService(t, {
    env: {
      REDIS_URL: redis.url,
      STATSD_HOST: '127.0.0.1',
      STATSD_PORT: String(exporter.udpPort),
      SERVICE_NAME: 'load-check',
      RUNTIME_METRICS_INTERVAL_MS: '1000',
      LOG_LEVEL: 'fatal'
    }
  })
  // Traffic just before the run (and a probe, which the check leaves out): counted in the
  // starting count, not in the run's.
  for (const path of ['/', '/health/live', '/items/before']) await fetch(svc.url + path).then((r) => r.text())
  for (let waited = 0; exporter.requests() < 3; waited += 100) {
    if (waited > 10_000) throw new Error(`the stand-in exporter got ${exporter.requests()} of 3 requests in 10 s`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const args = ['-c', String(USERS), '-t', '5S', '-p', prometheus.url, '-s', 'load-check', svc.url]

  await t.test('agree: Prometheus\'s increase equals the responses siege received', async (t) => {
    const before = exporter.requests((l) => !l.route?.startsWith('/health/'))
    const run = await load(args, { LOAD_PROGRESS_SECONDS: '2' })
    const output = run.stdout + run.stderr
    t.equal(run.code, 0, output)
    t.match(output, /^load\.sh: Prometheus: \d+ responses counted before the run \(scrape at \d\d:\d\d:\d\d\)$/m)
    const received = reported(output, 'Responses received') ?? -1
    const counted = reported(output, 'Prometheus counted') ?? -1
    t.match(output, /^Responses received:\t\d+\nBy status:\t.*\nPrometheus counted:\t\d+ \(increase of sum\(http_requests_total\{service="load-check",route!~"\/health\/\.\*"\}\), scrapes at \d\d:\d\d:\d\d and \d\d:\d\d:\d\d\)$/m, 'next to Responses received')
    t.equal(counted, exporter.requests((l) => !l.route?.startsWith('/health/')) - before, 'what Prometheus counted is what the exporter page gained')
    t.ok(counted >= received && counted - received <= USERS, `Prometheus ${counted}, siege ${received}`)
    t.match(output, counted === received
      ? /^Counts agree:\texactly$/m
      : new RegExp(`^Counts agree:\\twithin the cut-off allowance \\(Prometheus \\+${counted - received}; siege -t may leave up to one served response per user unread, ${USERS} users\\)$`, 'm'))
  })

  await t.test('disagree: another client during the run is seen, and load.sh exits 1', async (t) => {
    const extra = 25
    let sent: Promise<void> | undefined
    const run = await load(args, {}, (stderr) => {
      if (sent !== undefined || !stderr.includes('URLs against')) return
      sent = (async () => {
        for (let i = 0; i < extra; i++) await fetch(`${svc.url}/items/extra-${i}`).then((r) => r.text())
      })()
    })
    await sent
    const output = run.stdout + run.stderr
    t.equal(run.code, 1, 'exit 1')
    const received = reported(output, 'Responses received') ?? -1
    const counted = reported(output, 'Prometheus counted') ?? -1
    t.ok(counted - received >= extra && counted - received <= extra + USERS, `Prometheus ${counted} = siege ${received} + the ${extra} others (+ cut-off)`)
    t.match(output, new RegExp(`^Counts DISAGREE:\\tPrometheus counted ${counted - received} more responses than siege received \\(allowance ${USERS}\\): did another client call the service during the run\\?$`, 'm'))
  })

  await t.test('a service Prometheus does not know: not checked, and why', async (t) => {
    const run = await load(['-c', '1', '-t', '1S', '-p', prometheus.url, '-s', 'no-such-service', svc.url])
    t.equal(run.code, 0)
    t.match(run.stderr, /^Prometheus counted:\tnot checked: Prometheus at http:\/\/127\.0\.0\.1:\d+ has no series with service="no-such-service" \(is statsd_exporter running and scraped\? scripts\/stack\.sh status; another name: -s\)$/m)
  })
})
