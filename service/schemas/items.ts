import { Type } from '@fastify/type-provider-typebox'

/** Item key: 1-128 characters of `[A-Za-z0-9._:-]`; never a glob, space or control character. */
export const ItemKey = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' })

/** Item value: a string of at most 64 KiB (65,536 characters). */
export const ItemValue = Type.String({ maxLength: 65536 })

/** Expiry in seconds: 1 second to 30 days. */
export const ItemTtl = Type.Integer({ minimum: 1, maximum: 2592000 })

export const ItemParams = Type.Object({ key: ItemKey }, { additionalProperties: false })

export const PutItemBody = Type.Object({
  key: ItemKey,
  value: ItemValue,
  ttl: Type.Optional(ItemTtl)
}, { additionalProperties: false })

export const PutItemResponse = Type.Object({
  key: ItemKey,
  created: Type.Boolean()
}, { additionalProperties: false })

export const Item = Type.Object({ key: ItemKey, value: ItemValue }, { additionalProperties: false })

/**
 * SCAN cursor: a decimal unsigned 64-bit integer ("0" starts a scan). The pattern bounds the
 * length; the route also rejects values above 2^64-1, which Redis would refuse.
 */
export const Cursor = Type.String({ pattern: '^(0|[1-9][0-9]{0,19})$', default: '0' })

export const ListQuery = Type.Object({
  cursor: Type.Optional(Cursor),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 }))
}, { additionalProperties: false })

export const ItemPage = Type.Object({
  items: Type.Array(Item),
  next_cursor: Type.Union([Type.String(), Type.Null()])
}, { additionalProperties: false })
