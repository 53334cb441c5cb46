/**
 * What the Dockerfile leaves out of the production image, and why that is safe: the optional
 * production dependencies (unix-dgram, hot-shots' Unix-socket transport, which the service never
 * loads) and the source maps (node runs without --enable-source-maps). The base image, stages,
 * user and healthcheck are test/compose.test.ts's.
 */
import { spawnSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ROOT } from './helpers/stack.js'

const lines = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean, optional?: boolean }> }

t.test('production dependencies without the optional ones, which are unix-dgram and what it needs', async (t) => {
  const production = lines.filter((l) => /\bnpm ci\b.*--omit=dev/.test(l))
  t.equal(production.length, 1, 'one production install')
  t.match(production[0], /--omit=optional/, 'with --omit=optional')
  t.match(production[0], /--ignore-scripts/, 'and no install script')
  const optional = Object.entries(lock.packages).filter(([path, p]) => path !== '' && p.dev !== true && p.optional === true)
    .map(([path]) => path.replace(/^.*node_modules\//, '')).sort()
  // A new optional production dependency would be left out of the image too: decide it here.
  t.same(optional, ['bindings', 'file-uri-to-path', 'nan', 'unix-dgram'], 'the optional production packages (package-lock)')
})

t.test('hot-shots sends over UDP with unix-dgram absent, and never asks for it', async (t) => {
  const socket = createSocket('udp4')
  t.teardown(() => socket.close())
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  const received = once(socket, 'message')
  // A child whose module resolution has no unix-dgram, as in the image (--omit=optional).
  const child = spawnSync(process.execPath, ['-e', `
    const Module = require('node:module')
    const resolve = Module._resolveFilename
    Module._resolveFilename = function (request, ...rest) {
      if (request === 'unix-dgram') { console.log('asked for unix-dgram'); throw Object.assign(new Error('absent'), { code: 'MODULE_NOT_FOUND' }) }
      return resolve.call(this, request, ...rest)
    }
    const { StatsD } = require('hot-shots')
    const client = new StatsD({ host: '127.0.0.1', port: ${(socket.address()).port}, protocol: 'udp', includeDataDogTags: false })
    client.increment('omit_optional_check', 1, () => client.close(() => console.log('sent')))
  `], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 })
  t.equal(child.status, 0, child.stderr)
  t.equal(child.stdout, 'sent\n', 'sent, without asking for unix-dgram')
  const [message] = await received as [Buffer]
  t.equal(message.toString(), 'omit_optional_check:1|c', 'the exact StatsD line arrived')
})

t.test('no source maps in the image: built without them, and node runs without --enable-source-maps', async (t) => {
  t.ok(lines.some((l) => /^RUN npm run build -- --sourceMap false$/.test(l)), 'the build stage compiles without maps')
  t.notOk(lines.some((l) => /enable-source-maps/.test(l)), 'no --enable-source-maps (CMD, ENV NODE_OPTIONS)')
  t.notOk(lines.some((l) => /^COPY\s.*\bservice\b/.test(l) && lines.indexOf(l) > lines.findLastIndex((x) => /^FROM\s/.test(x))), 'the sources stay out of the final stage')
})
