/**
 * Cuts aggregated measurements into StatsD lines that fill hot-shots' datagrams.
 *
 * hot-shots buffers lines and sends the buffer as one datagram when the next line would make it
 * longer than `maxBufferSize` (lib/statsd.js `enqueue`: a line is never split; a line longer
 * than the limit on its own leaves alone). This writer keeps the same arithmetic, so it knows how
 * much room the datagram under construction has left and cuts a multi-value timer line
 * (`name:v1:v2:...|ms|#tags`) to fill it; it also counts the datagrams that come out. The
 * aggregating sink calls hot-shots' `flush()` after every flush of its own, so hot-shots' buffer
 * starts empty each time and the two stay in step (test/metrics/aggregating-sink.test.ts checks
 * the count against what a real socket received).
 */

/** Widest timer value written: up to 10 integer digits, `.`, 3 decimals. */
const MAX_VALUE_WIDTH = 14
/** Largest timer value written, in ms (about 11.5 days): keeps every value within the width. */
export const MAX_TIMER_MS = 999_999_999

/** The fixed parts of a line: `name:` before the value, `|type|#global,tags` after it. */
export interface LineShape {
  /** Bytes of everything but the value, as hot-shots writes the line. */
  readonly fixedBytes: number
}

/** Hands one line to hot-shots: its shape and the value text (`12.5`, or `1:2.5:0.125` for a timer). */
export type SendLine<S extends LineShape> = (shape: S, value: string) => void

/** ASCII codes of `0`, `.` and `:`. */
const ZERO = 48
const DOT = 46
const COLON = 58
/** `FRACTION_LENGTH[n]`: digits after the point for n thousandths, trailing zeros dropped (0 for n = 0, 2 for 250). */
const FRACTION_LENGTH = new Uint8Array(1000)
/** `FRACTION_DIGITS[3n..3n+2]`: the three digits of n thousandths (`250` -> `2`, `5`, `0`). */
const FRACTION_DIGITS = new Uint8Array(3000)
for (let n = 0; n < 1000; n++) {
  const digits = String(n).padStart(3, '0')
  for (let k = 0; k < 3; k++) FRACTION_DIGITS[3 * n + k] = digits.charCodeAt(k)
  FRACTION_LENGTH[n] = digits.replace(/0+$/, '').length
}

/**
 * Writes a millisecond value (finite, 0..{@link MAX_TIMER_MS}) rounded to the microsecond, trailing
 * zeros dropped (`12`, `0.25`, `0.004`), as ASCII into `buf` at `pos`; returns the position after
 * it. At most {@link MAX_VALUE_WIDTH} bytes. The text is what `String(Math.round(ms * 1000) / 1000)`
 * gives (test/metrics/datagram-writer.test.ts compares the two), without a string per value:
 * printing a fractional double takes V8's shortest-digits algorithm, and with the strings joined
 * per line it cost about 1,300 instructions per value against about 150 now (valgrind, the
 * formatting alone; docs/metrics.md, "How the instrumentation works").
 */
export function writeMs (buf: Uint8Array, pos: number, ms: number): number {
  const us = Math.round(ms * 1000)
  let whole = Math.floor(us / 1000)
  const fraction = us - whole * 1000
  let end = pos + 1
  for (let rest = whole; rest >= 10; rest = Math.floor(rest / 10)) end++
  for (let at = end - 1; at >= pos; at--) {
    const next = Math.floor(whole / 10)
    buf[at] = ZERO + whole - next * 10
    whole = next
  }
  const length = FRACTION_LENGTH[fraction]
  if (length === 0) return end
  buf[end++] = DOT
  for (let k = 3 * fraction, last = k + length; k < last; k++) buf[end++] = FRACTION_DIGITS[k]
  return end
}

const ONE_VALUE = Buffer.alloc(MAX_VALUE_WIDTH)

/** {@link writeMs} as a string. */
export function formatMs (ms: number): string {
  return ONE_VALUE.toString('latin1', 0, writeMs(ONE_VALUE, 0, ms))
}

export class DatagramWriter<S extends LineShape> {
  /** Bytes in the datagram under construction, as hot-shots' buffer holds them. */
  private len = 0
  /** The values of the timer line being written (a line's values never exceed the datagram). */
  private readonly values: Buffer
  /** Datagrams, lines and datagram bytes (newlines included) written since the last {@link take}. */
  private counts = { datagrams: 0, lines: 0, bytes: 0 }

  /**
   * @param maxBytes largest datagram, in bytes (STATSD_MAX_DATAGRAM_BYTES, hot-shots' `maxBufferSize`).
   * @param send hands each line to hot-shots.
   */
  constructor (private readonly maxBytes: number, private readonly send: SendLine<S>) {
    this.values = Buffer.alloc(maxBytes)
  }

  /** Writes one counter or gauge line. */
  line (shape: S, value: string): void {
    this.put(shape, value, shape.fixedBytes + value.length)
  }

  /**
   * Writes `count` timer values (milliseconds, finite, 0..{@link MAX_TIMER_MS}) as one or more
   * multi-value lines, each fitting the current datagram or a new one. Tags too long for even one
   * value per datagram: one oversized line per value, sent alone rather than split or dropped.
   */
  timer (shape: S, values: Float64Array, count: number): void {
    const fixed = shape.fixedBytes
    if (fixed + MAX_VALUE_WIDTH > this.maxBytes) {
      for (let i = 0; i < count; i++) this.line(shape, formatMs(values[i]))
      return
    }
    // The values of one line are written as bytes and become one string: no string per value.
    const buf = this.values
    let i = 0
    while (i < count) {
      if (fixed + MAX_VALUE_WIDTH > this.room()) this.endDatagram()
      // Room for the separator and the widest value: the line never outgrows the datagram.
      const limit = this.room() - MAX_VALUE_WIDTH - 1
      let end = writeMs(buf, 0, values[i++])
      while (i < count && fixed + end <= limit) {
        buf[end++] = COLON
        end = writeMs(buf, end, values[i++])
      }
      this.put(shape, buf.toString('latin1', 0, end), fixed + end)
    }
  }

  /** Ends the datagram under construction (hot-shots' `flush()` sends it) and returns the counts since the last call. */
  take (): { datagrams: number, lines: number, bytes: number } {
    this.endDatagram()
    const counts = this.counts
    this.counts = { datagrams: 0, lines: 0, bytes: 0 }
    return counts
  }

  /** Bytes a new line may use in the current datagram (its newline separator counted). */
  private room (): number {
    return this.len === 0 ? this.maxBytes : this.maxBytes - this.len - 1
  }

  private endDatagram (): void {
    if (this.len > 0) {
      this.counts.datagrams++
      this.counts.bytes += this.len
    }
    this.len = 0
  }

  private put (shape: S, value: string, size: number): void {
    if (size > this.room()) {
      this.endDatagram()
      this.len = size
    } else {
      this.len += this.len === 0 ? size : size + 1
    }
    this.counts.lines++
    this.send(shape, value)
  }
}
