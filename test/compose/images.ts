/**
 * Which image each compose service runs in the compose test, and getting it onto the engine:
 * an image named by an environment variable (`<SERVICE>_IMAGE`, e.g. PROMETHEUS_IMAGE), else the
 * pinned image of docker-compose.yml (local, or pulled), else a stand-in built from Debian's
 * packages under the pinned name (test/compose/images/), else, for Grafana, none.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, run } from '../helpers/stack.js'
import { podman } from './engine.js'
import { buildStatsdStandIn } from './images/statsd-stand-in.js'

/** Where a service's image came from, for the test's output. */
export type ImageOrigin = 'env' | 'pinned' | 'pulled' | 'stand-in' | 'absent'

export interface ServiceImage {
  service: string
  /** The image to run (the pinned name, the env var's, or a stand-in's); '' when absent. */
  image: string
  origin: ImageOrigin
  /** What it is, in words: "Debian prometheus 2.42.0+ds-5", "from PROMETHEUS_IMAGE", ... */
  note: string
}

/**
 * Services whose pinned image test/compose/images/stand-in.sh can stand in for, and the kind it
 * builds: the one-shot `secrets` service runs the Redis image (docker-compose.yml).
 */
const STAND_IN_KINDS: Record<string, string> = {
  secrets: 'redis', redis: 'redis', prometheus: 'prometheus', alertmanager: 'alertmanager', 'redis-exporter': 'redis-exporter'
}
const STAND_IN_LABEL = 'fastify-monitoring.stand-in'

/** `PROMETHEUS_IMAGE` for `prometheus`, `STATSD_EXPORTER_IMAGE` for `statsd-exporter`. */
export function imageEnvName (service: string): string {
  return `${service.toUpperCase().replace(/-/g, '_')}_IMAGE`
}

/** The fully qualified name the engine stores a Docker Hub short name under. */
export function qualify (image: string): string {
  const first = image.split('/')[0] ?? ''
  if (image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return image
  return image.includes('/') ? `docker.io/${image}` : `docker.io/library/${image}`
}

/** The Dockerfile's base image (its first FROM), e.g. node:26.12.1-trixie-slim. */
export function dockerfileBase (): string {
  const from = /^FROM\s+(\S+)/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1]
  if (from === undefined) throw new Error('Dockerfile has no FROM line')
  return from
}

async function labelOf (image: string): Promise<string | undefined> {
  const out = await podman(['image', 'inspect', '--format', `{{ index .Labels "${STAND_IN_LABEL}" }}`, image])
  if (out.code !== 0) return undefined
  return out.stdout.trim().replace('<no value>', '')
}

async function pull (image: string): Promise<boolean> {
  return (await podman(['pull', '--quiet', image], 300_000)).code === 0
}

async function script (name: string, args: string[]): Promise<string> {
  const out = await run('bash', [join(ROOT, 'test', 'compose', 'images', name), ...args], {}, 1_200_000)
  if (out.code !== 0) throw new Error(`${name} ${args.join(' ')} failed (${String(out.code)}):\n${out.stderr}`)
  return out.stdout.trim()
}

/**
 * The pinned image when present (not a stand-in of ours) or pullable; else builds the stand-in
 * with `build` (which reuses a cached one) and reports it.
 */
async function pinnedOrStandIn (service: string, pinned: string, build: () => Promise<string>): Promise<ServiceImage> {
  const image = qualify(pinned)
  const label = await labelOf(image)
  if (label === '') return { service, image, origin: 'pinned', note: `${pinned} (already on the engine)` }
  if (await pull(image)) return { service, image, origin: 'pulled', note: `${pinned} (pulled)` }
  return { service, image, origin: 'stand-in', note: (await build()).replace(` ${image}`, '') }
}

/**
 * Resolves (and pulls or builds) the image of every service in `pinned` (service -> image of
 * docker-compose.yml), and the Dockerfile's base image under the key `app-base`.
 * Throws when an image named by an env var cannot be found or pulled, or a stand-in build fails.
 */
export async function resolveImages (pinned: Record<string, string>): Promise<ServiceImage[]> {
  const result: ServiceImage[] = []
  const base = dockerfileBase()
  const baseImage = await pinnedOrStandIn('app-base', base, () => script('node-base.sh', [qualify(base)]))
  result.push(baseImage)
  for (const [service, image] of Object.entries(pinned)) {
    const fromEnv = process.env[imageEnvName(service)]
    if (fromEnv !== undefined && fromEnv !== '') {
      if (await labelOf(fromEnv) === undefined && !(await pull(fromEnv))) {
        throw new Error(`${imageEnvName(service)}=${fromEnv}: no such image on the engine and the pull failed`)
      }
      result.push({ service, image: fromEnv, origin: 'env', note: `from ${imageEnvName(service)}` })
    } else if (STAND_IN_KINDS[service] !== undefined) {
      const kind = STAND_IN_KINDS[service]
      result.push(await pinnedOrStandIn(service, image, () => script('stand-in.sh', [kind, qualify(image)])))
    } else if (service === 'statsd-exporter') {
      const real = await pinnedOrStandIn(service, image, async () => '')
      result.push(real.origin !== 'stand-in' ? real : await buildStatsdStandIn(baseImage.image))
    } else if (await labelOf(qualify(image)) === '' || await pull(qualify(image))) {
      result.push({ service, image: qualify(image), origin: 'pinned', note: image })
    } else {
      result.push({ service, image: '', origin: 'absent', note: `${image} cannot be pulled and has no stand-in; set ${imageEnvName(service)}` })
    }
  }
  return result
}
