import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas/common.js'

const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  redis: Type.Optional(Type.Union([Type.Literal('up'), Type.Literal('down')]))
}, { additionalProperties: false })

/**
 * Health endpoints. `live` says the process answers (restart it if not); `ready` says it can
 * serve (Redis answers PING within REDIS_COMMAND_TIMEOUT_MS), else 503 so a balancer stops
 * sending traffic while the process stays up.
 */
const healthRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/health/live', {
    schema: { summary: 'Liveness', response: { 200: Health, ...errorResponses } }
  }, async () => ({ status: 'ok' as const }))

  fastify.get('/health/ready', {
    schema: { summary: 'Readiness: Redis answers PING', response: { 200: Health, 503: Health, ...errorResponses } }
  }, async (_request, reply) => {
    try {
      await fastify.redisCommands.run('ping', (redis) => redis.ping())
      return { status: 'ok' as const, redis: 'up' as const }
    } catch {
      return reply.code(503).send({ status: 'unavailable', redis: 'down' })
    }
  })
}

export default healthRoutes
