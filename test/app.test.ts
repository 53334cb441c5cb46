import t from 'tap'
import { build, GLOBAL } from './helpers/app.js'
import { haveRedisServer, NO_REDIS } from './helpers/redis.js'

const skip = haveRedisServer() ? false : NO_REDIS

t.test('close() flushes the last measurements and closes Redis', { skip }, async (t) => {
  // A long flush interval: only the shutdown flush can deliver these lines.
  const { app, udp } = await build(t, { env: { METRICS_FLUSH_INTERVAL_MS: '60000' } })
  const res = await app.inject({ method: 'GET', url: '/' })
  t.equal(res.statusCode, 200)
  // Two turns of the event loop (a flush on the next turn would be out by then), then a marker
  // datagram through the receiver: anything the service sent at the response has arrived.
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  await udp.barrier()
  t.notOk(udp.lines().some((l) => l.startsWith('http.requests:')), 'nothing sent before the flush')
  await app.close()
  const lines = await udp.waitFor((l) => l.some((x) => x.startsWith('http.requests:')))
  // The runtime sample is taken at close only (interval 60 s), so a datagram holding both is
  // the shutdown flush, whatever a timer might have sent later than the marker.
  t.ok(udp.datagrams.map((d) => d.split('\n')).some((d) => d.some((l) => l.startsWith('http.requests:1|c|')) && d.some((l) => l.startsWith('service.info:1|g|'))), 'the count leaves in the shutdown flush, with the last runtime sample')
  t.ok(lines.includes(`http.requests:1|c|#${GLOBAL},method:GET,route:/,status_code:200`), 'the request is counted at shutdown')
  t.ok(lines.some((l) => l.startsWith('service.info:1|g|')), 'a last runtime sample goes out too')
  t.equal(app.redis.status, 'end', 'Redis connection closed')
})

t.test('demo routes can be switched off', { skip }, async (t) => {
  const { app } = await build(t, { env: { DEMO_ROUTES: 'false' } })
  t.equal((await app.inject({ method: 'GET', url: '/demo/io?ms=1' })).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200)
})

t.test('demo routes answer what they promise', { skip }, async (t) => {
  const { app } = await build(t)
  t.same((await app.inject({ method: 'GET', url: '/demo/io?ms=5' })).json(), { ok: true, ms: 5 })
  const cpu = await app.inject({ method: 'GET', url: '/demo/cpu?iterations=1000' })
  t.equal(cpu.statusCode, 200)
  const latency = (await app.inject({ method: 'GET', url: '/demo/random-latency?max_ms=20' })).json() as { ms: number }
  t.ok(latency.ms >= 0 && latency.ms <= 20, `random latency ${latency.ms} within 0..20 ms`)
  const statuses = new Set<number>()
  for (let i = 0; i < 400; i++) statuses.add((await app.inject({ method: 'GET', url: '/demo/random-status' })).statusCode)
  t.ok(statuses.has(200), 'mostly 200')
  t.ok([...statuses].some((s) => s >= 400), `some errors among ${[...statuses].sort().join(',')}`)
})
