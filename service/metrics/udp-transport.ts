import { createSocket, type Socket } from 'node:dgram'
import { lookup } from 'node:dns'
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
  /**
   * Registers the listener for errors the socket reports on its own, after sends that
   * succeeded: ECONNREFUSED when an ICMP port unreachable came back for an earlier datagram.
   */
  onError (listener: (err: Error) => void): void
}

export interface UdpTransportOptions {
  /** A failed name lookup is retried at most this often (ms); datagrams in between are dropped. */
  retryMs?: number
  /** A host name (not an IP) is looked up again this often (ms), so a moved exporter is followed. */
  resolveEveryMs?: number
  /** Datagrams held while the socket connects; beyond this they are dropped. */
  maxQueued?: number
}

type State = 'connecting' | 'connected' | 'down' | 'closed'
type Done = (err: Error | null) => void

/**
 * A connected UDP socket (node:dgram) to one StatsD receiver.
 *
 * Connecting fixes the address, so a send does no DNS lookup, and lets the kernel report a
 * receiver that is gone: an ICMP port unreachable for a datagram comes back as ECONNREFUSED,
 * as a socket error (see {@link onError}) or on the next send, instead of vanishing.
 *
 * A host name is resolved before connecting, and again every `resolveEveryMs` in the background:
 * the socket moves only when the address changed (an exporter container recreated elsewhere).
 * A failed lookup (ENOTFOUND, EAI_AGAIN) is retried every `retryMs`, datagrams in between are
 * dropped. While the socket connects at most `maxQueued` datagrams wait; nothing grows without
 * bound. The socket is unref'd: metrics never keep the process alive.
 */
export class UdpTransport implements DatagramTransport {
  private readonly socket: Socket
  private readonly family: 4 | 6
  private readonly retryMs: number
  private readonly resolveEveryMs: number
  private readonly maxQueued: number
  private state: State = 'down'
  private address = ''
  private resolvedAt = 0
  private resolving = false
  private lastAttempt = -Infinity
  private lastError: Error | null = null
  private queue: Array<{ datagram: Buffer, done: Done }> = []
  private errorListener: (err: Error) => void = () => {}

  constructor (private readonly host: string, private readonly port: number, opts: UdpTransportOptions = {}) {
    this.retryMs = opts.retryMs ?? 1000
    this.resolveEveryMs = opts.resolveEveryMs ?? 60_000
    this.maxQueued = opts.maxQueued ?? 1024
    this.family = isIP(host) === 6 ? 6 : 4
    this.socket = createSocket(this.family === 6 ? 'udp6' : 'udp4')
    // An ICMP port unreachable surfaces here (libuv reads it as a recvmsg error) when no send was
    // there to take it. Also keeps a stray error from crashing the process.
    this.socket.on('error', (err) => this.errorListener(err))
    this.socket.unref()
    this.resolve()
  }

  send (datagram: Buffer, done: Done): void {
    const now = Date.now()
    if (this.state === 'down' && now - this.lastAttempt >= this.retryMs) this.resolve()
    else if (this.state === 'connected' && now - this.resolvedAt > this.resolveEveryMs) this.resolve()
    switch (this.state) {
      case 'connected':
        return this.write(datagram, done)
      case 'connecting':
        if (this.queue.length < this.maxQueued) {
          this.queue.push({ datagram, done })
          return
        }
        return done(new Error(`statsd ${this.host}:${this.port}: still connecting, ${this.maxQueued} datagrams already waiting`))
      case 'down':
        return done(new Error(`statsd ${this.host}:${this.port}: ${this.lastError?.message ?? 'not connected'} (next try within ${this.retryMs} ms)`))
      default:
        return done(new Error('statsd transport closed'))
    }
  }

  onError (listener: (err: Error) => void): void {
    this.errorListener = listener
  }

  close (): Promise<void> {
    if (this.state === 'closed') return Promise.resolve()
    this.state = 'closed'
    this.failQueue(new Error('statsd transport closed'))
    return new Promise((resolve) => this.socket.close(() => resolve()))
  }

  /** Looks the host up (if it is a name), then connects when the address is new. */
  private resolve (): void {
    if (this.resolving) return
    this.lastAttempt = Date.now()
    if (this.state === 'down') this.state = 'connecting'
    if (isIP(this.host) !== 0) return this.connect(this.host)
    this.resolving = true
    lookup(this.host, { family: this.family }, (err, address) => {
      this.resolving = false
      if (this.state === 'closed') return
      if (err !== null && this.state === 'connected') {
        // Keep sending to the address we have; look again after retryMs.
        this.resolvedAt = Date.now() - this.resolveEveryMs + this.retryMs
        return this.errorListener(err)
      }
      if (err !== null) return this.fail(err)
      this.resolvedAt = Date.now()
      if (address !== this.address || this.state !== 'connected') this.connect(address)
    })
  }

  private connect (address: string): void {
    if (this.state === 'connected') this.socket.disconnect()
    this.state = 'connecting'
    this.socket.connect(this.port, address, (err?: Error) => {
      if (this.state === 'closed') return
      if (err !== undefined && err !== null) return this.fail(err)
      this.state = 'connected'
      this.address = address
      this.resolvedAt = Date.now()
      const queued = this.queue
      this.queue = []
      for (const { datagram, done } of queued) this.write(datagram, done)
    })
  }

  private fail (err: Error): void {
    this.state = 'down'
    this.lastError = err
    this.failQueue(err)
  }

  private write (datagram: Buffer, done: Done): void {
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
