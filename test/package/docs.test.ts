/**
 * docs/monitor-your-own-app.md names real things: every relative link points at a file of the
 * repository, every option it lists is one the plugin takes, and the tarball name it installs is
 * the one `npm pack` writes for the package's name and version.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import t from 'tap'
import { DEFAULTS } from 'fastify-statsd-red'
import { ROOT } from '../helpers/stack.js'

const PAGE = join(ROOT, 'docs', 'monitor-your-own-app.md')
const text = readFileSync(PAGE, 'utf8')

t.test('every relative link resolves to a file', async (t) => {
  const links = [...text.matchAll(/\]\((?!https?:)([^)#]+)\)/g)].map((m) => m[1])
  t.ok(links.length >= 5, `${links.length} relative links`)
  for (const link of links) t.ok(existsSync(join(dirname(PAGE), link)), link)
})

t.test('the tarball the docs install is the one npm pack writes', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'packages', 'fastify-statsd-red', 'package.json'), 'utf8')) as { name: string, version: string }
  t.match(text, `npm install /path/to/fastify-monitoring/${pkg.name}-${pkg.version}.tgz`)
  t.match(text, `npm pack --workspace=${pkg.name}`)
})

t.test('the defaults the docs give are the plugin\'s', async (t) => {
  t.match(text, `\`flushIntervalMs\` (${DEFAULTS.flushIntervalMs})`)
  t.match(text, `\`maxDatagramBytes\` (${DEFAULTS.maxDatagramBytes})`)
  t.match(text, `\`runtimeIntervalMs\` (${DEFAULTS.runtimeIntervalMs})`)
})
