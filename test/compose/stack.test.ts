/**
 * The main job, really run: docker-compose.yml brought up by Debian's docker-compose 1.29 on
 * podman's Docker-compatible API, then checked as a user would use it (docs/testing.md). The
 * commands are the README's quick start (test/compose/quick-start.ts): up, scripts/load.sh, down -v.
 * `npm run test:compose`; skips loudly where no engine can run. Images: test/compose/images.ts.
 */
import t from 'tap'
import { loadSh, NO_SIEGE } from '../helpers/load-sh.js'
import { get, which } from '../helpers/stack.js'
import { appImage } from './app-image.js'
import { composeProject, composeServices } from './compose.js'
import { connectEngine, containers, engineMissing, healthPulse } from './engine.js'
import { checkGrafana } from './grafana.js'
import { resolveImages } from './images.js'
import { quickStart } from './quick-start.js'
import { inAlertLog, inAlertmanager } from './notifications.js'
import { alertFiring, checkPrometheus, waitHealthy, type Timings } from './stack-checks.js'

const missing = engineMissing() ?? (which('siege') === undefined ? NO_SIEGE : undefined)
if (missing !== undefined) console.error(`# COMPOSE TEST SKIPPED: ${missing}`)

t.test('docker-compose up -d: the whole stack, really run', { skip: missing === undefined ? false : `compose test skipped: ${missing}`, timeout: 1_500_000 }, async (t) => {
  const timings: Timings = {}
  const readme = quickStart()
  const services = composeServices()
  const pinned = Object.fromEntries(Object.entries(services).filter(([, s]) => s.image !== undefined && s.build === undefined)
    .map(([name, s]) => [name, s.image as string]))
  const engine = await connectEngine(t)
  const preparing = Date.now()
  const images = await resolveImages(pinned)
  const app = await appImage(services.app?.image ?? 'fastify-monitoring:local')
  t.comment(`engine: ${engine.origin}; images ready in ${((Date.now() - preparing) / 1000).toFixed(1)} s`)
  t.comment(`app: ${app.image}, ${app.note}${app.buildSeconds > 0 ? ` in ${app.buildSeconds.toFixed(1)} s` : ''}`)
  for (const image of images) t.comment(`${image.service}: ${image.origin.toUpperCase()} ${image.image} - ${image.note}`)
  const absent = images.filter((i) => i.origin === 'absent').map((i) => i.service)
  const standIns = images.filter((i) => i.origin === 'stand-in').map((i) => i.service)
  const exporterStandIn = standIns.includes('statsd-exporter')
  if (absent.includes('grafana')) t.comment('WEAKER: no Grafana image (set GRAFANA_IMAGE): the dashboard, datasource and panel queries through Grafana are not checked')
  if (exporterStandIn) {
    t.comment('WEAKER: statsd-exporter is the project\'s stand-in (set STATSD_EXPORTER_IMAGE for the real one): the mapping file, the ' +
      'exporter\'s own statsd_exporter_* metrics and its UDP buffer are not exercised; the counts and the text format are')
  }

  const project = `fmcompose${process.pid}`
  const stack = await composeProject(project, engine.dockerHost, images, app.image)
  const prom = `http://127.0.0.1:${stack.ports.prometheus}`
  const base = `http://127.0.0.1:${stack.ports.app}`
  const stopPulse = healthPulse(project)
  t.teardown(async () => {
    await stopPulse()
    const down = await stack.compose([...readme.down.args, '--remove-orphans'], 300_000)
    if (down.code !== 0) console.error(`# compose down -v failed: ${down.stderr}`)
  })
  const running = Object.keys(services).filter((s) => !absent.includes(s))

  await t.test('up -d: every service healthy, the one-shot secrets service done', async (t) => {
    const started = Date.now()
    // The README's `up -d --build`: appImage built the service's image just before, as --build
    // would but with the build secrets docker-compose 1.29 cannot pass, so compose runs it as built.
    t.ok(readme.up.args.includes('--build'), `the README's start command rebuilds: ${readme.up.line}`)
    const upArgs = readme.up.args.map((a) => a === '--build' ? '--no-build' : a)
    const up = await stack.compose([...upArgs, ...running])
    t.equal(up.code, 0, `docker-compose ${upArgs.join(' ')} exits 0${up.code === 0 ? '' : `:\n${up.stderr}`}`)
    await waitHealthy(t, project, services, running)
    timings.up = (Date.now() - started) / 1000
  })

  await t.test('Prometheus: every target up, the rules loaded, Alertmanager discovered', (t) => checkPrometheus(t, prom))

  await t.test('scripts/load.sh -t 30S against the stack: counts agree', async (t) => {
    const out = await loadSh([...readme.load.args.slice(1), '-t', '30S', '-c', '4', '-p', prom, base])
    const output = out.stdout + out.stderr
    const lines = output.split('\n').filter((l) => /^(Responses received|By status|Prometheus counted|Counts agree|load\.sh:)/.test(l))
    for (const line of lines) t.comment(`load.sh | ${line}`)
    t.equal(out.code, 0, `load.sh exits 0${out.code === 0 ? '' : `:\n${out.stdout}\n${out.stderr}`}`)
    t.match(output, /^Counts agree:\t(exactly|within the cut-off allowance)/m, 'Prometheus counted what siege received')
  })

  const item = { key: `compose-${process.pid}`, value: `written before down at ${new Date().toISOString()}` }
  await t.test('an item is written', async (t) => {
    const res = await fetch(`${base}/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(item) })
    t.equal(res.status, 201, 'POST /items answers 201')
  })

  await t.test('stop redis: FastifyRedisUnreachable fires, the service answers 503, then recovers', async (t) => {
    const stopped = Date.now()
    t.equal((await stack.compose(['stop', 'redis'])).code, 0, 'docker-compose stop redis exits 0')
    t.equal((await get(`${base}/items/${item.key}`)).status, 503, 'GET /items/:key answers 503 without Redis')
    t.equal((await get(`${base}/health/ready`)).status, 503, 'readiness answers 503')
    await alertFiring(t, prom, 'FastifyRedisUnreachable', true)
    timings.alert = (Date.now() - stopped) / 1000
    await inAlertmanager(t, `http://127.0.0.1:${stack.ports.alertmanager}`, 'FastifyRedisUnreachable')
    if (services['alert-log'] !== undefined) await inAlertLog(t, stack, 'FastifyRedisUnreachable')
    const restarted = Date.now()
    t.equal((await stack.compose(['start', 'redis'])).code, 0, 'docker-compose start redis exits 0')
    await waitHealthy(t, project, services, ['redis'])
    const back = await pollStatus(`${base}/items/${item.key}`, 200, 60_000)
    t.equal(back, 200, 'GET /items/:key answers 200 again')
    timings.recovery = (Date.now() - restarted) / 1000
    await alertFiring(t, prom, 'FastifyRedisUnreachable', false)
    timings.resolved = (Date.now() - restarted) / 1000
  })

  await t.test('down, then up -d: the item written before is read back', async (t) => {
    t.equal((await stack.compose(['down'], 300_000)).code, 0, 'docker-compose down exits 0 (volumes kept)')
    t.equal((await stack.compose(['up', '-d', ...running])).code, 0, 'docker-compose up -d exits 0 again')
    await waitHealthy(t, project, services, running)
    const res = await get(`${base}/items/${item.key}`)
    t.same({ status: res.status, body: JSON.parse(res.body) }, { status: 200, body: item }, 'the item survived down and up')
  })

  if (!absent.includes('grafana')) await t.test('Grafana: provisioned datasource and dashboard, every panel has data', (t) => checkGrafana(t, stack))

  await t.test('stop app exits 0', async (t) => {
    const started = Date.now()
    t.equal((await stack.compose(['stop', 'app'], 120_000)).code, 0, 'docker-compose stop app exits 0')
    timings.stopApp = (Date.now() - started) / 1000
    const state = (await containers(project)).find((c) => c.service === 'app')
    t.same({ status: state?.status, exitCode: state?.exitCode }, { status: 'exited', exitCode: 0 }, 'the app container exited with status 0 (podman inspect)')
    timings.appExited = (Date.parse(state?.finishedAt ?? '') - started) / 1000
  })

  t.comment(`timings (s): up ${fmt(timings.up)}; stop redis -> FastifyRedisUnreachable firing ${fmt(timings.alert)}; ` +
    `start redis -> 200 ${fmt(timings.recovery)}, -> alert resolved ${fmt(timings.resolved)}; stop app ${fmt(timings.stopApp)} (the container exited ${fmt(timings.appExited)} s after the command started)`)
  t.comment(`stand-ins: ${standIns.length === 0 ? 'none' : standIns.join(', ')}; absent: ${absent.length === 0 ? 'none' : absent.join(', ')}`)
})

function fmt (seconds: number | undefined): string {
  return seconds === undefined ? 'n/a' : seconds.toFixed(1)
}

async function pollStatus (url: string, want: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let status = 0
  while (Date.now() < deadline) {
    status = await get(url).then((r) => r.status, () => 0)
    if (status === want) break
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  return status
}
