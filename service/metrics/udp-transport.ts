import { createSocket, type Socket } from 'node:dgram'
import { isIP } from 'node:net'

/** Where finished datagrams go. The aggregating sink talks to this, tests may replace it. */
export interface DatagramTransport {
  /**
   * Hands one datagram to the socket. `done` is called exactly once: with null after the kernel
   * took it, or with the error that made it dropped. Never throws.
   */
  send (datagram: Buffer, done: (err: Error | null) => void): void
  /** Releases the socket. Datagrams sent after this are dropped with an error. */
  close (): Promise<void>
}

export interface UdpTransportOptions {
  /** A failed name lookup is retried at most this often (ms); datagrams in between are dropped. */
  retryMs?: number
  /** A host name (not an IP) is looked up again this often (ms), so a moved exporter is followed. */
  resolveEveryMs?: number
  /** Datagrams held while a lookup is under way; beyond this they are dropped. */
  maxQueued?: number
}

type State = 'connecting' | 'connected' | 'down' | 'closed'

/**
 * A connected UDP socket (node:dgram) to one StatsD receiver.
 *
 * Connecting resolves the host once, so a send does no DNS lookup, and lets the kernel report a
 * receiver that is gone: after an ICMP port unreachable the next send fails with ECONNREFUSED,
 * which is reported instead of vanishing. A lookup failure (ENOTFOUND, EAI_AGAIN) is retried
 * every `retryMs`; host names are looked up again every `resolveEveryMs`. While a lookup is under
 * way at most `maxQueued` datagrams wait; nothing grows without bound. The socket is unref'd:
 * metrics never keep the process alive.
 */
export class UdpTransport implements DatagramTransport {
  private readonly socket: Socket
  private readonly retryMs: number
  private readonly resolveEveryMs: number
  private readonly maxQueued: number
  private state: State = 'down'
  private connectedAt = 0
  private lastAttempt = -Infinity
  private queue: Array<{ datagram: Buffer, done: (err: Error | null) => void }> = []

  constructor (private readonly host: string, private readonly port: number, opts: UdpTransportOptions = {}) {
    this.retryMs = opts.retryMs ?? 1000
    this.resolveEveryMs = opts.resolveEveryMs ?? 60_000
    this.maxQueued = opts.maxQueued ?? 64
    this.socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4')
    // Send errors arrive in send callbacks; this only keeps a stray one from crashing the process.
    this.socket.on('error', () => {})
    this.socket.unref()
    this.connect()
  }

  send (datagram: Buffer, done: (err: Error | null) => void): void {
    if (this.state === 'connected' && isIP(this.host) === 0 && Date.now() - this.connectedAt > this.resolveEveryMs) {
      this.socket.disconnect()
      this.state = 'down'
      this.connect()
    }
    if (this.state === 'down' && Date.now() - this.lastAttempt >= this.retryMs) this.connect()
    switch (this.state) {
      case 'connected':
        return this.write(datagram, done)
      case 'connecting':
        if (this.queue.length < this.maxQueued) {
          this.queue.push({ datagram, done })
          return
        }
        return done(new Error(`statsd ${this.host}:${this.port}: still resolving, ${this.maxQueued} datagrams already waiting`))
      case 'down':
        return done(new Error(`statsd ${this.host}:${this.port}: host not resolved (next try within ${this.retryMs} ms)`))
      default:
        return done(new Error('statsd transport closed'))
    }
  }

  close (): Promise<void> {
    if (this.state === 'closed') return Promise.resolve()
    this.state = 'closed'
    this.failQueue(new Error('statsd transport closed'))
    return new Promise((resolve) => this.socket.close(() => resolve()))
  }

  private connect (): void {
    this.state = 'connecting'
    this.lastAttempt = Date.now()
    this.socket.connect(this.port, this.host, (err?: Error) => {
      if (this.state === 'closed') return
      if (err !== undefined && err !== null) {
        this.state = 'down'
        this.failQueue(err)
        return
      }
      this.state = 'connected'
      this.connectedAt = Date.now()
      const queued = this.queue
      this.queue = []
      for (const { datagram, done } of queued) this.write(datagram, done)
    })
  }

  private write (datagram: Buffer, done: (err: Error | null) => void): void {
    try {
      this.socket.send(datagram, (err) => done(err ?? null))
    } catch (err) {
      done(err as Error)
    }
  }

  private failQueue (err: Error): void {
    const queued = this.queue
    this.queue = []
    for (const { done } of queued) done(err)
  }
}
