import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { ROOT, type RunResult } from './stack.js'

/** The load script under test. */
export const LOAD_SH = join(ROOT, 'scripts', 'load.sh')

/** The reason tests give when they skip for lack of siege. */
export const NO_SIEGE = 'siege is not installed: apt-get install -y siege'

/**
 * Runs scripts/load.sh to completion (SIGKILL after 150 s) and resolves with its output.
 * PROMETHEUS_URL, SERVICE_NAME and BASE_URL from the caller's shell are cleared: every test says
 * what it means. `onStderr` is called with everything written to stderr so far, as it comes.
 */
export function loadSh (args: string[], env: Record<string, string> = {}, onStderr?: (text: string) => void): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(LOAD_SH, args, {
      cwd: ROOT,
      env: { ...process.env, PROMETHEUS_URL: '', SERVICE_NAME: '', BASE_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
      onStderr?.(stderr)
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** The number after a `Label:<tab>` line of load.sh's report, e.g. `Responses received`. */
export function reported (output: string, label: string): number | undefined {
  const match = new RegExp(`^${label}:\\t(\\d+)`, 'm').exec(output)
  return match?.[1] === undefined ? undefined : Number(match[1])
}

/** Responses by status code, from load.sh's `By status:` line. */
export function byStatus (output: string): Record<string, number> {
  const line = /^By status:\t(.*)$/m.exec(output)?.[1] ?? ''
  return Object.fromEntries(line.split(' ').filter((p) => p !== '').map((p) => p.split('=')).map(([k, v]) => [k, Number(v)]))
}
