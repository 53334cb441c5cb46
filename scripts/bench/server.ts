/**
 * One benchmark server, run by scripts/bench/run.ts as a child process (pinned to its own CPU
 * when taskset is available): `node .run/bench/scripts/bench/server.js VARIANT REDIS_URL STATSD_PORT`
 * once compiled by `npm run bench`, or `node --import tsx scripts/bench/server.ts ...`.
 *
 * It listens on a free loopback port and talks to the runner over the IPC channel:
 * - sends `{ type: 'ready', port }` once listening;
 * - answers `{ type: 'stats', id }` with its own CPU time (process.cpuUsage, µs) and RSS (bytes),
 *   measured in-process so the figures are exact and cost the server nothing between calls;
 * - answers `{ type: 'flush', id }` after the metrics sink flushed (instrumented variants);
 * - on `{ type: 'close' }` closes the app (flushing metrics) and exits.
 */
import { loadConfig } from '../../service/config.js'
import { AggregatingSink } from 'fastify-statsd-red'
import { benchApp, isService, STATSD_VARIANTS, VARIANTS, type Variant } from './app.js'

export interface ServerStats {
  /** User + system CPU time since start, microseconds. */
  cpuUs: number
  /** Resident set size now, bytes. */
  rss: number
  /** Aggregating sink counters (`aggregating` only). */
  sink?: ReturnType<AggregatingSink['stats']>
}

export type ServerRequest = { type: 'stats' | 'flush', id: number } | { type: 'close' }
export type ServerReply =
  | { type: 'ready', port: number }
  | { type: 'stats', id: number, stats: ServerStats }
  | { type: 'flushed', id: number }

const [variantArg, redisUrl, statsdPort] = process.argv.slice(2)
if (!(VARIANTS as readonly string[]).includes(variantArg ?? '') || redisUrl === undefined || statsdPort === undefined || process.send === undefined) {
  process.stderr.write(`usage (from scripts/bench/run.ts, with IPC): server.ts ${VARIANTS.join('|')} REDIS_URL STATSD_PORT\n`)
  process.exit(2)
}
const variant = variantArg as Variant
const send = (reply: ServerReply): void => { process.send?.(reply) }

// The service variants run with the service's defaults (LOG_LEVEL=info, load shedding as
// shipped), demo routes off; OVERLOAD_MAX_EVENT_LOOP_DELAY_MS and _UTILIZATION may come from the
// environment (bench:instructions turns the delay check off and the utilization check on at 1:
// valgrind's slowness reads as event-loop delay).
const config = loadConfig({
  ...(isService(variant)
    ? { DEMO_ROUTES: 'false', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: process.env.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS, OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: process.env.OVERLOAD_MAX_EVENT_LOOP_UTILIZATION, ACCESS_LOG: String(variant === 'service-access-log') }
    : { LOG_LEVEL: 'silent' }),
  REDIS_URL: redisUrl,
  STATSD_HOST: '127.0.0.1',
  STATSD_PORT: statsdPort,
  SERVICE_NAME: 'bench',
  // The instance tag tells the runner's receiver which server a line came from.
  SERVICE_INSTANCE: variant,
  REDIS_WAIT_AT_START: 'true',
  REDIS_START_TIMEOUT_MS: '600000',
  REDIS_CONNECT_TIMEOUT_MS: process.env.REDIS_CONNECT_TIMEOUT_MS ?? '2000',
  // A loaded machine must not turn into 503s: the benchmark measures instrumentation, not timeouts
  // (bench:instructions raises it further for valgrind).
  REDIS_COMMAND_TIMEOUT_MS: process.env.REDIS_COMMAND_TIMEOUT_MS ?? '10000'
}, '0.0.0-bench')

const app = await benchApp(variant, config)
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
send({ type: 'ready', port: typeof address === 'object' && address !== null ? address.port : 0 })

process.on('message', (msg: ServerRequest) => {
  if (msg.type === 'stats') {
    const cpu = process.cpuUsage()
    const stats: ServerStats = { cpuUs: cpu.user + cpu.system, rss: process.memoryUsage.rss() }
    if (app.hasDecorator('metrics') && app.metrics instanceof AggregatingSink) stats.sink = app.metrics.stats()
    send({ type: 'stats', id: msg.id, stats })
  } else if (msg.type === 'flush') {
    const flushed = STATSD_VARIANTS.includes(variant) && variant !== 'immobiliarelabs' ? app.metrics.flush() : Promise.resolve()
    flushed.then(() => send({ type: 'flushed', id: msg.id }), () => {})
  } else if (msg.type === 'close') {
    closeAndExit()
  }
})
// The runner going away (crash, Ctrl-C) must not leave a pinned server behind.
process.on('disconnect', closeAndExit)

function closeAndExit (): void {
  app.close().then(() => process.exit(0), () => process.exit(1))
}
