import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ROOT } from './helpers/stack.js'

/**
 * The README sends a newcomer to test files for its proofs ("... is test/x.test.ts"): each one it
 * names must exist, so a renamed or split test cannot leave the README pointing at nothing.
 */
t.test('every test file the README names exists', async (t) => {
  const named = [...new Set(readFileSync(join(ROOT, 'README.md'), 'utf8').match(/\btest\/[\w./-]+\.test\.ts\b/g) ?? [])].sort()
  t.ok(named.length > 10, `${named.length} test files named`)
  t.same(named.filter((file) => !existsSync(join(ROOT, file))), [], 'none missing')
})
