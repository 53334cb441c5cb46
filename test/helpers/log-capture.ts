import { Writable } from 'node:stream'

/** One pino line, parsed. */
export type LogLine = Record<string, unknown> & { level: number, msg?: string }

/** A pino destination stream that keeps every line it is given, parsed. */
export interface LogCapture {
  /** Pass as Fastify's `logger.stream` (pino writes one JSON line per call). */
  readonly stream: Writable
  /** Every line written so far. */
  lines (): LogLine[]
}

/** A {@link LogCapture} in memory: the real pino output, no mock logger. */
export function logCapture (): LogCapture {
  const kept: LogLine[] = []
  let partial = ''
  const stream = new Writable({
    write (chunk: Buffer, _encoding, done) {
      partial += chunk.toString()
      const parts = partial.split('\n')
      partial = parts.pop() ?? ''
      for (const line of parts) if (line !== '') kept.push(JSON.parse(line) as LogLine)
      done()
    }
  })
  return { stream, lines: () => [...kept] }
}
