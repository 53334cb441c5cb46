import { monitorEventLoopDelay } from 'node:perf_hooks'
import t from 'tap'
import { Redis } from 'ioredis'
import { DependencyUnavailableError } from '../../service/errors.js'
import { redisOptions } from '../../service/plugins/redis.js'
import { RedisCommands } from '../../service/repositories/redis-commands.js'
import { loadConfig } from '../../service/config.js'
import { serviceRecorder } from '../../service/metrics/recorder.js'
import { noopSink } from '../helpers/noop-sink.js'
import { haveRedisServer, NO_REDIS, startRedis, type TestLike } from '../helpers/redis.js'

const skip = haveRedisServer() ? false : NO_REDIS
const TIMEOUT_MS = 200

interface Measured { command: string, durationMs: number, failed: boolean }

/** RedisCommands on a real redis-server (client built with the service's own options, command timeout TIMEOUT_MS), recording its measurements. */
async function setup (t: TestLike): Promise<{ commands: RedisCommands, client: Redis, measured: Measured[], freeze: () => () => void }> {
  const redis = await startRedis(t)
  const client = new Redis(redis.url, redisOptions(loadConfig({ REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: String(TIMEOUT_MS) })))
  await new Promise((resolve) => client.once('ready', resolve))
  const measured: Measured[] = []
  // Through the service's declared metrics: a duration per command, then an error when it failed.
  const sink = {
    ...noopSink(),
    series: (metric: { statsd: string }, tags: readonly string[]) => ({
      record (value: number) {
        const command = tags[0].slice('command:'.length)
        if (metric.statsd === 'redis.command.duration') measured.push({ command, durationMs: value, failed: false })
        else if (metric.statsd === 'redis.command.errors') measured[measured.length - 1].failed = true
      }
    })
  }
  const commands = new RedisCommands(client, serviceRecorder(sink))
  t.teardown(() => { client.disconnect() })
  return { commands, client, measured, freeze: redis.freeze }
}

t.test('a command that gets its reply: resolved with it, measured once as a success', { skip }, async (t) => {
  const { commands, measured } = await setup(t)
  t.equal(await commands.run('set', (r) => r.set('k', 'v')), 'OK')
  t.equal(await commands.run('get', (r) => r.get('k')), 'v')
  t.same(await commands.run('scan', (r) => r.scan('0', 'MATCH', 'k*', 'COUNT', 10)), ['0', ['k']])
  t.equal(await commands.run('incr', (r) => r.incr('n')), 1)
  t.same(measured.map((m) => [m.command, m.failed]), [['set', false], ['get', false], ['scan', false], ['incr', false]])
})

t.test('an error reply, a closed connection, a throw: DependencyUnavailableError, measured as failures', { skip }, async (t) => {
  const { commands, client, measured } = await setup(t)
  await commands.run('set', (r) => r.set('text', 'not a number'))
  await t.rejects(commands.run('incr', (r) => r.incr('text')), DependencyUnavailableError)
  await t.rejects(commands.run('del', () => { throw new Error('thrown before any promise') }), DependencyUnavailableError)
  client.disconnect()
  const start = performance.now()
  await t.rejects(commands.run('get', (r) => r.get('text')), DependencyUnavailableError)
  t.ok(performance.now() - start < TIMEOUT_MS, 'at once, not after the timeout (no offline queue)')
  t.same(measured.map((m) => [m.command, m.failed]), [['set', false], ['incr', true], ['del', true], ['get', true]])
})

t.test('a frozen Redis: every waiting command fails after the timeout; late replies are ignored', { skip }, async (t) => {
  const { commands, measured, freeze } = await setup(t)
  const thaw = freeze()
  // Timers fire late when this process waits for a core: the lag is measured, not guessed.
  const lag = monitorEventLoopDelay({ resolution: 10 })
  lag.enable()
  const start = performance.now()
  const failedAt: number[] = []
  const runs = Array.from({ length: 20 }, (_, i) => commands.run('get', (r) => r.get(`key${i}`)).then(
    () => t.fail(`get ${i} resolved on a frozen Redis`),
    (err: unknown) => {
      t.ok(err instanceof DependencyUnavailableError, `get ${i}: DependencyUnavailableError`)
      t.match(String((err as Error & { cause?: Error }).cause), /Command timed out/, 'ioredis\' commandTimeout')
      failedAt.push(performance.now() - start)
    }))
  await Promise.all(runs)
  lag.disable()
  const lagMs = lag.max / 1e6
  t.ok(Math.min(...failedAt) >= TIMEOUT_MS - 1, `none failed before the timeout (first at ${Math.min(...failedAt).toFixed(0)} ms)`)
  // Timers run on the event loop: 250 ms allowance beyond the timeout plus the event-loop lag observed meanwhile.
  t.ok(Math.max(...failedAt) < TIMEOUT_MS + 250 + lagMs, `all failed by ${Math.max(...failedAt).toFixed(0)} ms (timeout ${TIMEOUT_MS} ms + 250 ms allowance + ${lagMs.toFixed(0)} ms event-loop lag)`)
  t.equal(measured.length, 20)
  t.ok(measured.every((m) => m.failed && m.durationMs >= TIMEOUT_MS - 1), 'each measured once, as a failure lasting the timeout')

  // Redis answers the 20 GETs once thawed: nothing resolves twice, nothing is measured again.
  thaw()
  t.equal(await commands.run('ping', (r) => r.ping()), 'PONG', 'the connection serves again')
  t.equal(measured.length, 21)
  t.match(measured[20], { command: 'ping', failed: false })
})
