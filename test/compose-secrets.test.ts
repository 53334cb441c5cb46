/**
 * etc/compose/secrets.sh, the compose stack's `secrets` service, run for real with busybox sh
 * (the shell of the Redis Alpine image it runs in) and only the CHOWN capability (what compose
 * gives it), on a temporary directory standing in for the `secrets` volume. The files it writes
 * are then used as the containers use them: redis-server reads its config, redis-cli
 * authenticates with the password file, and the service's config loader builds its Redis URL
 * from REDIS_PASSWORD_FILE and connects.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import t from 'tap'
import { loadConfig } from '../service/config.js'
import { freePort, haveRedisServer, NO_REDIS } from './helpers/redis.js'
import { poll, ROOT, which } from './helpers/stack.js'

const SCRIPT = join(ROOT, 'etc', 'compose', 'secrets.sh')
/** Owners as compose's consumers run (the Redis image's redis user is 999 in the official image). */
const OWNERS = { REDIS_OWNER: '999', APP_OWNER: '1000', GRAFANA_OWNER: '472', REDIS_EXPORTER_OWNER: '59000' }
const FILES: Record<string, string> = {
  'redis/redis.conf': OWNERS.REDIS_OWNER,
  'redis/password': OWNERS.REDIS_OWNER,
  'app/redis-password': OWNERS.APP_OWNER,
  'redis-exporter/redis-password': OWNERS.REDIS_EXPORTER_OWNER,
  'grafana/admin-password': OWNERS.GRAFANA_OWNER
}

const skip = which('busybox') === undefined
  ? 'busybox is not installed: apt-get install busybox-static (the shell of the image the script runs in)'
  : which('setpriv') === undefined
    ? 'setpriv is not installed (util-linux): it drops every capability but CHOWN, as compose does'
    : process.getuid?.() !== 0
      ? 'not root: the script hands files to other users (chown), as root in its container; CI runs as root'
      : false

/** Runs the script as compose does: root with CAP_CHOWN only, busybox sh. */
function secrets (dir: string, env: Record<string, string> = {}): { code: number | null, output: string } {
  const result = spawnSync('setpriv', ['--bounding-set=-all,+chown', 'busybox', 'sh', SCRIPT], {
    env: { PATH: process.env.PATH, SECRETS_DIR: dir, ...OWNERS, ...env },
    encoding: 'utf8',
    timeout: 10_000
  })
  return { code: result.status, output: result.stdout + result.stderr }
}

const read = (dir: string, file: string): string => readFileSync(join(dir, file), 'utf8')

t.test('generated once, kept, overridden by .env values, never printed', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-secrets-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  const first = secrets(dir)
  t.equal(first.code, 0, first.output)
  t.match(first.output, /redis-password: generated/)
  t.match(first.output, /grafana-admin-password: generated/)
  const redis = read(dir, 'redis/password')
  const grafana = read(dir, 'grafana/admin-password')
  t.match(redis, /^[0-9a-f]{64}$/, '32 random bytes as hex: URL-safe')
  t.match(grafana, /^[0-9a-f]{64}$/)
  t.not(redis, grafana, 'two secrets, two values')
  t.equal(read(dir, 'redis/redis.conf'), `requirepass ${redis}\n`, 'redis-server\'s config file')
  t.equal(read(dir, 'app/redis-password'), redis, 'the service\'s copy')
  t.equal(read(dir, 'redis-exporter/redis-password'), redis, 'redis-exporter\'s copy')
  for (const [file, owner] of Object.entries(FILES)) {
    const stat = statSync(join(dir, file))
    t.equal(stat.mode & 0o777, 0o400, `${file}: mode 0400`)
    t.equal(String(stat.uid), owner, `${file}: owned by ${owner}, the user of the container that reads it`)
    t.notOk(first.output.includes(read(dir, file).trim()), `${file}: its value is not in the output`)
  }
  t.equal(statSync(join(dir, '.kept')).mode & 0o777, 0o700, 'the kept copies: root only')
  t.same(readdirSync(dir).sort(), ['.kept', 'app', 'grafana', 'redis', 'redis-exporter'], 'nothing else, no temporary file left')

  const again = secrets(dir)
  t.equal(again.code, 0, again.output)
  t.match(again.output, /redis-password: kept from an earlier start/)
  t.equal(read(dir, 'redis/password'), redis, 'a restart (or down/up) keeps the Redis password')
  t.equal(read(dir, 'grafana/admin-password'), grafana, 'and Grafana\'s')

  const own = secrets(dir, { REDIS_PASSWORD: 'from-dot-env', GRAFANA_ADMIN_PASSWORD: 'any thing: $ymbols "too"' })
  t.equal(own.code, 0, own.output)
  t.match(own.output, /redis-password: taken from REDIS_PASSWORD \(\.env\)/)
  for (const file of ['redis/password', 'app/redis-password', 'redis-exporter/redis-password']) t.equal(read(dir, file), 'from-dot-env', `${file}: the .env value, replacing another user's 0400 file without CAP_DAC_OVERRIDE`)
  t.equal(read(dir, 'redis/redis.conf'), 'requirepass from-dot-env\n')
  t.equal(read(dir, 'grafana/admin-password'), 'any thing: $ymbols "too"', 'Grafana\'s password may hold any character')
  t.notMatch(own.output, /from-dot-env|ymbols/, 'not printed')

  const unsafe = secrets(dir, { REDIS_PASSWORD: 'p@ss/word' })
  t.not(unsafe.code, 0, 'a Redis password that would break the URL stops the stack\'s start')
  t.match(unsafe.output, /REDIS_PASSWORD in \.env must be URL-safe/, 'naming the variable')
  t.notMatch(unsafe.output, /p@ss/, 'without printing it')
  t.equal(read(dir, 'redis/password'), 'from-dot-env', 'the files are left as they were')
})

t.test('the files work as the containers use them: redis-server, redis-cli, the service', { skip: skip || (haveRedisServer() ? false : NO_REDIS) }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-secrets-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  t.equal(secrets(dir).code, 0)
  const port = await freePort()
  const server = spawn('redis-server', [join(dir, 'redis', 'redis.conf'), '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  t.teardown(() => { server.kill('SIGKILL') })
  const cli = (auth?: string): string => spawnSync('redis-cli', ['-p', String(port), 'ping'], {
    env: { PATH: process.env.PATH, ...(auth !== undefined ? { REDISCLI_AUTH: auth } : {}) }, encoding: 'utf8'
  }).stdout.trim()
  await poll('redis-server to answer', async () => cli() === '' ? undefined : true, 10_000, 100)
  t.match(cli(), /NOAUTH/, 'Redis requires the password')
  t.equal(cli(read(dir, 'redis/password')), 'PONG', 'the healthcheck\'s password file authenticates redis-cli')
  const config = loadConfig({ REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_PASSWORD_FILE: join(dir, 'app', 'redis-password') })
  const client = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0 })
  t.teardown(() => client.disconnect())
  await client.connect()
  t.equal(await client.ping(), 'PONG', 'the service\'s URL from REDIS_PASSWORD_FILE connects')
})
