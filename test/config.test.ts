import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig } from '../service/config.js'

t.test('defaults', async (t) => {
  const config = loadConfig({}, '9.9.9')
  t.match(config, {
    port: 8080,
    host: '0.0.0.0',
    logLevel: 'info',
    accessLog: false,
    serviceName: 'fastify-monitoring',
    redisUrl: 'redis://127.0.0.1:6379',
    redisCommandTimeoutMs: 500,
    redisWaitAtStart: false,
    statsdHost: '127.0.0.1',
    statsdPort: 9125,
    metricsFlushIntervalMs: 1000,
    statsdMaxDatagramBytes: 1432,
    demoRoutes: true,
    version: '9.9.9'
  })
  t.match(config.serviceInstance, /^[A-Za-z0-9_.:/-]{1,64}$/)
})

t.test('values are read and converted', async (t) => {
  const config = loadConfig({ PORT: '3001', DEMO_ROUTES: 'off', REDIS_WAIT_AT_START: 'yes', LOG_LEVEL: 'debug', REDIS_URL: 'redis://:secret@redis:6379/2', ACCESS_LOG: 'on' })
  t.equal(config.port, 3001)
  t.equal(config.accessLog, true)
  t.equal(config.demoRoutes, false)
  t.equal(config.redisWaitAtStart, true)
  t.equal(config.logLevel, 'debug')
  t.equal(config.redisUrl, 'redis://:secret@redis:6379/2')
})

t.test('an invalid value names the variable', async (t) => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: 'eighty' }, 'invalid PORT: "eighty" is not a whole number'],
    [{ PORT: '70000' }, 'invalid PORT: 70000 is outside 0..65535'],
    [{ STATSD_PORT: '-1' }, 'invalid STATSD_PORT: "-1" is not a whole number'],
    [{ LOG_LEVEL: 'loud' }, 'invalid LOG_LEVEL: "loud" is not one of fatal, error, warn, info, debug, trace, silent'],
    [{ DEMO_ROUTES: 'maybe' }, 'invalid DEMO_ROUTES: "maybe" is not a boolean (true/false, 1/0, yes/no, on/off)'],
    [{ REDIS_URL: 'http://x' }, 'invalid REDIS_URL: expected redis://[:password@]host[:port][/db] or rediss://'],
    [{ SERVICE_NAME: 'a,b' }, 'invalid SERVICE_NAME: "a,b" does not match'],
    [{ STATSD_MAX_DATAGRAM_BYTES: '100' }, 'invalid STATSD_MAX_DATAGRAM_BYTES: 100 is outside 512..65000']
  ]
  for (const [env, message] of cases) {
    let thrown: unknown
    try {
      loadConfig(env)
    } catch (err) {
      thrown = err
    }
    t.ok(thrown instanceof ConfigError, `${message}: a ConfigError`)
    t.ok(thrown instanceof Error && thrown.message.startsWith(message), `${String(thrown)} starts with ${message}`)
  }
})

t.test('REDIS_PASSWORD_FILE: the password from a file goes into the Redis URL', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-config-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'redis-password')
  // As the compose stack's secrets service writes it: 64 hex digits, no newline.
  writeFileSync(file, 'c0ffee'.repeat(10) + '0123')
  t.equal(loadConfig({ REDIS_URL: 'redis://redis:6379', REDIS_PASSWORD_FILE: file }).redisUrl, `redis://:${'c0ffee'.repeat(10)}0123@redis:6379`)
  writeFileSync(file, 'p@ss/word\n')
  t.equal(loadConfig({ REDIS_URL: 'redis://redis:6379/2', REDIS_PASSWORD_FILE: file }).redisUrl, 'redis://:p%40ss%2Fword@redis:6379/2',
    'one trailing newline dropped; characters that would break the URL percent-encoded')
  t.equal(loadConfig({ REDIS_URL: 'redis://redis:6379', REDIS_PASSWORD_FILE: '' }).redisUrl, 'redis://redis:6379', 'empty: no file')

  const errors: Array<[Record<string, string>, string]> = [
    [{ REDIS_PASSWORD_FILE: join(dir, 'absent') }, `invalid REDIS_PASSWORD_FILE: cannot read ${join(dir, 'absent')}: ENOENT`],
    [{ REDIS_PASSWORD_FILE: dir }, `invalid REDIS_PASSWORD_FILE: cannot read ${dir}: EISDIR`],
    [{ REDIS_PASSWORD_FILE: file, REDIS_URL: 'redis://:other@redis:6379' }, 'invalid REDIS_PASSWORD_FILE: REDIS_URL carries a password too: set only one of them']
  ]
  writeFileSync(join(dir, 'empty'), '\n')
  writeFileSync(join(dir, 'two-lines'), 'a\nb\n')
  for (const name of ['empty', 'two-lines']) {
    errors.push([{ REDIS_PASSWORD_FILE: join(dir, name) }, `invalid REDIS_PASSWORD_FILE: ${join(dir, name)} must hold the password on one line`])
  }
  for (const [env, message] of errors) {
    t.throws(() => loadConfig(env), new ConfigError('REDIS_PASSWORD_FILE', message.replace('invalid REDIS_PASSWORD_FILE: ', '')), message)
  }
  writeFileSync(join(dir, 'secret'), 'never-in-a-message')
  try {
    loadConfig({ REDIS_PASSWORD_FILE: join(dir, 'secret'), REDIS_URL: 'redis://:x@h:1' })
    t.fail('a password in both places is refused')
  } catch (err) {
    t.notMatch(String(err), /never-in-a-message/, 'the error does not show the password')
  }
})
