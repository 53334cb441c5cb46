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

/** `FRACTIONS[n]` is the decimal part `.nnn` of n thousandths, trailing zeros dropped: `''`, `.001`, ..., `.25`, ..., `.999`. */
const FRACTIONS: readonly string[] = Array.from({ length: 1000 }, (_, n) =>
  n === 0 ? '' : `.${String(n).padStart(3, '0')}`.replace(/0+$/, ''))

/**
 * A millisecond value (finite, 0..{@link MAX_TIMER_MS}) rounded to the microsecond, trailing
 * zeros dropped (`12`, `0.25`, `0.004`): the same text as `String(Math.round(ms * 1000) / 1000)`
 * (test/metrics/aggregating-sink.test.ts compares the two), built from the whole milliseconds
 * and a table of the 1000 decimal parts. Printing a fractional double takes V8's shortest-digits
 * algorithm, about 900 instructions more per value: on a trivial request that was 2% of the
 * request's whole cost (README, "Performance").
 */
export function formatMs (ms: number): string {
  const us = Math.round(ms * 1000)
  const whole = Math.floor(us / 1000)
  return `${whole}${FRACTIONS[us - whole * 1000]}`
}

export class DatagramWriter<S extends LineShape> {
  /** Bytes in the datagram under construction, as hot-shots' buffer holds them. */
  private len = 0
  /** Datagrams, lines and datagram bytes (newlines included) written since the last {@link take}. */
  private counts = { datagrams: 0, lines: 0, bytes: 0 }

  /**
   * @param maxBytes largest datagram, in bytes (STATSD_MAX_DATAGRAM_BYTES, hot-shots' `maxBufferSize`).
   * @param send hands each line to hot-shots.
   */
  constructor (private readonly maxBytes: number, private readonly send: SendLine<S>) {}

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
    let i = 0
    while (i < count) {
      if (fixed + MAX_VALUE_WIDTH > this.room()) this.endDatagram()
      // Room for the separator and the widest value: the line never outgrows the datagram.
      const limit = this.room() - MAX_VALUE_WIDTH - 1
      let packed = formatMs(values[i++])
      let size = fixed + packed.length
      while (i < count && size <= limit) {
        const value = formatMs(values[i++])
        packed += ':' + value
        size += 1 + value.length
      }
      this.put(shape, packed, size)
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
