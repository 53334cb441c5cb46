import t from 'tap'
import { runbookBaseUrl, withRunbookUrls } from '../../scripts/runbooks.js'

t.test('runbookBaseUrl: package.json config.runbookBaseUrl, trailing slashes dropped', async (t) => {
  t.equal(runbookBaseUrl(JSON.stringify({ config: { runbookBaseUrl: 'https://wiki.example.org/runbooks/' } })), 'https://wiki.example.org/runbooks')
  t.match(runbookBaseUrl(), /^https?:\/\/\S+[^/]$/, 'this repository has one')
  for (const bad of [{}, { config: {} }, { config: { runbookBaseUrl: 'wiki/runbooks' } }, { config: { runbookBaseUrl: 42 } }, { config: { runbookBaseUrl: "https://x/'a" } }]) {
    t.throws(() => runbookBaseUrl(JSON.stringify(bad)), /package\.json config\.runbookBaseUrl must be an http\(s\) URL/, JSON.stringify(bad))
  }
})

t.test('withRunbookUrls: every runbook_url, quoted or not, gets the base; other lines stay', async (t) => {
  const rules = [
    '      - alert: A',
    '        annotations:',
    '          summary: see https://old.example/x/A.md',
    '          runbook_url: https://old.example/x/A.md',
    "              runbook_url: 'https://old.example/x/B.md'",
    ''
  ].join('\n')
  t.equal(withRunbookUrls(rules, 'https://new.example/rb'), [
    '      - alert: A',
    '        annotations:',
    '          summary: see https://old.example/x/A.md',
    '          runbook_url: https://new.example/rb/A.md',
    "              runbook_url: 'https://new.example/rb/B.md'",
    ''
  ].join('\n'))
  t.equal(withRunbookUrls(withRunbookUrls(rules, 'https://new.example/rb'), 'https://new.example/rb'), withRunbookUrls(rules, 'https://new.example/rb'), 'idempotent')
})
