/**
 * The README's quick start, read from the README itself: the compose test runs these commands and
 * the docs test (test/docs.test.ts) checks that each one is a command the compose test knows how
 * to run, so the README and the test cannot drift apart. The README writes Compose v2
 * (`docker compose X`); Debian's docker-compose 1.29, which the compose test drives, takes the
 * same arguments (`docker-compose X`).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from '../helpers/stack.js'

export const BEGIN = '<!-- quick-start:begin'
export const END = '<!-- quick-start:end -->'

/** One command of the quick start, as written and as the compose test runs it. */
export interface QuickStartCommand {
  /** The line as the README shows it. */
  readonly line: string
  /** `compose`: `docker compose <args>`; `script`: a repository script with its arguments. */
  readonly kind: 'compose' | 'script'
  /** For `compose`, the compose arguments; for `script`, the script's path then its arguments. */
  readonly args: readonly string[]
}

/** The quick start's commands, the three roles the compose test gives them. */
export interface QuickStart {
  readonly commands: readonly QuickStartCommand[]
  /** Starts the stack: `docker compose up -d --build`. */
  readonly up: QuickStartCommand
  /** Drives traffic: `scripts/load.sh` (the test adds its own ports, a shorter -t and fewer users). */
  readonly load: QuickStartCommand
  /** Removes everything: `docker compose down -v`. */
  readonly down: QuickStartCommand
}

/** The quick start's shell block between the markers, one command per line (comments dropped). */
export function quickStartLines (readme: string): string[] {
  const start = readme.indexOf(BEGIN)
  const end = readme.indexOf(END)
  if (start < 0 || end < start) throw new Error(`README.md has no quick start between ${BEGIN} ... and ${END}`)
  const block = /```sh\n([\s\S]*?)\n```/.exec(readme.slice(start, end))
  if (block === null) throw new Error('the quick start has no ```sh block')
  return block[1]!.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l !== '' && !l.startsWith('#'))
}

function parse (line: string): QuickStartCommand {
  const words = line.split(/\s+/)
  if (words[0] === 'docker' && words[1] === 'compose') return { line, kind: 'compose', args: words.slice(2) }
  if (/^scripts\/[\w.-]+$/.test(words[0]!)) return { line, kind: 'script', args: words }
  throw new Error(`quick start: "${line}" is neither \`docker compose ...\` nor a repository script: the compose test cannot run it`)
}

/**
 * Reads the quick start and gives each command its role; throws when a command is one the
 * compose test does not run (so a new step in the README fails test/docs.test.ts until the
 * compose test runs it too).
 */
export function quickStart (readme = readFileSync(join(ROOT, 'README.md'), 'utf8')): QuickStart {
  const commands = quickStartLines(readme).map(parse)
  const roles = commands.map((c): 'up' | 'load' | 'down' | undefined => {
    if (c.kind === 'compose' && c.args[0] === 'up') return 'up'
    if (c.kind === 'compose' && c.args[0] === 'down') return 'down'
    if (c.kind === 'script' && c.args[0] === 'scripts/load.sh') return 'load'
    return undefined
  })
  const unknown = commands.filter((_, i) => roles[i] === undefined)
  if (unknown.length > 0) throw new Error(`quick start: the compose test does not run ${unknown.map((c) => `"${c.line}"`).join(', ')}`)
  if (roles.join(',') !== 'up,load,down') throw new Error(`quick start: expected up, load.sh, down in that order, got ${roles.join(', ')}`)
  return { commands, up: commands[0]!, load: commands[1]!, down: commands[2]! }
}
