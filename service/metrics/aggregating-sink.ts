import { METRICS } from './catalogue.js'
import { DatagramWriter, MAX_TIMER_MS } from './datagram-writer.js'
import type { CacheResult, MetricsSink, SampledGauge } from './sink.js'
import type { DatagramTransport } from './udp-transport.js'

/** StatsD type of a slot: counter, timer (milliseconds), gauge. */
type Kind = 'c' | 'ms' | 'g'

const NO_VALUES = new Float64Array(0)

/**
 * One aggregation slot: a metric name with one fixed tag set. Its wire bytes (`name:` and
 * `|type|#tags`) are built once, when the slot is created; recording only adds a number.
 */
class Slot {
  /** Counter: sum since the last flush. Gauge: the latest value. */
  value = 0
  /** Timer: values since the last flush (ms), the first `count` entries. */
  values: Float64Array
  count = 0
  /** Listed for the next flush. */
  dirty = false
  readonly head: Buffer
  readonly tail: Buffer

  constructor (readonly kind: Kind, name: string, tags: string) {
    this.head = Buffer.from(name + ':', 'latin1')
    this.tail = Buffer.from(tags === '' ? `|${kind}` : `|${kind}|#${tags}`, 'latin1')
    this.values = kind === 'ms' ? new Float64Array(16) : NO_VALUES
  }
}

/** The two slots one response records into. */
interface HttpSlots { requests: Slot, duration: Slot }
/** The two slots one Redis command records into. */
interface CommandSlots { duration: Slot, errors: Slot }

export interface AggregatingSinkOptions {
  /** Where datagrams go (a {@link ./udp-transport.ts UdpTransport} in the service). */
  transport: DatagramTransport
  /** Tags on every line, in this order (the service sets `service` and `instance`). */
  globalTags?: Record<string, string>
  /** METRICS_FLUSH_INTERVAL_MS: everything pending is sent at least this often (ms). */
  flushIntervalMs: number
  /** STATSD_MAX_DATAGRAM_BYTES: no datagram is larger (bytes). */
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
  /** Gets each send failure (with the running drop counts); the service rate-limits the log. */
  onError?: (err: Error) => void
}

/** What the sink has done since it was created (counts). */
export interface SinkStats {
  /** Timer values and counter increments recorded. */
  observations: number
  flushes: number
  /** Datagrams and lines the kernel accepted, and their bytes. */
  datagrams: number
  lines: number
  bytes: number
  /** Datagrams and lines dropped (receiver gone, name not resolved, closed). */
  droppedDatagrams: number
  droppedLines: number
  /** Timer observations held right now (bounded by `maxObservations`). */
  pending: number
}

/**
 * A {@link MetricsSink} that aggregates on the client, as DogStatsD clients do: a measurement
 * only updates a pre-built slot (counters add, timers append to a Float64Array, gauges keep the
 * last value); a flush writes counters as sums and timers as multi-value lines
 * (`http.request.duration:0.41:0.38:1.2|ms|#...`, which statsd_exporter counts as one observation
 * per value) into datagrams of at most `maxDatagramBytes`, never splitting a line.
 *
 * It flushes every `flushIntervalMs`, as soon as about a datagram's worth of timer values is
 * pending (on the next turn of the event loop), synchronously when `maxObservations` are pending,
 * on {@link flush} and on {@link close}. Nothing is kept after a flush: when the receiver is gone
 * the datagrams are dropped and counted, so memory stays bounded; recording never throws.
 */
export class AggregatingSink implements MetricsSink {
  private readonly global: string
  private readonly writer: DatagramWriter
  private readonly transport: DatagramTransport
  private readonly flushObservations: number
  private readonly maxObservations: number
  private readonly onError: (err: Error) => void
  private readonly http = new Map<string, Map<string, Map<number, HttpSlots>>>()
  private readonly abortSlots = new Map<string, Map<string, Slot>>()
  private readonly commandSlots = new Map<string, CommandSlots>()
  private readonly gaugeSlots = new Map<string, Slot>()
  private readonly cacheHit: Slot
  private readonly cacheMiss: Slot
  private readonly cpu: Slot
  private dirty: Slot[] = []
  private spare: Slot[] = []
  private pending = 0
  private scheduled = false
  private closed = false
  private inFlight = 0
  private waiters: Array<() => void> = []
  private readonly interval: NodeJS.Timeout
  private readonly counts: Omit<SinkStats, 'pending'> = {
    observations: 0, flushes: 0, datagrams: 0, lines: 0, bytes: 0, droppedDatagrams: 0, droppedLines: 0
  }

  constructor (opts: AggregatingSinkOptions) {
    this.transport = opts.transport
    this.global = Object.entries(opts.globalTags ?? {}).map(([k, v]) => `${k}:${v}`).join(',')
    this.writer = new DatagramWriter(opts.maxDatagramBytes, (datagram, lines) => this.transmit(datagram, lines))
    this.flushObservations = opts.flushObservations ?? Math.max(16, Math.floor(opts.maxDatagramBytes / 8))
    this.maxObservations = opts.maxObservations ?? this.flushObservations * 64
    this.onError = opts.onError ?? (() => {})
    this.cacheHit = this.slot('c', METRICS.cacheLookups.statsd, 'result:hit')
    this.cacheMiss = this.slot('c', METRICS.cacheLookups.statsd, 'result:miss')
    this.cpu = this.slot('c', METRICS.cpuSeconds.statsd, '')
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
      const tags = `method:${method},route:${route},status_code:${statusCode}`
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
      byMethod.set(method, slot = this.slot('c', METRICS.httpRequestsAborted.statsd, `method:${method},route:${route}`))
    }
    this.add(slot, 1)
  }

  cacheLookup (result: CacheResult): void {
    if (this.closed) return
    this.add(result === 'hit' ? this.cacheHit : this.cacheMiss, 1)
  }

  redisCommand (command: string, durationMs: number, failed: boolean): void {
    if (this.closed) return
    let slots = this.commandSlots.get(command)
    if (slots === undefined) {
      slots = {
        duration: this.slot('ms', METRICS.redisCommandDuration.statsd, `command:${command}`),
        errors: this.slot('c', METRICS.redisCommandErrors.statsd, `command:${command}`)
      }
      this.commandSlots.set(command, slots)
    }
    this.observe(slots.duration, durationMs)
    if (failed) this.add(slots.errors, 1)
  }

  gauge (metric: SampledGauge, value: number): void {
    if (this.closed) return
    let slot = this.gaugeSlots.get(metric)
    if (slot === undefined) this.gaugeSlots.set(metric, slot = this.slot('g', METRICS[metric].statsd, ''))
    this.set(slot, value)
  }

  cpuSeconds (seconds: number): void {
    if (this.closed) return
    this.add(this.cpu, seconds)
  }

  info (version: string, nodeVersion: string): void {
    if (this.closed) return
    const tags = `version:${version},node_version:${nodeVersion}`
    let slot = this.gaugeSlots.get(tags)
    if (slot === undefined) this.gaugeSlots.set(tags, slot = this.slot('g', METRICS.serviceInfo.statsd, tags))
    this.set(slot, 1)
  }

  /** Sends everything pending; resolves once the kernel took every datagram sent so far (or 2 s passed). */
  flush (): Promise<void> {
    this.flushNow()
    return this.drained()
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.interval)
    this.flushNow()
    await this.drained()
    await this.transport.close()
  }

  /** Counters for tests, benchmarks and diagnostics. */
  stats (): SinkStats {
    return { ...this.counts, pending: this.pending }
  }

  private slot (kind: Kind, name: string, tags: string): Slot {
    return new Slot(kind, name, this.global === '' ? tags : tags === '' ? this.global : `${this.global},${tags}`)
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
        writer.timer(slot.head, slot.values, slot.count, slot.tail)
        slot.count = 0
      } else {
        writer.line(slot.head, String(slot.value), slot.tail)
        if (slot.kind === 'c') slot.value = 0
      }
    }
    dirty.length = 0
    writer.finish()
  }

  private transmit (datagram: Buffer, lines: number): void {
    this.inFlight++
    this.transport.send(datagram, (err) => {
      this.inFlight--
      if (err === null) {
        this.counts.datagrams++
        this.counts.lines += lines
        this.counts.bytes += datagram.length
      } else {
        this.counts.droppedDatagrams++
        this.counts.droppedLines += lines
        this.onError(new Error(`statsd datagram dropped: ${err.message} ` +
          `(${this.counts.droppedDatagrams} datagrams, ${this.counts.droppedLines} lines dropped so far)`, { cause: err }))
      }
      if (this.inFlight === 0) {
        const waiters = this.waiters
        this.waiters = []
        for (const resolve of waiters) resolve()
      }
    })
  }

  private drained (timeoutMs = 2000): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      timer.unref()
      this.waiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}
