import AjvCompiler from '@fastify/ajv-compiler'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { FastifySchemaValidationError } from 'fastify/types/schema.js'

/**
 * Ajv options on top of Fastify's defaults (coerceTypes 'array', useDefaults, ajv-formats; see
 * @fastify/ajv-compiler's README): unknown properties are rejected (a typo gets a 400 instead of
 * being silently removed), and Ajv stops at the first error (`allErrors: true` is a DoS vector).
 */
const COMMON = { removeAdditional: false, allErrors: false } as const

/**
 * Request-part validation, as a plugin: two Ajv instances built by Fastify's own compiler
 * manager (@fastify/ajv-compiler, as Fastify's Validation docs suggest for per-part options).
 *
 * - `body`: no type coercion. JSON has types; `{"ttl": "10"}` is a 400 `body/ttl must be integer`.
 * - `querystring`, `params`, `headers`: Fastify's `coerceTypes: 'array'`, because they arrive as
 *   text (`?limit=10` is the integer 10).
 *
 * Shared schemas (`fastify.addSchema`) are read when the first route is compiled, at ready time.
 */
async function validationPlugin (fastify: FastifyInstance): Promise<void> {
  const factory = AjvCompiler()
  let compilers: { body: ReturnType<typeof factory>, other: ReturnType<typeof factory> } | undefined
  fastify.setValidatorCompiler(({ schema, method, url, httpPart }) => {
    if (compilers === undefined) {
      const shared = fastify.getSchemas() as Parameters<typeof factory>[0]
      compilers = {
        body: factory(shared, { customOptions: { ...COMMON, coerceTypes: false } }),
        other: factory(shared, { customOptions: { ...COMMON } })
      }
    }
    // @fastify/ajv-compiler's typings say (schema) => validate; at run time it takes the route
    // definition, as Fastify's default compiler passes it (lib/validator-compiler.js).
    const compile = (httpPart === 'body' ? compilers.body : compilers.other) as unknown as (route: object) => ReturnType<ReturnType<typeof factory>>
    return compile({ schema, method, url, httpPart })
  })
}

/**
 * Turns Ajv errors into one message that names the field: `body/ttl must be <= 2592000`,
 * `body must NOT have additional properties: 'colour'`, `params/key must match pattern ...`.
 * Used as Fastify's `schemaErrorFormatter` (server option).
 */
export function validationError (errors: FastifySchemaValidationError[], dataVar: string): Error {
  const message = errors.map((e) => {
    const field = `${dataVar}${e.instancePath}`
    const extra = e.params?.additionalProperty
    const missing = e.params?.missingProperty
    const detail = typeof extra === 'string'
      ? `: '${extra}'`
      : typeof missing === 'string' && !String(e.message).includes(missing) ? `: '${missing}'` : ''
    return `${field} ${e.message ?? 'is invalid'}${detail}`
  }).join('; ')
  return new Error(message)
}

export default fp(validationPlugin, { name: 'validation', fastify: '5.x' })
