import { readFileSync } from 'node:fs'
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'

/**
 * Entry point: config -> Fastify -> app -> close-with-grace -> listen.
 *
 * SIGTERM/SIGINT: every connection holding no request received in full (idle keep-alive, headers
 * half sent, a body still arriving) is closed at once and the server stops accepting; the
 * requests received in full finish and are answered `Connection: close`, and nothing pipelined
 * behind them is read (plugins/drain.ts); once the last socket has closed the
 * last metrics are flushed, Redis gets QUIT and the process exits 0, so the shutdown takes as
 * long as the slowest started request, whatever the clients do. Past SHUTDOWN_TIMEOUT_MS, or on
 * a second signal, close-with-grace exits 1 at once.
 */
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

let config
try {
  config = loadConfig(process.env, pkg.version)
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`fastify-monitoring: ${err.message}\n`)
    process.exit(2)
  }
  throw err
}

let app
try {
  app = await buildApp(config)
} catch (err) {
  process.stderr.write(`fastify-monitoring: start-up failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
}

closeWithGrace({ delay: config.shutdownTimeoutMs, logger: app.log }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'closing after an uncaught error')
  else app.log.info({ signal }, 'shutting down: finishing in-flight requests')
  await app.close()
  app.log.info('shutdown complete')
})

try {
  await app.listen({ port: config.port, host: config.host })
} catch (err) {
  app.log.fatal({ err }, 'start-up failed')
  process.exit(1)
}
