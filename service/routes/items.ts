import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { errorResponses } from '../schemas/common.js'
import { Item, ItemPage, ItemParams, ListQuery, PutItemBody, PutItemResponse } from '../schemas/items.js'

const MAX_CURSOR = 18446744073709551615n

function notFound (key: string): { statusCode: 404, error: string, message: string } {
  return { statusCode: 404, error: 'Not Found', message: `item ${key} not found` }
}

/**
 * `onRequest` hook of a route that takes no body: a request that carries none (no
 * Transfer-Encoding, Content-Length absent or 0) has its Content-Type header dropped, so Fastify
 * does not look for a parser. Without it, siege and other clients that send a content type on
 * every request would get 400 (`application/json`: an empty JSON body is invalid) or 415 (any
 * other type) on DELETE. A DELETE that does carry a body goes through the content-type parsers
 * like any request (415 for a media type without one); the route reads no body.
 */
function ignoreContentTypeWithoutBody (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const headers = request.raw.headers
  const length = headers['content-length']
  if (headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) delete headers['content-type']
  done()
}

/**
 * The items API: `POST /items`, `GET /items/:key`, `GET /items`, `DELETE /items/:key`.
 * A GET by key is a cache lookup and is counted as a hit or a miss.
 */
const itemsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const cacheHit = fastify.serviceMetrics.cacheLookups.with({ result: 'hit' })
  const cacheMiss = fastify.serviceMetrics.cacheLookups.with({ result: 'miss' })
  fastify.post('/items', {
    schema: {
      summary: 'Store an item (201 created, 200 replaced)',
      body: PutItemBody,
      response: { 200: PutItemResponse, 201: PutItemResponse, ...errorResponses }
    }
  }, async (request, reply) => {
    const { key, value, ttl } = request.body
    const created = await fastify.items.put(key, value, ttl)
    if (created) reply.code(201).header('location', `/items/${key}`)
    return { key, created }
  })

  fastify.get('/items/:key', {
    schema: {
      summary: 'Read an item (a cache lookup: hit or miss)',
      params: ItemParams,
      response: { 200: Item, ...errorResponses }
    }
  }, async (request, reply) => {
    const { key } = request.params
    const value = await fastify.items.get(key)
    if (value === null) cacheMiss.record(1)
    else cacheHit.record(1)
    if (value === null) return reply.code(404).send(notFound(key))
    return { key, value }
  })

  fastify.get('/items', {
    schema: {
      summary: 'List items, one SCAN page at a time',
      querystring: ListQuery,
      response: { 200: ItemPage, ...errorResponses }
    }
  }, async (request, reply) => {
    const cursor = request.query.cursor ?? '0'
    const limit = request.query.limit ?? 20
    if (BigInt(cursor) > MAX_CURSOR) {
      return reply.code(400).send({
        statusCode: 400,
        error: 'Bad Request',
        message: 'querystring/cursor must be at most 18446744073709551615'
      })
    }
    const page = await fastify.items.list(cursor, limit)
    return { items: page.items, next_cursor: page.nextCursor }
  })

  fastify.delete('/items/:key', {
    onRequest: ignoreContentTypeWithoutBody,
    schema: {
      summary: 'Delete an item (204, or 404 when absent)',
      params: ItemParams,
      response: { 204: Type.Null(), ...errorResponses }
    }
  }, async (request, reply) => {
    const { key } = request.params
    if (!(await fastify.items.delete(key))) return reply.code(404).send(notFound(key))
    return reply.code(204).send(null)
  })
}

export default itemsRoutes
