/**
 * The service's image for the compose test: APP_IMAGE when set, else built from the Dockerfile
 * under the name docker-compose.yml gives it, with `podman build --format docker` (podman's
 * default OCI format has no HEALTHCHECK, so compose would see no health) and the machine's npm
 * configuration and CA bundle as build secrets `npmrc` and `cacert` (the Dockerfile's
 * `RUN --mount=type=secret`), which a TLS-intercepting proxy makes necessary for `npm ci`.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { ROOT } from '../helpers/stack.js'
import { podman } from './engine.js'

/** What was used, for the test's output. */
export interface AppImage {
  image: string
  note: string
  /** Seconds the build took (0 when APP_IMAGE was given). */
  buildSeconds: number
}

/** `npm config get <key>`, or undefined when unset or npm fails. */
function npmConfig (key: string): string | undefined {
  const out = spawnSync('npm', ['config', 'get', key], { encoding: 'utf8', cwd: ROOT })
  const value = out.status === 0 ? out.stdout.trim() : ''
  return value === '' || value === 'null' || value === 'undefined' ? undefined : value
}

/** The build secrets this machine has: its npm user config and its CA bundle, where they exist. */
export function buildSecrets (): string[] {
  const secrets: string[] = []
  const userconfig = npmConfig('userconfig')
  if (userconfig !== undefined && existsSync(userconfig)) secrets.push('--secret', `id=npmrc,src=${userconfig}`)
  const cafile = npmConfig('cafile') ?? '/etc/ssl/certs/ca-certificates.crt'
  if (existsSync(cafile)) secrets.push('--secret', `id=cacert,src=${cafile}`)
  return secrets
}

/**
 * Builds (or takes from APP_IMAGE) the app image; `pinned` is the compose file's app image name.
 * Throws with the build's output when it fails.
 */
export async function appImage (pinned: string): Promise<AppImage> {
  const given = process.env.APP_IMAGE
  if (given !== undefined && given !== '') return { image: given, note: 'from APP_IMAGE', buildSeconds: 0 }
  const started = Date.now()
  const secrets = buildSecrets()
  const built = await podman(['build', '--format', 'docker', ...secrets, '-t', pinned, ROOT], 1_200_000)
  if (built.code !== 0) throw new Error(`podman build of the Dockerfile failed:\n${built.stdout.slice(-3000)}\n${built.stderr.slice(-3000)}`)
  const seconds = (Date.now() - started) / 1000
  const names = secrets.filter((s) => s.startsWith('id=')).map((s) => s.slice(3, s.indexOf(','))).join(', ')
  return { image: pinned, note: `built from the Dockerfile (podman build --format docker, secrets: ${names === '' ? 'none' : names})`, buildSeconds: seconds }
}
