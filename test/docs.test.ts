/**
 * The docs are tested like code: everything README.md, CONTRIBUTING.md, SECURITY.md and the pages
 * under docs/ name must exist (repository paths, npm scripts, environment variables and named
 * constants, test files, relative links and their #anchors), and the README's quick start must be
 * the commands the compose test runs (test/compose/quick-start.ts reads them for both).
 */
import { accessSync, constants, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ROOT } from './helpers/stack.js'
import { anchorsOf, checkPage, docPages, loadRepo, slug } from './helpers/docs.js'
import { composeServices } from './compose/compose.js'
import { imageEnvName } from './compose/images.js'
import { quickStart } from './compose/quick-start.js'

// The compose test reads `<SERVICE>_IMAGE` for every compose service (test/compose/images.ts).
const repo = loadRepo(Object.keys(composeServices()).map(imageEnvName))
const pages = docPages()

t.test('the pages: README, CONTRIBUTING, SECURITY and one page per subject under docs/', async (t) => {
  t.ok(pages.filter((p) => p.startsWith('docs/')).length >= 13, `${pages.length} pages: ${pages.join(', ')}`)
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  t.ok(readme.split('\n').length <= 200, `README.md has ${readme.split('\n').length} lines (at most about 200)`)
  for (const page of pages.filter((p) => p.startsWith('docs/'))) {
    t.ok(readme.includes(`](${page})`), `README links ${page}`)
  }
})

t.test('everything a page names exists', async (t) => {
  for (const page of pages) {
    const problems = checkPage(page, readFileSync(join(ROOT, page), 'utf8'), repo)
    t.same(problems, [], `${page}: every path, npm script, variable, test file and link resolves`)
  }
})

t.test('the README quick start is what the compose test runs', async (t) => {
  const readme = quickStart()
  t.same(readme.commands.map((c) => c.line), ['docker compose up -d --build', 'scripts/load.sh', 'docker compose down -v'], 'up, load, down')
  t.doesNotThrow(() => accessSync(join(ROOT, readme.load.args[0]!), constants.X_OK), `${readme.load.args[0]} is executable`)
  const stackTest = readFileSync(join(ROOT, 'test', 'compose', 'stack.test.ts'), 'utf8')
  for (const role of ['up', 'load', 'down']) t.match(stackTest, new RegExp(`readme\\.${role}\\.args`), `test/compose/stack.test.ts runs the quick start's ${role} command`)
  t.throws(() => quickStart('<!-- quick-start:begin -->\n```sh\ndocker compose up -d --build\ncurl localhost:8080\nscripts/load.sh\ndocker compose down -v\n```\n<!-- quick-start:end -->'),
    /"curl localhost:8080" is neither `docker compose \.\.\.` nor a repository script/, 'a command the compose test does not run fails')
})

t.test('the checks fail on a broken page', async (t) => {
  const broken = [
    'See [the API](docs/api.md#no-such-heading), [gone](docs/gone.md) and [ports](#ports).',
    'Run `npm run no-such-script`, set `NO_SUCH_VARIABLE_MS`, read scripts/no-such.sh and test/no-such.test.ts.',
    'Named alone: `no-such-file.test.ts`.'
  ].join('\n')
  t.same(checkPage('README.md', broken, repo).sort(), [
    'README.md: NO_SUCH_VARIABLE_MS is read or defined nowhere in the code, compose file or scripts',
    'README.md: file no-such-file.test.ts is in no directory of the repository',
    'README.md: link docs/api.md#no-such-heading: docs/api.md has no heading #no-such-heading',
    'README.md: link docs/gone.md points at docs/gone.md, which does not exist',
    'README.md: npm script no-such-script is not in package.json',
    'README.md: path docs/gone.md does not exist',
    'README.md: path scripts/no-such.sh does not exist',
    'README.md: path test/no-such.test.ts does not exist'
  ], 'every kind of broken reference is reported (the #ports link resolves in README.md)')
  t.same(checkPage('docs/x.md', 'Back to the [README](../README.md#quick-start).', repo), [], 'a relative link up from docs/ resolves')
})

t.test('anchors are GitHub heading slugs', async (t) => {
  t.equal(slug('The compose stack, really run: `npm run test:compose`'), 'the-compose-stack-really-run-npm-run-testcompose')
  t.equal(slug('Updates (Renovate)'), 'updates-renovate')
  t.same([...anchorsOf('# A\n## B\n```sh\n# not a heading\n```\n## B\n')], ['a', 'b', 'b-1'])
})
