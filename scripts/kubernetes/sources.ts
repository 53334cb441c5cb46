/**
 * The sources the Kubernetes objects are generated from, read at generate time so that a
 * change to any of them reaches etc/kubernetes with one `npm run generate`:
 * docker-compose.yml (image tags), etc/statsd/mapping.yml, etc/prometheus/rules/*.yml,
 * etc/dashboards/*.json, etc/alertmanager/alertmanager.yml and package.json (the app's tag).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { parse } from 'yaml'

/** The repository root (scripts/kubernetes/../../). */
export const ROOT = new URL('../../', import.meta.url)

/** Reads a file relative to the repository root as UTF-8 text. */
export function readSource (path: string): string {
  return readFileSync(new URL(path, ROOT), 'utf8')
}

/** File names in a directory of the repository ending in `ext`, sorted (deterministic output). */
export function listSources (dir: string, ext: string): string[] {
  return readdirSync(new URL(dir, ROOT)).filter((f) => f.endsWith(ext)).sort()
}

/** An image reference split the way kustomize's `images:` transformer takes it. */
export interface ImageRef {
  readonly name: string
  readonly tag?: string
  readonly digest?: string
}

/**
 * Splits `name[:tag][@digest]` (a registry port such as `host:5000/x` is part of the name).
 * @throws {Error} when the reference has neither a tag nor a digest: compose pins every image.
 */
export function parseImage (ref: string): ImageRef {
  const [rest, digest] = ref.split('@') as [string, string | undefined]
  const slash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  const name = colon > slash ? rest.slice(0, colon) : rest
  const tag = colon > slash ? rest.slice(colon + 1) : undefined
  if (tag === undefined && digest === undefined) throw new Error(`image ${ref} is not pinned (no tag, no digest)`)
  return { name, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) }
}

/**
 * The image of each docker-compose.yml service that pulls one, keyed by compose service name.
 * Services with `build:` (the app, alert-log) are absent: their `image:` only names the local
 * build (fastify-monitoring:local), not a release.
 */
export function composeImages (): Record<string, ImageRef> {
  const compose = parse(readSource('docker-compose.yml')) as { services: Record<string, { image?: string, build?: unknown }> }
  const out: Record<string, ImageRef> = {}
  for (const [service, spec] of Object.entries(compose.services)) {
    if (typeof spec.image === 'string' && spec.build === undefined) out[service] = parseImage(spec.image)
  }
  return out
}

/** package.json's version: the tag the app image is built with (`docker build -t ...:<version>`). */
export function appVersion (): string {
  return (JSON.parse(readSource('package.json')) as { version: string }).version
}

/** A Prometheus rule group as written in etc/prometheus/rules/*.yml. */
export type RuleGroup = Record<string, unknown> & { name: string, rules: Array<Record<string, unknown>> }

/** Every group of every etc/prometheus/rules/*.yml, files in name order, groups in file order. */
export function ruleGroups (): RuleGroup[] {
  return listSources('etc/prometheus/rules/', '.yml')
    .flatMap((f) => (parse(readSource(`etc/prometheus/rules/${f}`)) as { groups: RuleGroup[] }).groups)
}
