import { connect } from 'node:net'

/**
 * Sends `bytes` on a new TCP connection to 127.0.0.1:`port` and resolves with everything
 * received (latin1) once the server closes the connection, so the request should ask for
 * `Connection: close` or be one the server answers by closing. The socket is not half-closed
 * after writing: Node's server aborts a request whose client ended its side (no
 * `allowHalfOpen`). Rejects on a connection error before any byte arrived.
 */
export function exchange (port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes))
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (c: string) => { text += c })
    socket.on('close', () => resolve(text))
    socket.on('error', (err) => { if (text === '') reject(err) })
  })
}
