/**
 * scripts/test-all.sh (`npm test`): every part runs even after one fails, each is reported with
 * its result and wall time, and the exit status is 1 when any failed. Run with a stand-in `npm`
 * first on PATH that records each call and fails the typecheck only.
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ROOT } from '../helpers/stack.js'

const PARTS = ['lint', 'typecheck', 'unit', 'e2e', 'compose', 'bench-smoke']

t.test('a failing part does not stop the others; the summary names each part and the exit status is 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-test-all-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const calls = join(dir, 'calls')
  writeFileSync(join(dir, 'npm'), `#!/bin/sh\necho "$*" >> '${calls}'\n[ "$3" = typecheck ] && exit 3\nexit 0\n`)
  chmodSync(join(dir, 'npm'), 0o755)
  const run = spawnSync('bash', [join(ROOT, 'scripts', 'test-all.sh')], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}`, TEST_PARTS: '' }
  })
  t.equal(run.status, 1, `exit 1\n${run.stdout}\n${run.stderr}`)
  t.same(readFileSync(calls, 'utf8').trim().split('\n'), [
    'run --silent lint', 'run --silent typecheck', 'run --silent test:unit', 'run --silent test:e2e', 'run --silent test:compose', 'run --silent bench:smoke'
  ], 'every part ran, in order, after the failure too')
  const summary = run.stdout.slice(run.stdout.indexOf('npm test summary'))
  const rows = summary.split('\n').slice(2, 2 + PARTS.length).map((l) => l.trim().split(/\s{2,}/))
  t.same(rows.map((r) => r.slice(0, 2)), PARTS.map((p) => [p, p === 'typecheck' ? 'FAIL (exit 3)' : 'ok']), 'one row per part with its result')
  t.ok(rows.every((r) => /^\d+\.\d$/.test(r[2] ?? '')), 'and its wall time in seconds')
  t.match(summary, /^npm test: 5 of 6 parts passed, 1 failed, \d+\.\d s$/m)
})

t.test('all parts passing: exit 0; TEST_PARTS runs a subset', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-test-all-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'npm'), '#!/bin/sh\nexit 0\n')
  chmodSync(join(dir, 'npm'), 0o755)
  const run = spawnSync('bash', [join(ROOT, 'scripts', 'test-all.sh')], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}`, TEST_PARTS: 'lint unit' }
  })
  t.equal(run.status, 0, run.stdout + run.stderr)
  t.match(run.stdout, /^npm test: 2 of 2 parts passed, 0 failed, \d+\.\d s$/m)
})
