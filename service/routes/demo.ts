import { pbkdf2Sync, randomInt } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas/common.js'

const Done = Type.Object({ ok: Type.Boolean(), ms: Type.Optional(Type.Number()) }, { additionalProperties: false })

/**
 * Status codes `GET /demo/random-status` draws from, with weights out of 100: mostly 200, some
 * redirects, client errors and server errors, so every row of the RED dashboard moves.
 */
export const RANDOM_STATUS_WEIGHTS: ReadonlyArray<readonly [number, number]> = [
  [200, 88], [302, 3], [400, 2], [404, 3], [429, 1], [500, 2], [503, 1]
]

function drawStatus (): number {
  let roll = randomInt(100)
  for (const [status, weight] of RANDOM_STATUS_WEIGHTS) {
    if (roll < weight) return status
    roll -= weight
  }
  return 200
}

/**
 * Demo routes that give the dashboard something to show (switch off with DEMO_ROUTES=false):
 * - `/demo/io?ms=` waits `ms` milliseconds (0..2000, default 100) without blocking: I/O-bound.
 * - `/demo/cpu?iterations=` runs PBKDF2-SHA256 for that many iterations (1..200000, default
 *   20000, about 10 ms here) on the event loop: CPU-bound, it shows up as event-loop delay.
 * - `/demo/random-latency?max_ms=` waits a uniform 0..max_ms milliseconds (1..5000, default 500).
 * - `/demo/random-status` answers a status drawn from {@link RANDOM_STATUS_WEIGHTS}.
 * - `/demo/error` throws, to show the 500 path (a generic body, the error in the log).
 */
const demoRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/demo/io', {
    schema: {
      querystring: Type.Object({ ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 2000, default: 100 })) }, { additionalProperties: false }),
      response: { 200: Done, ...errorResponses }
    }
  }, async (request) => {
    const ms = request.query.ms ?? 100
    await sleep(ms)
    return { ok: true, ms }
  })

  fastify.get('/demo/cpu', {
    schema: {
      querystring: Type.Object({ iterations: Type.Optional(Type.Integer({ minimum: 1, maximum: 200000, default: 20000 })) }, { additionalProperties: false }),
      response: { 200: Done, ...errorResponses }
    }
  }, async (request) => {
    const start = performance.now()
    pbkdf2Sync('fastify-monitoring', 'demo', request.query.iterations ?? 20000, 32, 'sha256')
    return { ok: true, ms: Math.round(performance.now() - start) }
  })

  fastify.get('/demo/random-latency', {
    schema: {
      querystring: Type.Object({ max_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 500 })) }, { additionalProperties: false }),
      response: { 200: Done, ...errorResponses }
    }
  }, async (request) => {
    const ms = randomInt((request.query.max_ms ?? 500) + 1)
    await sleep(ms)
    return { ok: true, ms }
  })

  fastify.get('/demo/random-status', {
    schema: {
      response: {
        200: Done,
        '3xx': Type.Object({ ok: Type.Boolean() }, { additionalProperties: false }),
        ...errorResponses
      }
    }
  }, async (_request, reply) => {
    const status = drawStatus()
    if (status === 200) return { ok: true }
    if (status === 302) return reply.code(302).header('location', '/').send({ ok: false })
    const error = status >= 500 ? 'Server Error' : 'Client Error'
    return reply.code(status).send({ statusCode: status, error, message: `demo: drew status ${status}` })
  })

  fastify.get('/demo/error', {
    schema: { response: { 200: Done, ...errorResponses } }
  }, async () => {
    throw new Error('demo: an unexpected failure (its details stay in the log)')
  })
}

export default demoRoutes
