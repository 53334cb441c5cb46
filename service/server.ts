import { readFileSync } from 'node:fs'
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'

/**
 * Entry point: config -> Fastify -> app -> close-with-grace -> listen.
 *
 * SIGTERM/SIGINT: the server stops accepting, idle keep-alive connections are closed at once,
 * in-flight requests finish and are answered `Connection: close` (plugins/drain.ts), a request
 * arriving on a busy connection gets 503; once the last response is written the last metrics are
 * flushed, Redis is closed and the process exits 0. Past SHUTDOWN_TIMEOUT_MS, or on a second
 * signal, close-with-grace exits 1 at once.
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
