import type { StatsD } from 'hot-shots'
import { PLUGIN_METRICS as METRICS, type MetricDefinition } from './catalogue.js'
import { DatagramWriter, MAX_TIMER_MS, type LineShape } from './datagram-writer.js'
import type { MetricsSink, SampledGauge, Series } from './sink.js'
import { sendTimerValues, statsdClient } from './statsd-client.js'

/** StatsD type of a slot: counter, timer (milliseconds), gauge. */
type Kind = 'c' | 'ms' | 'g'

const KIND = { counter: 'c', timer: 'ms', gauge: 'g' } as const
const NO_VALUES = new Float64Array(0)
/** Longest a flush is waited for (ms): {@link AggregatingSink.flush} and close never hang on a dead receiver. */
const SETTLE_MS = 2000

/**
 * One aggregation slot: a metric name with one fixed tag set. Its tags and the byte size of its
 * line without the value are worked out once, when the slot is created; recording only adds a
 * number.
 */
class Slot implements LineShape {
  /** Counter: sum since the last flush. Gauge: the latest value. */
  value = 0
  /** Timer: values since the last flush (ms), the first `count` entries. */
  values: Float64Array
  count = 0
  /** Listed for the next flush. */
  dirty = false
  readonly fixedBytes: number

  /**
   * @param tags the slot's own tags (`key:value`), sent after hot-shots' global tags.
   * @param global the global tags as hot-shots writes them (`service:x,instance:y`), for the size only.
   */
  constructor (readonly kind: Kind, readonly name: string, readonly tags: string[], global: string) {
    const all = global === '' ? tags.join(',') : tags.length === 0 ? global : `${global},${tags.join(',')}`
    // name:VALUE|kind|#all -- hot-shots' format (lib/statsd.js sendStat and send).
    this.fixedBytes = Buffer.byteLength(`${name}:|${kind}${all === '' ? '' : `|#${all}`}`)
    this.values = kind === 'ms' ? new Float64Array(16) : NO_VALUES
  }
}

/** The two slots one response records into. */
interface HttpSlots { requests: Slot, duration: Slot }

export interface AggregatingSinkOptions {
  /** Where hot-shots sends the datagrams (host name or address, UDP port). */
  host: string
  port: number
  /** Tags on every line, in this order (the plugin sets `service`, `instance`, then extra ones); hot-shots' `globalTags`. */
  globalTags?: Record<string, string>
  /** Everything pending is sent at least this often (ms). */
  flushIntervalMs: number
  /** No datagram is larger (bytes); hot-shots' `maxBufferSize`. */
  maxDatagramBytes: number
  /**
   * Timer observations pending that make the sink flush on the next turn of the event loop,
   * instead of waiting for the interval. Default: about one datagram's worth
   * (`maxDatagramBytes / 8`), so datagrams leave evenly spread instead of in bursts a receiver
   * could drop.
   */
  flushObservations?: number
  /** Observations pending that make the sink flush at once, in the recording call. Default 64x the above. */
  maxObservations?: number
  /**
   * Gets send failures, at most one per `reportEveryMs` (default 1000), each with the running
   * drop count; the plugin rate-limits the log further.
   */
  onError?: (err: Error) => void
  reportEveryMs?: number
}

/** What the sink has done since it was created (counts). */
export interface SinkStats {
  /** Timer values and counter increments recorded. */
  observations: number
  flushes: number
  /**
   * Datagrams, lines and bytes handed to hot-shots' socket, less the datagrams it reported
   * failed. Exact once {@link AggregatingSink.flush} resolved; in between, a failure still in
   * flight is not counted yet.
   */
  datagrams: number
  lines: number
  bytes: number
  /**
   * Send failures hot-shots reported (`errorHandler`, or the error of a flush): for UDP one
   * datagram dropped each (name not resolved, socket closed, kernel refused the send).
   * A receiver that is gone is NOT among them: hot-shots' UDP socket is not connected, so an
   * ICMP port unreachable never comes back to it (Linux reports those on connected sockets only).
   */
  droppedDatagrams: number
  /**
   * Timer values dropped before leaving: `maxObservations` reached while a flush was still in
   * hot-shots (a receiver whose name does not resolve keeps each flush there ~1 s).
   */
  droppedObservations: number
  /** Timer observations held right now (bounded by `maxObservations`). */
  pending: number
}

/**
 * A {@link MetricsSink} that aggregates on the client, as DogStatsD clients do: a measurement
 * only updates a pre-built slot (counters add, timers append to a Float64Array, gauges keep the
 * last value); a flush writes counters as sums and timers as multi-value lines
 * (`http.request.duration:0.41:0.38:1.2|ms|#...`, which statsd_exporter counts as one observation
 * per value) sized to fill datagrams of at most `maxDatagramBytes`, never splitting a line.
 *
 * Every line leaves through one hot-shots client (./statsd-client.ts): hot-shots owns the socket,
 * DNS caching, buffering into datagrams, the global tags, error handling and close-with-flush.
 * This class owns only what hot-shots does not do: aggregating, and packing timer values into
 * lines that fit a datagram (hot-shots' own `aggregation` option covers counters, gauges and sets
 * but sends every timing as its own line).
 *
 * It flushes every `flushIntervalMs`, as soon as about a datagram's worth of timer values is
 * pending (on the next turn of the event loop), synchronously when `maxObservations` are pending,
 * on {@link flush} and on {@link close}. Nothing is kept after a flush, so memory stays bounded
 * whatever the receiver does: datagrams hot-shots cannot send are dropped and counted, and each
 * failure goes to `onError` (rate-limited). Recording never throws, and does no I/O unless a
 * burst that never yields to the event loop reaches `maxObservations`.
 *
 * While sends fail, one flush at a time is in hot-shots: the next waits until hot-shots called
 * back (every send settled, at most 2 s), aggregating meanwhile; the first send that succeeds
 * ends this. It matters when STATSD_HOST does not resolve: hot-shots caches only successful
 * lookups, so every datagram starts its own lookup, ~0.2-1 s each to fail, four at a time in
 * libuv's thread pool; without the wait they would pile up without bound. Timer values beyond
 * `maxObservations` held meanwhile are dropped and counted (`droppedObservations`).
 */
export class AggregatingSink implements MetricsSink {
  private readonly global: string
  private readonly client: StatsD
  private readonly writer: DatagramWriter<Slot>
  private readonly flushObservations: number
  private readonly maxObservations: number
  private readonly onError: (err: Error) => void
  private readonly http = new Map<string, Map<string, Map<number, HttpSlots>>>()
  private readonly abortSlots = new Map<string, Map<string, Slot>>()
  private readonly gaugeSlots = new Map<string, Slot>()
  private readonly cpu: Slot
  private dirty: Slot[] = []
  private spare: Slot[] = []
  private pending = 0
  private scheduled = false
  private closed = false
  /** Flushes in hot-shots: handed to its socket, not every send settled yet (hot-shots' flush callback). */
  private inFlight = 0
  /** The last send failed and none succeeded since: flushes go one at a time. */
  private failing = false
  /** A flush was asked for while one was in hot-shots. */
  private deferred = false
  private waiters: Array<() => void> = []
  private readonly reportEveryMs: number
  private lastReport = -Infinity
  private readonly interval: NodeJS.Timeout
  private readonly counts: Omit<SinkStats, 'pending'> = {
    observations: 0, flushes: 0, datagrams: 0, lines: 0, bytes: 0, droppedDatagrams: 0, droppedObservations: 0
  }

  /** @throws {RangeError} naming the option, for a limit that cannot work. */
  constructor (opts: AggregatingSinkOptions) {
    if (!(opts.flushIntervalMs > 0)) throw new RangeError(`flushIntervalMs must be > 0, got ${opts.flushIntervalMs}`)
    if (!(opts.maxDatagramBytes >= 128)) throw new RangeError(`maxDatagramBytes must be >= 128, got ${opts.maxDatagramBytes}`)
    if (opts.flushObservations !== undefined && !(opts.flushObservations >= 1)) {
      throw new RangeError(`flushObservations must be >= 1, got ${opts.flushObservations}`)
    }
    this.flushObservations = opts.flushObservations ?? Math.max(16, Math.floor(opts.maxDatagramBytes / 8))
    this.maxObservations = opts.maxObservations ?? this.flushObservations * 64
    if (!(this.maxObservations >= this.flushObservations)) {
      throw new RangeError(`maxObservations must be >= flushObservations (${this.flushObservations}), got ${this.maxObservations}`)
    }
    this.global = Object.entries(opts.globalTags ?? {}).map(([k, v]) => `${k}:${v}`).join(',')
    this.onError = opts.onError ?? (() => {})
    this.reportEveryMs = opts.reportEveryMs ?? 1000
    this.client = statsdClient({
      host: opts.host,
      port: opts.port,
      globalTags: opts.globalTags,
      maxDatagramBytes: opts.maxDatagramBytes,
      flushIntervalMs: opts.flushIntervalMs,
      onError: (err) => this.dropped(err)
    })
    this.writer = new DatagramWriter<Slot>(opts.maxDatagramBytes, (slot, value) => this.send(slot, value))
    this.cpu = this.slot('c', METRICS.cpuSeconds.statsd, [])
    this.interval = setInterval(() => this.flushNow(), opts.flushIntervalMs)
    this.interval.unref()
  }

  response (method: string, route: string, statusCode: number, durationMs: number): void {
    if (this.closed) return
    let byMethod = this.http.get(route)
    if (byMethod === undefined) this.http.set(route, byMethod = new Map())
    let byStatus = byMethod.get(method)
    if (byStatus === undefined) byMethod.set(method, byStatus = new Map())
    let slots = byStatus.get(statusCode)
    if (slots === undefined) {
      const tags = [`method:${method}`, `route:${route}`, `status_code:${statusCode}`]
      slots = {
        requests: this.slot('c', METRICS.httpRequests.statsd, tags),
        duration: this.slot('ms', METRICS.httpRequestDuration.statsd, tags)
      }
      byStatus.set(statusCode, slots)
    }
    this.add(slots.requests, 1)
    this.observe(slots.duration, durationMs)
  }

  aborted (method: string, route: string): void {
    if (this.closed) return
    let byMethod = this.abortSlots.get(route)
    if (byMethod === undefined) this.abortSlots.set(route, byMethod = new Map())
    let slot = byMethod.get(method)
    if (slot === undefined) {
      byMethod.set(method, slot = this.slot('c', METRICS.httpRequestsAborted.statsd, [`method:${method}`, `route:${route}`]))
    }
    this.add(slot, 1)
  }

  series (metric: MetricDefinition, tags: readonly string[]): Series {
    const slot = this.slot(KIND[metric.type], metric.statsd, [...tags])
    if (slot.kind === 'ms') return { record: (ms) => { if (!this.closed) this.observe(slot, ms) } }
    if (slot.kind === 'c') return { record: (n) => { if (!this.closed) this.add(slot, n) } }
    return { record: (value) => { if (!this.closed) this.set(slot, value) } }
  }

  gauge (metric: SampledGauge, value: number): void {
    if (this.closed) return
    let slot = this.gaugeSlots.get(metric)
    if (slot === undefined) this.gaugeSlots.set(metric, slot = this.slot('g', METRICS[metric].statsd, []))
    this.set(slot, value)
  }

  cpuSeconds (seconds: number): void {
    if (this.closed) return
    this.add(this.cpu, seconds)
  }

  info (version: string, nodeVersion: string): void {
    if (this.closed) return
    const key = `version:${version},node_version:${nodeVersion}`
    let slot = this.gaugeSlots.get(key)
    if (slot === undefined) this.gaugeSlots.set(key, slot = this.slot('g', METRICS.serviceInfo.statsd, [`version:${version}`, `node_version:${nodeVersion}`]))
    this.set(slot, 1)
  }

  /** Sends everything pending; resolves once hot-shots' socket took every datagram sent so far (or 2 s passed). */
  async flush (): Promise<void> {
    const deadline = performance.now() + SETTLE_MS
    do {
      this.flushNow()
      await this.settled()
    } while (this.dirty.length > 0 && performance.now() < deadline)
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.interval)
    // Flushed first, so hot-shots' close finds an empty buffer: its close skips closing the
    // socket when its final flush fails (README, "Callback semantics").
    await this.flush()
    await new Promise<void>((resolve) => this.client.close(() => resolve()))
  }

  /** Counters for tests, benchmarks and diagnostics. */
  stats (): SinkStats {
    return { ...this.counts, datagrams: this.counts.datagrams - this.counts.droppedDatagrams, pending: this.pending }
  }

  private slot (kind: Kind, name: string, tags: string[]): Slot {
    return new Slot(kind, name, tags, this.global)
  }

  private add (slot: Slot, n: number): void {
    slot.value += n
    this.counts.observations++
    if (!slot.dirty) this.mark(slot)
  }

  private set (slot: Slot, value: number): void {
    slot.value = value
    if (!slot.dirty) this.mark(slot)
  }

  private observe (slot: Slot, durationMs: number): void {
    // NaN and negatives become 0; the writer's fixed width needs an upper bound.
    const value = durationMs > 0 ? (durationMs < MAX_TIMER_MS ? durationMs : MAX_TIMER_MS) : 0
    if (slot.count === slot.values.length) {
      const grown = new Float64Array(slot.values.length * 2)
      grown.set(slot.values)
      slot.values = grown
    }
    slot.values[slot.count++] = value
    this.counts.observations++
    if (!slot.dirty) this.mark(slot)
    if (++this.pending >= this.flushObservations) this.overflow()
  }

  private mark (slot: Slot): void {
    slot.dirty = true
    this.dirty.push(slot)
  }

  private overflow (): void {
    if (this.pending >= this.maxObservations) {
      this.flushNow()
    } else if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => {
        this.scheduled = false
        this.flushNow()
      })
    }
  }

  private flushNow (): void {
    if (this.failing && this.inFlight > 0) {
      // While sends fail, one flush in hot-shots at a time (see the class comment); keep aggregating meanwhile.
      this.deferred = true
      if (this.pending >= this.maxObservations) this.shed()
      return
    }
    const dirty = this.dirty
    if (dirty.length === 0) return
    this.dirty = this.spare
    this.spare = dirty
    this.pending = 0
    this.counts.flushes++
    const writer = this.writer
    for (let i = 0; i < dirty.length; i++) {
      const slot = dirty[i]
      slot.dirty = false
      if (slot.kind === 'ms') {
        writer.timer(slot, slot.values, slot.count)
        slot.count = 0
      } else {
        writer.line(slot, String(slot.value))
        if (slot.kind === 'c') slot.value = 0
      }
    }
    dirty.length = 0
    const { datagrams, lines, bytes } = writer.take()
    this.counts.datagrams += datagrams
    this.counts.lines += lines
    this.counts.bytes += bytes
    this.inFlight++
    let done = false
    const settle = (err?: Error | null, timedOut = false): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      // The error of the flush's own datagram comes here instead of the errorHandler.
      if (err !== undefined && err !== null) this.dropped(err)
      else if (!timedOut) this.failing = false
      this.inFlight--
      if (this.inFlight > 0) return
      const waiters = this.waiters
      this.waiters = []
      for (const resolve of waiters) resolve()
      if (this.deferred) {
        this.deferred = false
        setImmediate(() => this.flushNow())
      }
    }
    const timer = setTimeout(() => settle(null, true), SETTLE_MS)
    timer.unref()
    // hot-shots' flush(callback): sends its buffer now (the writer assumes every flush starts on
    // an empty buffer), and calls back once every send in flight settled.
    this.client.flush((err) => settle(err))
  }

  /** Drops the timer values held while sends fail, a flush is in hot-shots and `maxObservations` are reached: memory stays bounded. */
  private shed (): void {
    for (const slot of this.dirty) {
      if (slot.kind !== 'ms') continue
      this.counts.droppedObservations += slot.count
      slot.count = 0
    }
    this.pending = 0
  }

  /** Resolves when no flush is in hot-shots, or after {@link SETTLE_MS} (new flushes may keep starting). */
  private settled (): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, SETTLE_MS)
      timer.unref()
      this.waiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  /** One line into hot-shots' buffer. */
  private send (slot: Slot, value: string): void {
    if (slot.kind === 'ms') sendTimerValues(this.client, slot.name, value, slot.tags)
    else if (slot.kind === 'c') this.client.increment(slot.name, slot.value, undefined, slot.tags)
    else this.client.gauge(slot.name, slot.value, undefined, slot.tags)
  }

  /** A send failure hot-shots reported: one datagram dropped. */
  private dropped (err: Error): void {
    this.failing = true
    this.counts.droppedDatagrams++
    this.report('datagram dropped', err)
  }

  /**
   * Hands a failure to `onError`, at most once per `reportEveryMs`: a receiver that is gone fails
   * every datagram, and building an error per datagram only to have the log drop it costs CPU.
   * The message carries the running total, so nothing is hidden by the throttle.
   */
  private report (what: string, err: Error): void {
    const now = performance.now()
    if (now - this.lastReport < this.reportEveryMs) return
    this.lastReport = now
    this.onError(new Error(`statsd ${what}: ${err.message} (so far ${this.counts.droppedDatagrams} datagrams dropped)`, { cause: err }))
  }
}
