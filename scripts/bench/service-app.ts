import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { Redis } from 'ioredis'
import pino from 'pino'
import { buildApp, OMITTABLE_PARTS, serverOptions, type OmittablePart } from '../../service/app.js'
import type { Config } from '../../service/config.js'
import { ITEM_PREFIX } from '../../service/repositories/items.js'
import { noopSink } from '../../test/helpers/noop-sink.js'
import { ROUTES, type DecompositionPart, type Variant } from './app.js'

/** The benchmark's `service` and `twin` variants, and the service with one part left out (see ./app.ts). */

/**
 * The service as users run it (see VARIANTS in ./app.ts), or without one decomposition part. The
 * logger writes to /dev/null through pino's synchronous destination, what pino does with stdout.
 */
export async function serviceApp (variant: Variant, config: Config): Promise<FastifyInstance> {
  const part = variant.startsWith('service-no-') ? variant.slice('service-no-'.length) as DecompositionPart : undefined
  const shipped = serverOptions(config).logger as Exclude<FastifyServerOptions['logger'], boolean | undefined>
  const overrides: Partial<FastifyServerOptions> = {
    // Under valgrind on a busy machine a plugin can take longer than Fastify's default 10 s to load.
    pluginTimeout: 0,
    logger: part === 'logger' ? false : { ...shipped, stream: pino.destination({ dest: '/dev/null', sync: true }) },
    ...(part === 'timeouts' ? { connectionTimeout: 0, requestTimeout: 0 } : {})
  }
  const omit = new Set<OmittablePart>((OMITTABLE_PARTS as readonly string[]).includes(part ?? '') ? [part as OmittablePart] : [])
  return buildApp(config, overrides, part === 'metrics-sink' ? noopSink() : undefined, omit)
}

/** The minimal twin: Fastify and ioredis, the same answers, nothing else. */
export async function twinApp (config: Config): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  const redis = new Redis(config.redisUrl)
  await redis.ping()
  app.addHook('onClose', async () => { await redis.quit() })
  app.get(ROUTES.trivial.route, async () => ({ status: 'ok' }))
  app.get<{ Params: { key: string } }>(ROUTES.redis.route, async (request, reply) => {
    const { key } = request.params
    const value = await redis.get(ITEM_PREFIX + key)
    if (value === null) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `item ${key} not found` })
    return { key, value }
  })
  return app
}
