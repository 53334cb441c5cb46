import { randomUUID } from 'node:crypto'
import { createSocket, type Socket } from 'node:dgram'
import type { TestLike } from './redis.js'

/** A real UDP socket on 127.0.0.1 that records every datagram a test's service sends. */
export interface UdpListener {
  readonly port: number
  /** Every datagram received, in order, as text. */
  readonly datagrams: string[]
  /** Every StatsD line received (datagrams split at newlines). */
  lines (): string[]
  /** Resolves once `predicate(lines())` holds; rejects after `timeoutMs`. */
  waitFor (predicate: (lines: string[]) => boolean, timeoutMs?: number): Promise<string[]>
  /**
   * Sends a marker datagram from a socket of its own and resolves once it has arrived (the
   * marker is not kept): whatever was handed to the kernel for this receiver before the call
   * has arrived too, so a test can then check that something was NOT sent without a sleep.
   */
  barrier (): Promise<void>
  /** Forgets what was received so far. */
  clear (): void
  close (): Promise<void>
}

/**
 * Binds a UDP socket on 127.0.0.1 (a free port unless `port` is given), closed at teardown.
 * @param recvBufferBytes kernel receive buffer to ask for (bursts in benchmarks need more).
 * @param host address to bind: 0.0.0.0 where the sender is another host (a container's peer).
 */
export async function udpListener (t: TestLike, port = 0, recvBufferBytes?: number, host = '127.0.0.1'): Promise<UdpListener> {
  const socket: Socket = createSocket('udp4')
  const datagrams: string[] = []
  const markers = new Map<string, () => void>()
  socket.on('message', (msg) => {
    const text = msg.toString('utf8')
    const arrived = markers.get(text)
    if (arrived === undefined) datagrams.push(text)
    else arrived()
  })
  await new Promise<void>((resolve) => socket.bind(port, host, () => resolve()))
  if (recvBufferBytes !== undefined) socket.setRecvBufferSize(recvBufferBytes)
  let closed = false
  const close = (): Promise<void> => new Promise((resolve) => {
    if (closed) return resolve()
    closed = true
    socket.close(() => resolve())
  })
  t.teardown(close)
  const lines = (): string[] => datagrams.flatMap((d) => d.split('\n')).filter((l) => l !== '')
  return {
    port: socket.address().port,
    datagrams,
    lines,
    async waitFor (predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs
      while (!predicate(lines())) {
        if (Date.now() > deadline) throw new Error(`UDP lines not as expected after ${timeoutMs} ms:\n${lines().join('\n')}`)
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      return lines()
    },
    async barrier () {
      const marker = `udp-listener.barrier:${randomUUID()}|c`
      const sender = createSocket('udp4')
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('the barrier datagram did not arrive in 30 s')), 30_000)
          markers.set(marker, () => { clearTimeout(timer); resolve() })
          sender.send(marker, socket.address().port, host === '0.0.0.0' ? '127.0.0.1' : host, (err) => { if (err !== null) reject(err) })
        })
      } finally {
        markers.delete(marker)
        sender.close()
      }
    },
    clear () { datagrams.length = 0 },
    close
  }
}
