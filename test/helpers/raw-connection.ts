import { connect, type Socket } from 'node:net'

/** A raw TCP connection to a test's server, with what it received and when it closed. */
export interface RawConnection {
  socket: Socket
  /** Everything received so far (latin1). */
  text: () => string
  /** Resolves when the received text matches `pattern`; rejects if the connection closes first. */
  waitFor: (pattern: RegExp) => Promise<string>
  /** Resolves with Date.now() when the server ended or closed the connection. */
  closed: Promise<number>
  /** True once the connection has closed. */
  isClosed: () => boolean
}

/**
 * Opens a TCP connection to 127.0.0.1:`port` and resolves once it is connected. Nothing is
 * sent: the test writes raw HTTP/1.1 bytes (half requests, pipelined requests, trickled
 * bodies) on `socket`. Connection errors after the connect (a reset when the server closes)
 * are ignored: `closed` reports the close either way.
 */
export function rawConnection (port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    let isClosed = false
    const listeners = new Set<() => void>()
    socket.setEncoding('latin1')
    socket.on('data', (c: string) => {
      text += c
      for (const listener of listeners) listener()
    })
    const closed = new Promise<number>((resolve) => {
      const done = (): void => {
        isClosed = true
        for (const listener of listeners) listener()
        resolve(Date.now())
      }
      socket.once('end', done)
      socket.once('close', done)
    })
    const waitFor = (pattern: RegExp): Promise<string> => new Promise((resolve, reject) => {
      const check = (): void => {
        if (pattern.test(text)) {
          listeners.delete(check)
          resolve(text)
        } else if (isClosed) {
          listeners.delete(check)
          reject(new Error(`connection closed before ${String(pattern)} arrived; received: ${JSON.stringify(text)}`))
        }
      }
      listeners.add(check)
      check()
    })
    socket.once('error', reject)
    socket.once('connect', () => {
      socket.off('error', reject)
      socket.on('error', () => {})
      resolve({ socket, text: () => text, waitFor, closed, isClosed: () => isClosed })
    })
  })
}
