import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas/common.js'

/** `GET /`: the hit counter (INCR in Redis), as in the classic compose demo. */
const hitsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    schema: {
      summary: 'Count this visit',
      response: {
        200: Type.Object({ hits: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
        ...errorResponses
      }
    }
  }, async () => ({ hits: await fastify.hits.increment() }))
}

export default hitsRoutes
