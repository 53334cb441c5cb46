import { spawnSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { benchMapping, Exposition, mappingPath, PEER_MAPPINGS, processCpuUs, startExporter } from '../../scripts/bench/exporter.js'
import { pinning } from '../../scripts/bench/processes.js'
import { NO_STATSD_EXPORTER, ROOT, statsdExporterBin } from '../helpers/stack.js'

/** What the benchmark reads from statsd_exporter, checked against the real 0.27.2 output (test/fixtures). */

const fixture = join(ROOT, 'test', 'fixtures', 'statsd-exporter-0.27.2', 'exposition.txt')

t.test('the exposition parser sums what statsd_exporter 0.27.2 really wrote', async (t) => {
  const page = Exposition.parse(readFileSync(fixture, 'utf8'))
  t.equal(page.sum('statsd_exporter_lines_total'), 9)
  t.equal(page.sum('statsd_exporter_udp_packets_total'), 7)
  t.equal(page.sum('http_requests_total', { route: '/items/:key' }), 42)
  t.equal(page.sum('http_request_duration_seconds_count', { route: '/items/:key', status_code: '200' }), 6)
  t.equal(page.sum('nodejs_heap_size_used_bytes', { instance: 'host-b' }), 2.2345678e7)
  t.equal(page.sum('http_requests_total', { route: '/nowhere' }), 0, 'no matching series: 0')
})

t.test('the mapping is found from the compiled runner\'s folder, where ROOT is .run/bench', async (t) => {
  const project = join(ROOT, 'etc', 'statsd', 'mapping.yml')
  t.equal(mappingPath(join(ROOT, '.run', 'bench')), project)
  t.equal(mappingPath(ROOT), project)
  t.throws(() => mappingPath('/proc/self'), /etc\/statsd\/mapping.yml not found above \/proc\/self/)
})

t.test('the benchmark mapping is the project\'s with the peer\'s rules before the final drop', async (t) => {
  const project = parse(readFileSync(mappingPath(), 'utf8')) as { mappings: unknown[] }
  const bench = parse(benchMapping()) as { defaults: unknown, mappings: Array<{ action?: string }> }
  t.same(bench.defaults, (project as { defaults?: unknown }).defaults)
  t.equal(bench.mappings.length, project.mappings.length + PEER_MAPPINGS.length)
  t.same(bench.mappings.slice(0, project.mappings.length - 1), project.mappings.slice(0, -1))
  t.same(bench.mappings.slice(-3, -1), PEER_MAPPINGS)
  t.equal(bench.mappings.at(-1)?.action, 'drop')
  t.throws(() => benchMapping('mappings:\n  - match: a\n    name: a\n'), /catch-all drop/)
})

t.test('process CPU from /proc/PID/stat agrees with process.cpuUsage()', async (t) => {
  const cpu = (): number => { const u = process.cpuUsage(); return u.user + u.system }
  const proc0 = processCpuUs(process.pid)
  const node0 = cpu()
  // Spin until 200 ms of CPU were used, however busy the machine is.
  while (cpu() - node0 < 200_000) Math.sqrt(Math.random())
  const procDelta = processCpuUs(process.pid) - proc0
  const nodeDelta = cpu() - node0
  // /proc counts clock ticks (10 ms at CLK_TCK 100) and every thread; allow a few ticks.
  t.ok(Math.abs(procDelta - nodeDelta) <= 40_000, `/proc ${procDelta} µs vs process.cpuUsage ${nodeDelta} µs`)
})

/** Sends one datagram to 127.0.0.1:port and closes the socket. */
async function sendDatagram (port: number, payload: string): Promise<void> {
  const socket = createSocket('udp4')
  await new Promise<void>((resolve, reject) => socket.send(payload, port, '127.0.0.1', (err) => err === null ? resolve() : reject(err)))
  await new Promise<void>((resolve) => socket.close(() => resolve()))
}

const bin = statsdExporterBin()
t.test('a real statsd_exporter: the benchmark sees the lines it sent', { skip: bin === undefined ? NO_STATSD_EXPORTER : false }, async (t) => {
  const exporter = await startExporter(pinning())
  if (exporter === null) throw new Error('statsd_exporter was found but not started')
  t.teardown(() => exporter.stop())
  const before = await exporter.settled()
  await sendDatagram(exporter.udpPort, 'http.requests:3|c|#service:b,instance:bench,method:GET,route:/ping,status_code:200\n' +
    'http.request.duration:1:2:3|ms|#service:b,instance:bench,method:GET,route:/ping,status_code:200')
  const after = await exporter.settled()
  const delta = (name: string, labels: Record<string, string> = {}): number => after.metrics.sum(name, labels) - before.metrics.sum(name, labels)
  t.equal(delta('statsd_exporter_udp_packets_total'), 1)
  t.equal(delta('statsd_exporter_lines_total'), 2)
  t.equal(delta('http_requests_total', { instance: 'bench', route: '/ping' }), 3)
  t.equal(delta('http_request_duration_seconds_count', { instance: 'bench', route: '/ping' }), 3)
  t.ok(after.cpuUs >= before.cpuUs)
  // The immobiliarelabs peer's lines, as its client sends them (one datagram each).
  await sendDatagram(exporter.udpPort, 'immobiliarelabs.items.requests:1|c')
  await sendDatagram(exporter.udpPort, 'immobiliarelabs.items.response_time:0.7|ms')
  const peer = await exporter.settled()
  t.equal(peer.metrics.sum('immobiliarelabs_requests_total', { route_id: 'items' }), 1)
  t.equal(peer.metrics.sum('immobiliarelabs_response_time_seconds_count', { route_id: 'items' }), 1)
})

t.test('npm run bench:smoke through a real statsd_exporter: no loss, no NaN', { skip: bin === undefined ? NO_STATSD_EXPORTER : false }, async (t) => {
  // The runner as `npm run bench` runs it: compiled into .run/bench (the mapping path bug lived there).
  const run = spawnSync('npm', ['run', 'bench:smoke', '--', '--variants', 'bare,service,immobiliarelabs'], {
    cwd: ROOT, encoding: 'utf8', timeout: 170_000, env: { ...process.env, STATSD_EXPORTER_BIN: bin }
  })
  t.equal(run.status, 0, run.stderr.slice(-2000) + run.stdout.slice(-2000))
  t.match(run.stderr, /StatsD goes to statsd_exporter/)
  t.match(run.stdout, /exporter CPU µs\/req/)
  t.notMatch(run.stdout + run.stderr, /NaN/)
  t.match(run.stderr, /immobiliarelabs +\d+ req\/s.* received \d+\/\d+ counts/)
})
