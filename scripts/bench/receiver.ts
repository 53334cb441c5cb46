import { createSocket, type Socket } from 'node:dgram'

/** What one server sent during a window, parsed from the DogStatsD lines it sent. */
export interface Received {
  datagrams: number
  lines: number
  /**
   * Per `name|tag` key (`http.requests|route:/ping`, `cache.lookups|result:hit`,
   * `redis.command.duration|command:get`): counters summed, timers as the number of observations
   * (values on the line, so a multi-value line counts each value).
   */
  totals: Map<string, number>
}

/** Tag keys that select a series in {@link Received.totals} (the first one found on a line). */
const KEY_TAGS = ['route:', 'command:', 'result:']

/**
 * A UDP socket on 127.0.0.1 standing in for statsd_exporter: it keeps the raw datagrams of a
 * window (cheap while load runs on the same CPU) and parses them when asked. Lines are grouped
 * by their `instance` tag, which each benchmark server sets to its variant name (untagged lines
 * by the first segment of their name).
 */
export class Receiver {
  private buffers: Buffer[] = []

  private constructor (private readonly socket: Socket, readonly port: number) {
    socket.on('message', (msg) => { this.buffers.push(msg) })
  }

  /**
   * Binds a free port. Asks for a 4 MiB kernel receive buffer (capped by net.core.rmem_max), so
   * that drops measure the sender's burstiness, not a tiny default buffer.
   */
  static async start (): Promise<Receiver> {
    const socket = createSocket('udp4')
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()))
    socket.setRecvBufferSize(4 * 1024 * 1024)
    return new Receiver(socket, socket.address().port)
  }

  /** Parses and forgets everything received since the previous call, by instance. */
  take (): Map<string, Received> {
    const byInstance = new Map<string, Received>()
    const buffers = this.buffers
    this.buffers = []
    for (const buffer of buffers) {
      const lines = buffer.toString('latin1').split('\n').filter((l) => l !== '')
      // Untagged lines (the immobiliarelabs variant) are grouped by their namespace, the name's first segment.
      const first = lines[0] ?? ''
      const instance = /(?:#|,)instance:([^,|]*)/.exec(first)?.[1] ?? (first.includes('.') ? first.slice(0, first.indexOf('.')) : '?')
      let received = byInstance.get(instance)
      if (received === undefined) byInstance.set(instance, received = { datagrams: 0, lines: 0, totals: new Map() })
      received.datagrams++
      received.lines += lines.length
      for (const line of lines) parseLine(line, received.totals)
    }
    return byInstance
  }

  close (): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()))
  }
}

/** Adds one `name:v[:v...]|type|#tags` line to `totals`. */
function parseLine (line: string, totals: Map<string, number>): void {
  const colon = line.indexOf(':')
  const bar = line.indexOf('|', colon)
  if (colon < 0 || bar < 0) return
  const name = line.slice(0, colon)
  const values = line.slice(colon + 1, bar).split(':')
  const next = line.indexOf('|', bar + 1)
  const type = line.slice(bar + 1, next < 0 ? undefined : next)
  const hash = line.indexOf('|#')
  const tags = hash < 0 ? [] : line.slice(hash + 2).split(',')
  const keyTag = tags.find((t) => KEY_TAGS.some((k) => t.startsWith(k))) ?? ''
  const key = `${name}|${keyTag}`
  const amount = type === 'c' ? values.reduce((sum, v) => sum + Number(v), 0) : type === 'ms' ? values.length : 0
  totals.set(key, (totals.get(key) ?? 0) + amount)
}
