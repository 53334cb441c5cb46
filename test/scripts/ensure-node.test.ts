/**
 * scripts/ensure-node.sh, sourced by .ci/run: which `node` ends up first on PATH. Run on a copy
 * of the script in a temporary root, with stand-in `node` binaries (shell scripts printing a
 * version), so no download happens: the download itself is what `.ci/run` does on a machine
 * whose node is older than 22 (it prints `node --version` after sourcing the script).
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ROOT } from '../helpers/stack.js'

const NODE_VERSION = /^NODE_VERSION=\$\{NODE_VERSION:-(\S+)\}$/m.exec(readFileSync(join(ROOT, 'scripts', 'ensure-node.sh'), 'utf8'))?.[1] ?? ''

/** A stand-in `node` that answers `--version` and `-p <major expression>` like the real one. */
function fakeNode (dir: string, version: string): void {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'node')
  writeFileSync(file, `#!/bin/sh\nif [ "$1" = -p ]; then echo ${version.split('.')[0]}; else echo v${version}; fi\n`)
  chmodSync(file, 0o755)
}

/** Sources the copied script with `machineNodeDir` first on PATH; returns which node then answers. */
function sourceWith (root: string, machineNodeDir: string): { status: number | null, output: string } {
  const result = spawnSync('bash', ['-c', `export PATH="${machineNodeDir}:/usr/bin:/bin"; source "${root}/scripts/ensure-node.sh" && command -v node && node --version`],
    { encoding: 'utf8', env: { HOME: root } })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

t.test('a machine node older than 22 is shadowed by the project-local Node.js 24', async (t) => {
  t.match(NODE_VERSION, /^24\.\d+\.\d+$/, `the script installs Node.js 24 (${NODE_VERSION})`)
  const root = mkdtempSync(join(tmpdir(), 'fm-ensure-node-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  mkdirSync(join(root, 'scripts'))
  copyFileSync(join(ROOT, 'scripts', 'ensure-node.sh'), join(root, 'scripts', 'ensure-node.sh'))
  // Already installed by an earlier run: the script must reuse it, not download again.
  fakeNode(join(root, '.tools', `node-v${NODE_VERSION}`, 'bin'), NODE_VERSION)
  fakeNode(join(root, 'machine-20'), '20.19.2')
  fakeNode(join(root, 'machine-22'), '22.19.0')

  const old = sourceWith(root, join(root, 'machine-20'))
  t.equal(old.status, 0, old.output)
  t.equal(old.output, `${join(root, '.tools', `node-v${NODE_VERSION}`, 'bin', 'node')}\nv${NODE_VERSION}\n`, 'node 20 on the machine: the installed 24 answers')

  const current = sourceWith(root, join(root, 'machine-22'))
  t.equal(current.status, 0, current.output)
  t.equal(current.output, `${join(root, 'machine-22', 'node')}\nv22.19.0\n`, 'node 22 on the machine: left alone')
})
