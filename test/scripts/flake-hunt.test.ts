/**
 * scripts/flake-hunt.sh (`npm run flake-hunt`): counts per file the runs that failed. Run on two
 * fixtures without stress-ng (the test must not load the machine it shares): one passes every
 * time, one fails on its second run only, as a flaky test does now and then.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ROOT } from '../helpers/stack.js'

const SCRIPT = join(ROOT, 'scripts', 'flake-hunt.sh')
const FIXTURES = 'test/fixtures/flake-hunt'

t.test('a failure on one run of one file is counted against that file, and the exit status says so', { timeout: 300_000 }, async (t) => {
  const logs = mkdtempSync(join(tmpdir(), 'fm-flake-hunt-'))
  t.teardown(() => rmSync(logs, { recursive: true, force: true }))
  const run = spawnSync('bash', [SCRIPT, '--runs', '2', '--no-stress', FIXTURES], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, FLAKE_HUNT_LOGS: logs }, timeout: 280_000
  })
  const out = run.stdout
  t.equal(run.status, 1, `exit 1 when a run failed\n${out}\n${run.stderr}`)
  const row = (file: string): string[] | undefined => out.split('\n').find((l) => l.startsWith(`${FIXTURES}/${file} `))?.trim().split(/\s+/)
  t.same(row('fails-on-run-2.test.ts')?.slice(1, 3), ['2', '1'], 'flaky fixture: 2 runs, 1 failure')
  t.same(row('passes.test.ts')?.slice(1, 3), ['2', '0'], 'passing fixture: 2 runs, 0 failures')
  t.match(out, /^flake-hunt: 4 runs, 1 failed \(no stress\)$/m, 'the total line')
  t.match(out, /^run 2\/2 {2}FAIL .* test\/fixtures\/flake-hunt\/fails-on-run-2\.test\.ts /m, 'the failing run is named')
  const kept = readdirSync(logs)
  t.same(kept, ['run2-test_fixtures_flake-hunt_fails-on-run-2.test.ts.log'], 'only the failed run\'s output is kept')
  t.match(readFileSync(join(logs, kept[0] ?? ''), 'utf8'), /not ok/, 'and it holds tap\'s report of the failure')
})

t.test('without stress-ng it says how to get it, and runs nothing', async (t) => {
  const run = spawnSync('bash', [SCRIPT, '--runs', '1', FIXTURES], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, STRESS_NG: 'no-such-stress-ng' }
  })
  t.equal(run.status, 2)
  t.match(run.stderr, /no-such-stress-ng is not installed: apt-get install -y stress-ng \(or bash scripts\/install-deps\.sh\), or pass --no-stress/)
  t.equal(run.stdout, '')
})
