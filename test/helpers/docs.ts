/**
 * What the documentation names, checked against the repository (test/docs.test.ts): repository
 * paths, npm scripts, environment variables and named constants, test files, relative links and
 * their #anchors. Pure functions over a page's text and a view of the repository, so the test can
 * feed them broken pages too and see each check fail.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, posix } from 'node:path'
import { ROOT } from './stack.js'

/** The pages the docs test covers: README, CONTRIBUTING, SECURITY and every page under docs/. */
export function docPages (): string[] {
  return ['README.md', 'CONTRIBUTING.md', 'SECURITY.md',
    ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)]
}

/** What a page is checked against. */
export interface Repo {
  /** A repository-relative path (file or directory) exists. */
  exists (path: string): boolean
  /** Base names of every tracked file (a file named without its directory). */
  readonly basenames: ReadonlySet<string>
  /** package.json's scripts. */
  readonly scripts: ReadonlySet<string>
  /** Upper-case names the code, compose file and scripts read or define (environment variables, constants). */
  readonly names: ReadonlySet<string>
  /** The `#anchor`s of a Markdown file (GitHub's heading slugs), by repository-relative path. */
  anchors (path: string): ReadonlySet<string>
}

/** Top-level directories whose paths a page may name. */
const PATH = /(?<![\w./@:~-])((?:\.ci|service|etc|scripts|test|docs|tools)\/[\w.@/-]*[\w/])/g
/** Files at the root named without a directory. */
const ROOT_FILE = /(?<![\w./-])(package\.json|docker-compose\.yml|renovate\.json|\.env\.example|Dockerfile|\.dockerignore|LICENSE|CHANGELOG\.md|CONTRIBUTING\.md|SECURITY\.md|README\.md|tsconfig\.json)(?![\w-])/g
/** A file name in a code span, without a directory: it must be a tracked file somewhere. */
const BARE_FILE = /`([\w.-]+\.(?:json|ya?ml|md|sh|mjs|ts))`/g
const NPM_RUN = /\bnpm run ([\w:.-]*\w)/g
const NPM_BUILTIN = /\bnpm (test|start)\b/g
const UPPER = /\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/g
const LINK = /\[[^\]]*\]\(([^)\s]+)\)/g

/**
 * Names other tools define, which the project names but does not read: npm's error code for a
 * re-signed certificate, Docker's BuildKit switch, and the `NAME_VERSION=` form of a pin.
 */
export const EXTERNAL_NAMES = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DOCKER_BUILDKIT', 'NAME_VERSION'])

/**
 * Paths a page names on purpose that are not in the repository: the reader's own copy of an
 * overlay, which the Kubernetes page tells them to make.
 */
export const NOT_IN_REPO = new Set(['etc/kubernetes/overlays/mine'])

/** GitHub's slug of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug (heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
}

/** The anchors of a Markdown text: its headings' slugs (repeats get -1, -2, ...), outside code blocks. */
export function anchorsOf (text: string): Set<string> {
  const out = new Set<string>()
  const seen = new Map<string, number>()
  let code = false
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) code = !code
    const m = code ? null : /^#{1,6}\s+(.*)$/.exec(line)
    if (m === null) continue
    const base = slug(m[1]!)
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

/** Every problem found on one page, as `page: what` lines; empty when the page is sound. */
export function checkPage (page: string, text: string, repo: Repo): string[] {
  const problems: string[] = []
  for (const [, path] of text.matchAll(PATH)) {
    if (!NOT_IN_REPO.has(path!) && !repo.exists(path!)) problems.push(`${page}: path ${path} does not exist`)
  }
  for (const [, file] of text.matchAll(ROOT_FILE)) if (!repo.exists(file!)) problems.push(`${page}: ${file} does not exist`)
  for (const [, file] of text.matchAll(BARE_FILE)) {
    if (!repo.exists(file!) && !repo.basenames.has(file!)) problems.push(`${page}: file ${file} is in no directory of the repository`)
  }
  for (const [, script] of [...text.matchAll(NPM_RUN), ...text.matchAll(NPM_BUILTIN)]) {
    if (!repo.scripts.has(script!)) problems.push(`${page}: npm script ${script} is not in package.json`)
  }
  for (const [, name] of text.matchAll(UPPER)) {
    if (!repo.names.has(name!) && !EXTERNAL_NAMES.has(name!)) problems.push(`${page}: ${name} is read or defined nowhere in the code, compose file or scripts`)
  }
  for (const [, target] of text.matchAll(LINK)) {
    if (/^[a-z]+:/.test(target!)) continue // https:, mailto:
    const [file, anchor] = target!.split('#') as [string, string | undefined]
    const path = file === '' ? page : posix.normalize(posix.join(posix.dirname(page), file))
    if (path.startsWith('..') || !repo.exists(path)) {
      problems.push(`${page}: link ${target} points at ${path}, which does not exist`)
      continue
    }
    if (anchor !== undefined && path.endsWith('.md') && !repo.anchors(path).has(anchor)) {
      problems.push(`${page}: link ${target}: ${path} has no heading #${anchor}`)
    }
  }
  return [...new Set(problems)]
}

/** Names read as environment variables or defined as constants, in the repository's code and configuration. */
function namesIn (file: string, text: string): string[] {
  const patterns = [
    /process\.env\.([A-Z][A-Z0-9_]+)/g, /process\.env\[['"]([A-Z][A-Z0-9_]+)['"]\]/g, /\benv\.([A-Z][A-Z0-9_]+)/g,
    /\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]/g, /\(env,\s*['"]([A-Z][A-Z0-9_]+)['"]/g, // config.ts's readers: text(env, 'NAME', ...)
    /\$\{([A-Z][A-Z0-9_]+)/g, /\$([A-Z][A-Z0-9_]+)/g, /\b([A-Z][A-Z0-9_]+)=/g, // shell and compose: ${NAME:-x}, $NAME, NAME=
    /^\s+([A-Z][A-Z0-9_]+):/gm, // compose `environment:` keys
    /\b(?:const|let|var)\s+([A-Z][A-Z0-9_]+)\b/g, // named constants (LATENCY_OBJECTIVE_SECONDS)
    /['"`]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)['"`]/g // names the code uses as strings (Fastify's error codes)
  ]
  if (file.endsWith('.md')) return []
  return patterns.flatMap((p) => [...text.matchAll(p)].map((m) => m[1]!))
}

/** The repository as the docs test sees it (tracked and new files, not ignored ones). */
export function loadRepo (extraNames: Iterable<string> = []): Repo {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n').filter((f) => f !== '' && existsSync(join(ROOT, f)))
  const names = new Set<string>(extraNames)
  for (const file of files) {
    // The docs test's own broken fixtures name things that must not count as read.
    if (!/\.(ts|mjs|js|sh|ya?ml|json)$|(^|\/)(Dockerfile|run|\.env\.example)$/.test(file) || file === 'test/docs.test.ts') continue
    for (const name of namesIn(file, readFileSync(join(ROOT, file), 'utf8'))) names.add(name)
  }
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  const anchorCache = new Map<string, Set<string>>()
  return {
    exists: (path) => existsSync(join(ROOT, path.replace(/\/$/, ''))),
    basenames: new Set(files.map((f) => posix.basename(f))),
    scripts: new Set(Object.keys(pkg.scripts)),
    names,
    anchors: (path) => {
      if (!anchorCache.has(path)) anchorCache.set(path, anchorsOf(readFileSync(join(ROOT, path), 'utf8')))
      return anchorCache.get(path)!
    }
  }
}
