/**
 * Builds the statsd-exporter STAND-IN image, for engines without prom/statsd-exporter (Debian
 * does not package statsd_exporter): the project's exporter stand-in
 * (test/helpers/exporter-stand-in.ts, byte for byte the exporter's text format) bundled by
 * esbuild into one file, on the Node.js base image of the Dockerfile, plus busybox's wget for
 * the compose healthcheck. Named fastify-monitoring/statsd-exporter-stand-in, never
 * prom/statsd-exporter, so no one mistakes it for the exporter.
 */
import { createHash } from 'node:crypto'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, run } from '../../helpers/stack.js'
import { podman } from '../engine.js'
import type { ServiceImage } from '../images.js'

const NAME = 'localhost/fastify-monitoring/statsd-exporter-stand-in'
const ENTRY = join(ROOT, 'test', 'compose', 'images', 'statsd-exporter-stand-in.ts')
const REQUIRE_SHIM = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"
const LABEL = 'fastify-monitoring.stand-in'

/**
 * Bundles the stand-in and builds its image FROM `base` (cached: the tag is a hash of the bundle,
 * the base image's id and this recipe). Resolves with the image for the override file.
 * Throws when esbuild or the build fails.
 */
export async function buildStatsdStandIn (base: string): Promise<ServiceImage> {
  const dir = mkdtempSync(join(tmpdir(), 'statsd-stand-in-'))
  try {
    const bundle = join(dir, 'statsd-exporter-stand-in.mjs')
    const esbuild = await run(join(ROOT, 'node_modules', '.bin', 'esbuild'),
      [ENTRY, '--bundle', '--platform=node', '--format=esm', '--target=node22', `--outfile=${bundle}`, '--log-level=warning',
        // The package's TypeScript sources, as the tests run them (no built dist/ needed), and a
        // `require` for the CommonJS packages inside the bundle (yaml requires node's builtins).
        '--conditions=fastify-monitoring:source', `--banner:js=${REQUIRE_SHIM}`], {}, 120_000)
    if (esbuild.code !== 0) throw new Error(`esbuild failed: ${esbuild.stderr}`)
    const baseId = (await podman(['image', 'inspect', '--format', '{{.Id}}', base])).stdout.trim()
    const hash = createHash('sha256').update(readFileSync(bundle)).update(baseId)
      .update(readFileSync(new URL(import.meta.url))).digest('hex').slice(0, 16)
    const image = `${NAME}:${hash}`
    const note = 'test/helpers/exporter-stand-in.ts on the Dockerfile\'s Node.js base, not prom/statsd-exporter'
    if ((await podman(['image', 'exists', image])).code === 0) return { service: 'statsd-exporter', image, origin: 'stand-in', note: `cached (${note})` }

    mkdirSync(join(dir, 'bin'))
    copyFileSync('/bin/busybox', join(dir, 'bin', 'busybox'))
    symlinkSync('busybox', join(dir, 'bin', 'wget'))
    writeFileSync(join(dir, 'Containerfile'), [
      `FROM ${base}`,
      'COPY bin/ /usr/local/bin/',
      'COPY statsd-exporter-stand-in.mjs /stand-in/',
      `LABEL ${LABEL}=${hash} org.opencontainers.image.title=statsd-exporter-stand-in`,
      'USER 65534:65534',
      'EXPOSE 9102 9125/udp',
      'ENTRYPOINT ["node", "/stand-in/statsd-exporter-stand-in.mjs"]',
      ''
    ].join('\n'))
    const built = await podman(['build', '--format', 'docker', '--quiet', '-t', image, dir], 600_000)
    if (built.code !== 0) throw new Error(`building ${image} failed: ${built.stderr}`)
    return { service: 'statsd-exporter', image, origin: 'stand-in', note: `built (${note})` }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
