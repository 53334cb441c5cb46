import { Type } from '@fastify/type-provider-typebox'

/** Body of every 4xx and 5xx answer. 5xx messages say only what is safe (no stack, no cause). */
export const ErrorResponse = Type.Object({
  statusCode: Type.Integer({ minimum: 400, maximum: 599 }),
  error: Type.String(),
  message: Type.String(),
  code: Type.Optional(Type.String())
}, { $id: 'ErrorResponse', additionalProperties: false })

/** Response schemas for the error classes every route can answer. */
export const errorResponses = {
  '4xx': ErrorResponse,
  '5xx': ErrorResponse
} as const
