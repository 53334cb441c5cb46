import { Type } from '@fastify/type-provider-typebox'

/** Longest item key, in characters. */
export const KEY_MAX_CHARS = 128
/** Longest item value, in characters (Unicode code points: Ajv's maxLength counts a surrogate pair once). */
export const VALUE_MAX_CHARS = 65536
/** Longest expiry, in seconds (30 days). */
export const TTL_MAX_SECONDS = 2592000

/** Item key: 1-128 characters of `[A-Za-z0-9._:-]`; never a glob, space or control character. */
export const ItemKey = Type.String({ minLength: 1, maxLength: KEY_MAX_CHARS, pattern: '^[A-Za-z0-9._:-]+$' })

/**
 * Item value: a string of at most 65,536 characters. A lone surrogate (`"\ud800x"`: half of a
 * UTF-16 pair, no Unicode character) is rejected with 400 naming `body/value`: Redis stores
 * UTF-8, where it cannot be encoded, so it would silently become U+FFFD. Ajv compiles patterns
 * with the `u` flag (its default `unicodeRegExp`), under which `[\uD800-\uDFFF]` matches only
 * unpaired surrogates; a pair is one code point outside that range.
 */
export const ItemValue = Type.String({ maxLength: VALUE_MAX_CHARS, pattern: '^[^\\uD800-\\uDFFF]*$' })

/** Expiry in seconds: 1 second to 30 days. */
export const ItemTtl = Type.Integer({ minimum: 1, maximum: TTL_MAX_SECONDS })

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

/**
 * Size in bytes of the longest `POST /items` body the schema accepts when spelled without
 * insignificant white space: every character in its longest JSON escape (a value character above
 * U+FFFF as a `\uXXXX\uXXXX` surrogate pair, 12 bytes; a key or property-name character as
 * `\u00XX`, 6 bytes), all three members present, `ttl` in plain digits.
 * `{"key":"<128 x 6>","value":"<65,536 x 12>","ttl":2592000}` with escaped names: 787,290 bytes.
 */
export const LONGEST_PUT_ITEM_BODY_BYTES = (() => {
  const name = (n: string): number => 2 + 6 * n.length
  const members = [
    name('key') + 1 + 2 + 6 * KEY_MAX_CHARS,
    name('value') + 1 + 2 + 12 * VALUE_MAX_CHARS,
    name('ttl') + 1 + String(TTL_MAX_SECONDS).length
  ]
  return 2 + (members.length - 1) + members.reduce((a, b) => a + b, 0)
})()
