import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import t from 'tap'
import { buildApp, serverOptions } from '../service/app.js'
import { lazyChildLoggerFactory } from '../service/request-logger.js'
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

t.test('a request\'s logger becomes a pino child on its first line, with the request id', async (t) => {
  const capture = logCapture()
  const parent = pino({ level: 'info' }, capture.stream)
  let children = 0
  parent.onChild = () => { children++ }
  const log = lazyChildLoggerFactory.call({} as FastifyInstance, parent, { reqId: 'req-7' }, {}, {} as IncomingMessage)
  t.equal(log.level, 'info')
  log.debug('below the level')
  t.equal(children, 1, 'a call builds the child (pino decides about the level)')
  log.warn({ cause: 'x' }, 'a warning')
  t.equal(children, 1, 'built once')
  await new Promise((resolve) => setImmediate(resolve))
  t.match(capture.lines(), [{ level: 40, reqId: 'req-7', cause: 'x', msg: 'a warning' }])
  const untouched = lazyChildLoggerFactory.call({} as FastifyInstance, parent, { reqId: 'req-8' }, {}, {} as IncomingMessage)
  t.equal(untouched.level, 'info')
  t.equal(children, 1, 'a request that never logs costs no child')
})
