/**
 * scripts/load.sh: its arguments, and real siege against nothing and against a real service
 * process (progress, every kind of answer, an outage, siege's failure threshold). Its count
 * check against Prometheus is in load-count.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { byStatus, loadSh as load, NO_SIEGE, reported } from '../helpers/load-sh.js'
import { freePort, haveRedisServer, NO_REDIS, startRedis } from '../helpers/redis.js'
import { startService } from '../helpers/service-process.js'
import { which } from '../helpers/stack.js'
import { countedResponses, flushMarker, FLUSH_MARKER } from '../helpers/statsd-lines.js'
import { udpListener } from '../helpers/udp.js'

const USERS = 3

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

t.test('a siege that does not stop at the end of -t is stopped, and load.sh says so', async (t) => {
  // A stand-in for siege that hangs, as the real one did once while cancelling its users with
  // refused connections at -d 0 (two threads waiting on a futex).
  const bin = mkdtempSync(join(tmpdir(), 'fm-fake-siege-'))
  t.teardown(() => rmSync(bin, { recursive: true, force: true }))
  writeFileSync(join(bin, 'siege'), "#!/bin/sh\necho 'HTTP/1.1 200     0.01 secs:      10 bytes ==> GET  /'\nexec sleep 600\n", { mode: 0o755 })
  const started = Date.now()
  const run = await load(['-c', '1', '-t', '1S', '-p', `http://127.0.0.1:${await freePort()}`, 'http://127.0.0.1:9'],
    { PATH: `${bin}:${process.env.PATH ?? ''}`, LOAD_STOP_GRACE_SECONDS: '2' })
  t.equal(run.code, 1)
  t.match(run.stderr, /^load\.sh: siege did not stop when its time was up \(a siege deadlock\); load\.sh stopped it 2 s later$/m)
  t.ok(Date.now() - started < 30_000, `load.sh ended ${Date.now() - started} ms after it started`)
})

t.test('siege-driven runs', { skip: which('siege') === undefined ? NO_SIEGE : false }, async (t) => {
  t.test('nothing answers: one line why, exit 1, no per-request errors, no colour codes', async (t) => {
    const dead = await freePort()
    // -d 0.001: refused connections almost as fast as siege can make them, thousands of failures.
    // siege often deadlocks when it cancels users that fail this fast: a 3 s grace, not 30.
    const run = await load(['-c', '2', '-d', '0.001', '-t', '2S', '-p', `http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${dead}`],
      { LOAD_STOP_GRACE_SECONDS: '3' })
    const output = run.stdout + run.stderr
    t.equal(run.code, 1)
    const errors = Number(/^Socket errors:\t(\d+)/m.exec(output)?.[1])
    t.ok(errors > 1024, `${errors} failed requests: past siege's default threshold (1024), and it did not give up`)
    t.notMatch(output, /gave up|excessive socket failure/)
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
      // Every response siege received was counted before the marker's; probe routes left out,
      // as load.sh leaves them out (startService's readiness probe may be flushed after clear()).
      await flushMarker(udp, svc.url)
      const lines = udp.lines().filter((l) => !l.includes(',route:/health/'))
      const counted = countedResponses(lines) - countedResponses(lines, FLUSH_MARKER)
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
