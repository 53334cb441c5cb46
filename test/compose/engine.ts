/**
 * The container engine the compose test drives: podman (its CLI for builds, inspection and
 * healthchecks) behind its Docker-compatible API, which Debian's docker-compose 1.29 talks to.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, run, which, type RunResult } from '../helpers/stack.js'
import type { TestLike } from '../helpers/redis.js'

/** How docker-compose reaches the engine. */
export interface Engine {
  /** DOCKER_HOST for docker-compose: the caller's, or a socket this test started. */
  readonly dockerHost: string
  /** Who provides the socket, for the test's output. */
  readonly origin: string
}

/**
 * Why the compose test cannot run here, or undefined when it can: docker-compose and podman
 * installed, and podman able to run a container (`podman info` answers).
 */
export function engineMissing (): string | undefined {
  if (which('docker-compose') === undefined) return 'docker-compose is not installed (apt-get install docker-compose; .ci/run does)'
  if (which('podman') === undefined) return 'podman is not installed (apt-get install podman runc; .ci/run does)'
  const info = spawnSync('podman', ['info', '--format', '{{.Host.OCIRuntime.Name}}'], { encoding: 'utf8', timeout: 30_000 })
  if (info.status !== 0) return `podman cannot run here: ${(info.stderr ?? '').trim().split('\n').pop() ?? 'podman info failed'}`
  return undefined
}

/** Runs podman with arguments; resolves with its output (never rejects on exit status). */
export function podman (args: string[], timeoutMs = 120_000): Promise<RunResult> {
  return run('podman', args, {}, timeoutMs)
}

/**
 * The engine's API socket: DOCKER_HOST when the caller set it (.ci/run starts podman's), else
 * `podman system service` on a socket under .run/compose/, stopped at teardown.
 */
export async function connectEngine (t: TestLike): Promise<Engine> {
  const given = process.env.DOCKER_HOST
  if (given !== undefined && given !== '') return { dockerHost: given, origin: `DOCKER_HOST=${given}` }
  const dir = join(ROOT, '.run', 'compose')
  mkdirSync(dir, { recursive: true })
  const socket = join(dir, `podman-${process.pid}.sock`)
  const service = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], { stdio: 'ignore' })
  t.teardown(() => { service.kill('SIGTERM') })
  const deadline = Date.now() + 15_000
  while (!existsSync(socket)) {
    if (Date.now() > deadline || service.exitCode !== null) throw new Error(`podman system service did not create ${socket}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { dockerHost: `unix://${socket}`, origin: `podman system service started by the test (unix://${socket})` }
}

/** A container of the compose project, as podman sees it. */
export interface ContainerState {
  name: string
  service: string
  status: string
  /** healthy, unhealthy, starting, or '' for a container without a healthcheck. */
  health: string
  exitCode: number
  /** When the container last exited (ISO time; podman's zero time while it runs). */
  finishedAt: string
}

/** Every container of compose project `project` (compose labels them), running or not. */
export async function containers (project: string): Promise<ContainerState[]> {
  const ids = await podman(['ps', '-a', '-q', '--filter', `label=com.docker.compose.project=${project}`])
  const list = ids.stdout.split('\n').filter((id) => id !== '')
  if (list.length === 0) return []
  const out = await podman(['inspect', '--format', 'json', ...list])
  const parsed = JSON.parse(out.stdout) as Array<{
    Name: string
    Config: { Labels: Record<string, string> }
    State: { Status: string, ExitCode: number, FinishedAt: string, Health?: { Status: string }, Healthcheck?: { Status: string } }
  }>
  return parsed.map((c) => ({
    name: c.Name,
    service: c.Config.Labels['com.docker.compose.service'] ?? '',
    status: c.State.Status,
    health: c.State.Health?.Status ?? c.State.Healthcheck?.Status ?? '',
    exitCode: c.State.ExitCode,
    finishedAt: c.State.FinishedAt
  }))
}

/**
 * Podman runs healthcheck timers through systemd only, and there is none here: this runs
 * `podman healthcheck run` on every running container of the project that has a healthcheck,
 * every `intervalMs`, until the returned function is called. docker-compose's
 * `depends_on: service_healthy` and the test's own waits both read the result.
 */
export function healthPulse (project: string, intervalMs = 2000): () => Promise<void> {
  const state = { stopped: false }
  const loop = (async () => {
    while (!state.stopped) {
      const list = await containers(project).catch(() => [])
      await Promise.all(list.filter((c) => c.status === 'running' && c.health !== '')
        .map((c) => podman(['healthcheck', 'run', c.name], 30_000)))
      await new Promise((resolve) => setTimeout(resolve, intervalMs))
    }
  })()
  return async () => { state.stopped = true; await loop }
}
