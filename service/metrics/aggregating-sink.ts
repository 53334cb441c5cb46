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
  /**
   * Gets send failures, at most one per `reportEveryMs` (default 1000), each with the running
   * drop counts; the service rate-limits the log further.
   */
  onError?: (err: Error) => void
  reportEveryMs?: number
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
  /** Datagrams and lines dropped before leaving (name not resolved, socket closed). */
  droppedDatagrams: number
  droppedLines: number
  /**
   * ECONNREFUSED reports: an ICMP port unreachable came back, nothing listens on the port. The
   * kernel reports it on a later send (that datagram is then also dropped) or as a socket error.
   * A lower bound of the datagrams lost that way: routers rate-limit ICMP.
   */
  refused: number
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
 * on {@link flush} and on {@link close}. Nothing is kept after a flush, so memory stays bounded
 * whatever the receiver does: datagrams that cannot leave (name not resolved) are dropped and
 * counted, datagrams refused by a receiver that is gone (ICMP port unreachable) are counted, and
 * each failure goes to `onError`. Recording never throws, and does no I/O unless a burst that
 * never yields to the event loop reaches `maxObservations`.
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
  private readonly reportEveryMs: number
  private lastReport = -Infinity
  private readonly interval: NodeJS.Timeout
  private readonly counts: Omit<SinkStats, 'pending'> = {
    observations: 0, flushes: 0, datagrams: 0, lines: 0, bytes: 0, droppedDatagrams: 0, droppedLines: 0, refused: 0
  }

  /** @throws {RangeError} naming the option, for a limit that cannot work. */
  constructor (opts: AggregatingSinkOptions) {
    if (!(opts.flushIntervalMs > 0)) throw new RangeError(`flushIntervalMs must be > 0, got ${opts.flushIntervalMs}`)
    if (!(opts.maxDatagramBytes >= 128)) throw new RangeError(`maxDatagramBytes must be >= 128, got ${opts.maxDatagramBytes}`)
    if (opts.flushObservations !== undefined && !(opts.flushObservations >= 1)) {
      throw new RangeError(`flushObservations must be >= 1, got ${opts.flushObservations}`)
    }
    this.transport = opts.transport
    this.global = Object.entries(opts.globalTags ?? {}).map(([k, v]) => `${k}:${v}`).join(',')
    this.writer = new DatagramWriter(opts.maxDatagramBytes, (datagram, lines) => this.transmit(datagram, lines))
    this.flushObservations = opts.flushObservations ?? Math.max(16, Math.floor(opts.maxDatagramBytes / 8))
    this.maxObservations = opts.maxObservations ?? this.flushObservations * 64
    if (!(this.maxObservations >= this.flushObservations)) {
      throw new RangeError(`maxObservations must be >= flushObservations (${this.flushObservations}), got ${this.maxObservations}`)
    }
    this.onError = opts.onError ?? (() => {})
    this.reportEveryMs = opts.reportEveryMs ?? 1000
    this.transport.onError((err) => {
      if (refusedError(err)) this.counts.refused++
      this.report('socket error', err)
    })
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
        if (refusedError(err)) this.counts.refused++
        this.report('datagram dropped', err)
      }
      if (this.inFlight === 0) {
        const waiters = this.waiters
        this.waiters = []
        for (const resolve of waiters) resolve()
      }
    })
  }

  /**
   * Hands a failure to `onError`, at most once per `reportEveryMs`: a receiver that is gone fails
   * every datagram, and building an error per datagram only to have the log drop it costs CPU.
   * The message carries the running totals, so nothing is hidden by the throttle.
   */
  private report (what: string, err: Error): void {
    const now = performance.now()
    if (now - this.lastReport < this.reportEveryMs) return
    this.lastReport = now
    const { droppedDatagrams, droppedLines, refused } = this.counts
    const why = refusedError(err) ? 'the receiver refused a datagram: nothing listens there' : err.message
    this.onError(new Error(`statsd ${what}: ${why} ` +
      `(so far ${droppedDatagrams} datagrams / ${droppedLines} lines dropped, ${refused} refused)`, { cause: err }))
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

/** ECONNREFUSED on UDP: an ICMP port unreachable came back, nothing listens on the port. */
function refusedError (err: Error): boolean {
  return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED' || err.message.includes('ECONNREFUSED')
}
