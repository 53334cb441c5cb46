import type { ServerResponse } from 'node:http'
import { connect } from 'node:net'
import t from 'tap'
import { build, GLOBAL } from '../helpers/app.js'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'
import { until } from '../helpers/wait.js'

t.test('a request the client aborts is counted as aborted, over a real socket', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const { app, udp } = await build(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  // The raw response Node gives Fastify: its end() is the handler's reply being written.
  let raw: ServerResponse | undefined
  app.server.once('request', (_req, res: ServerResponse) => { raw = res })
  const socket = connect(port, '127.0.0.1')
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  socket.write('GET /demo/io?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n')
  await until('request in flight', () => app.inFlight() === 1)
  t.equal(raw?.writableEnded, false, 'the request is in flight, not answered yet')
  socket.destroy()
  // The handler finishes its sleep and replies to nobody: wait for that reply to be written.
  await until('reply to the closed socket', () => raw?.writableEnded === true)
  await app.metrics.flush()
  const lines = await udp.waitFor((l) => l.some((x) => x.startsWith('http.requests.aborted:')))
  t.same(lines.filter((l) => l.startsWith('http.requests.aborted:')), [`http.requests.aborted:1|c|#${GLOBAL},method:GET,route:/demo/io`])
  t.equal(app.inFlight(), 0, 'in-flight returns to 0')
  t.comment(lines.join('\n'))
})
