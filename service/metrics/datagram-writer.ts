/**
 * Packs StatsD lines into datagrams no larger than a byte limit, writing bytes directly into a
 * Buffer: no string is built per value.
 *
 * A line is never split across datagrams (statsd_exporter parses each datagram on its own). A
 * multi-value timer line (`name:v1:v2:...|ms|#tags`, counted by statsd_exporter as one
 * observation per value) is cut into as many lines as needed so that each one fits.
 */

/** Widest timer value written: up to 10 integer digits, `.`, 3 decimals. */
const MAX_VALUE_WIDTH = 14
/** Largest timer value written, in ms (about 11.5 days): keeps every value within the width. */
export const MAX_TIMER_MS = 999_999_999
const NEWLINE = 0x0a
const COLON = 0x3a
const DOT = 0x2e
const ZERO = 0x30

/** Called with one finished datagram and the number of lines in it. */
export type EmitDatagram = (datagram: Buffer, lines: number) => void

export class DatagramWriter {
  private buf: Buffer
  private len = 0
  private lines = 0

  /**
   * @param maxBytes largest datagram, in bytes (STATSD_MAX_DATAGRAM_BYTES); keep it below the
   *   path MTU minus IP and UDP headers so datagrams are never fragmented.
   * @param emit receives each datagram once full or at {@link finish}; the buffer is not reused.
   */
  constructor (private readonly maxBytes: number, private readonly emit: EmitDatagram) {
    this.buf = Buffer.allocUnsafe(maxBytes)
  }

  /**
   * Writes one line `head + value + tail` (a counter or a gauge). `head` is `name:`, `tail` is
   * `|c|#tags` or `|g|#tags`, `value` is ASCII. A line longer than the limit on its own (only
   * possible with absurd tags) is sent alone rather than split or dropped.
   */
  line (head: Buffer, value: string, tail: Buffer): void {
    const size = head.length + value.length + tail.length
    if (size > this.room()) this.send()
    if (size > this.maxBytes) {
      this.emit(Buffer.concat([head, Buffer.from(value, 'latin1'), tail]), 1)
      return
    }
    this.newline()
    this.len += head.copy(this.buf, this.len)
    this.len += this.buf.write(value, this.len, 'latin1')
    this.len += tail.copy(this.buf, this.len)
    this.lines++
  }

  /**
   * Writes `count` timer values (milliseconds, finite, 0..{@link MAX_TIMER_MS}) as one or more
   * multi-value lines `head v1:v2:... tail`, each fitting the current datagram or a new one.
   * Values are written rounded to the microsecond, trailing zeros dropped (`12`, `0.25`, `0.004`).
   */
  timer (head: Buffer, values: Float64Array, count: number, tail: Buffer): void {
    const fixed = head.length + tail.length
    if (fixed + MAX_VALUE_WIDTH > this.maxBytes) {
      // Tags too long for even one value per datagram: one oversized line per value.
      for (let i = 0; i < count; i++) this.line(head, String(Math.round(values[i] * 1000) / 1000), tail)
      return
    }
    let i = 0
    while (i < count) {
      if (fixed + MAX_VALUE_WIDTH > this.room()) this.send()
      this.newline()
      this.len += head.copy(this.buf, this.len)
      this.putMs(values[i++])
      // Room for the separator, the widest value and the tail: the line can never overflow.
      const limit = this.maxBytes - tail.length - MAX_VALUE_WIDTH - 1
      while (i < count && this.len <= limit) {
        this.buf[this.len++] = COLON
        this.putMs(values[i++])
      }
      this.len += tail.copy(this.buf, this.len)
      this.lines++
    }
  }

  /** Emits the datagram under construction, if any. */
  finish (): void {
    this.send()
  }

  /** Bytes a new line may use in the current datagram (its newline separator counted). */
  private room (): number {
    return this.len === 0 ? this.maxBytes : this.maxBytes - this.len - 1
  }

  private newline (): void {
    if (this.len > 0) this.buf[this.len++] = NEWLINE
  }

  private send (): void {
    if (this.len === 0) return
    const datagram = this.buf.subarray(0, this.len)
    const lines = this.lines
    this.buf = Buffer.allocUnsafe(this.maxBytes)
    this.len = 0
    this.lines = 0
    this.emit(datagram, lines)
  }

  /** Writes a millisecond value rounded to the microsecond, as ASCII. */
  private putMs (ms: number): void {
    const us = Math.round(ms * 1000)
    const whole = Math.floor(us / 1000)
    const frac = us - whole * 1000
    this.putUint(whole)
    if (frac === 0) return
    const buf = this.buf
    buf[this.len++] = DOT
    const d1 = Math.floor(frac / 100)
    const d2 = Math.floor(frac / 10) % 10
    const d3 = frac % 10
    buf[this.len++] = ZERO + d1
    if (d2 === 0 && d3 === 0) return
    buf[this.len++] = ZERO + d2
    if (d3 !== 0) buf[this.len++] = ZERO + d3
  }

  private putUint (n: number): void {
    let digits = 1
    for (let p = 10; p <= n; p *= 10) digits++
    let pos = this.len + digits
    this.len = pos
    do {
      const q = Math.floor(n / 10)
      this.buf[--pos] = ZERO + (n - q * 10)
      n = q
    } while (n > 0)
  }
}
