import { connect } from 'node:net'
import t from 'tap'
import { build, GLOBAL } from '../helpers/app.js'
import { haveRedisServer, NO_REDIS } from '../helpers/redis.js'

t.test('a request the client aborts is counted as aborted, over a real socket', { skip: haveRedisServer() ? false : NO_REDIS }, async (t) => {
  const { app, udp } = await build(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const socket = connect(port, '127.0.0.1')
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  socket.write('GET /demo/io?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(app.inFlight(), 1, 'the request is in flight')
  socket.destroy()
  // Let the handler finish its sleep; the reply then has nobody to go to.
  await new Promise((resolve) => setTimeout(resolve, 400))
  await app.metrics.flush()
  const lines = await udp.waitFor((l) => l.some((x) => x.startsWith('http.requests.aborted:')))
  t.same(lines.filter((l) => l.startsWith('http.requests.aborted:')), [`http.requests.aborted:1|c|#${GLOBAL},method:GET,route:/demo/io`])
  t.equal(app.inFlight(), 0, 'in-flight returns to 0')
  t.comment(lines.join('\n'))
})
