import t from 'tap'
import { buildApp, serverOptions } from '../service/app.js'
import { loadConfig } from '../service/config.js'
import { noopSink } from './helpers/noop-sink.js'
import { logCapture, type LogLine } from './helpers/log-capture.js'
import { haveRedisServer, NO_REDIS, startRedis, type TestLike } from './helpers/redis.js'

const skip = haveRedisServer() ? false : NO_REDIS

/** The service at LOG_LEVEL=info with ACCESS_LOG as given, its pino output kept in memory. */
async function service (t: TestLike, accessLog: string): Promise<{ inject: (url: string) => Promise<number>, lines: () => LogLine[] }> {
  const redis = await startRedis(t)
  const config = loadConfig({ REDIS_URL: redis.url, ACCESS_LOG: accessLog, DEMO_ROUTES: 'false', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0' })
  const capture = logCapture()
  const logger = { ...(serverOptions(config).logger as object), stream: capture.stream }
  const app = await buildApp(config, { logger }, noopSink())
  t.teardown(() => app.close())
  await app.ready()
  return { inject: async (url) => (await app.inject({ method: 'GET', url })).statusCode, lines: capture.lines }
}

const REQUEST_LINES = ['incoming request', 'request completed']

t.test('by default (ACCESS_LOG=false) a request writes no log line', { skip }, async (t) => {
  const svc = await service(t, '')
  t.equal(await svc.inject('/health/live'), 200)
  t.equal(await svc.inject('/nowhere'), 404)
  t.same(svc.lines().filter((l) => REQUEST_LINES.includes(l.msg ?? '')), [])
})

t.test('ACCESS_LOG=true: Fastify\'s two lines per request, with the status and the response time', { skip }, async (t) => {
  const svc = await service(t, 'true')
  t.equal(await svc.inject('/health/live'), 200)
  const lines = svc.lines().filter((l) => REQUEST_LINES.includes(l.msg ?? ''))
  t.same(lines.map((l) => l.msg), REQUEST_LINES)
  t.match(lines[0], { level: 30, reqId: String, req: { method: 'GET', url: '/health/live' } })
  t.match(lines[1], { level: 30, reqId: lines[0].reqId, res: { statusCode: 200 }, responseTime: Number })
})
