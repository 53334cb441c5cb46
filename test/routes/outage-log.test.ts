import t from 'tap'
import { buildApp } from '../../service/app.js'
import { loadConfig } from '../../service/config.js'
import { DEPENDENCY_LOG_INTERVAL_MS } from '../../service/dependency-log.js'
import { haveRedisServer, NO_REDIS, startRedis } from '../helpers/redis.js'
import { logCapture } from '../helpers/log-capture.js'
import { udpListener } from '../helpers/udp.js'
import { until } from '../helpers/wait.js'

const skip = haveRedisServer() ? false : NO_REDIS
const MSG = 'dependency unavailable: answering 503'

t.test('an outage logs a bounded number of warnings without stack; a real 500 keeps its error log', { skip }, async (t) => {
  const redis = await startRedis(t)
  // A receiver on the StatsD port, so the metrics pipeline has nothing to log.
  const udp = await udpListener(t)
  const capture = logCapture()
  const config = loadConfig({
    REDIS_URL: redis.url,
    STATSD_HOST: '127.0.0.1',
    STATSD_PORT: String(udp.port),
    REDIS_COMMAND_TIMEOUT_MS: '300',
    // Load shedding off: on a busy test machine it would answer some requests 503 itself.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0'
  })
  // The service's logger settings, writing real pino lines into the capture.
  const app = await buildApp(config, { logger: { level: 'info', stream: capture.stream } })
  t.teardown(() => app.close())
  await app.ready()
  await until('connection to Redis', () => app.redisCommands.connected)
  t.equal((await app.inject({ url: '/' })).statusCode, 200, 'healthy before the outage')

  await redis.stop()
  const N = 60
  const start = performance.now()
  for (let i = 0; i < N; i++) {
    const res = await app.inject({ url: i % 2 === 0 ? '/' : `/items/k${i}` })
    t.equal(res.statusCode, 503, `request ${i}: 503`)
  }
  const elapsed = performance.now() - start
  const during = capture.lines().filter((l) => l.msg === MSG)
  // One line opens the window, then at most one per elapsed window.
  const bound = 1 + Math.ceil(elapsed / DEPENDENCY_LOG_INTERVAL_MS)
  t.ok(during.length >= 1 && during.length <= bound, `${N} 503s in ${elapsed.toFixed(0)} ms: ${during.length} line(s) (at most ${bound})`)
  t.match(during[0], { level: 40, dependency: 'redis', count: 1, intervalMs: DEPENDENCY_LOG_INTERVAL_MS }, 'the first 503 is logged at once, as a warning')
  t.type(during[0].cause, 'string', 'with the driver message as cause')

  const errorLinesDuringOutage = capture.lines().filter((l) => l.level >= 50)
  t.same(errorLinesDuringOutage, [], 'no error-level line for an expected 503')

  const boom = await app.inject({ url: '/demo/error' })
  t.equal(boom.statusCode, 500)
  const errors = capture.lines().filter((l) => l.level === 50)
  t.equal(errors.length, 1, 'a real 500 is logged once at error level')
  const err = errors[0].err as { message?: string, stack?: string }
  t.equal(errors[0].msg, 'request failed')
  t.equal(err.message, 'demo: an unexpected failure (its details stay in the log)')
  t.match(err.stack, /^Error: demo: an unexpected failure[^\n]*\n\s+at /, 'with its stack')

  await app.close()
  const outage = capture.lines().filter((l) => l.msg === MSG)
  t.ok(outage.length <= bound + 1, `after close: ${outage.length} line(s), the open window's count added`)
  t.equal(outage.reduce((sum, l) => sum + Number(l.count), 0), N, `the counts add up to the ${N} 503s`)
  const stacks = capture.lines().filter((l) => JSON.stringify(l).includes('"stack"'))
  t.same(stacks.map((l) => l.msg), ['request failed'], 'the only line with a stack is the real 500')
})
