import t from 'tap'
import { alertmanagerConfigSpec, parseMatcher } from '../../scripts/kubernetes/alertmanager-config.js'
import { COMPOSE_IMAGES, componentKustomization } from '../../scripts/kubernetes/generated.js'
import { composeImages, parseImage } from '../../scripts/kubernetes/sources.js'

t.test('parseImage splits what kustomize\'s images transformer takes', async (t) => {
  t.same(parseImage('redis:7.2.7-alpine'), { name: 'redis', tag: '7.2.7-alpine' })
  t.same(parseImage('prom/statsd-exporter:v0.27.2'), { name: 'prom/statsd-exporter', tag: 'v0.27.2' })
  t.same(parseImage('registry.local:5000/team/app:1.0'), { name: 'registry.local:5000/team/app', tag: '1.0' })
  const digest = `sha256:${'a'.repeat(64)}`
  t.same(parseImage(`redis:7@${digest}`), { name: 'redis', tag: '7', digest })
  t.same(parseImage(`registry.local:5000/redis@${digest}`), { name: 'registry.local:5000/redis', digest })
  t.throws(() => parseImage('redis'), /image redis is not pinned/)
  t.throws(() => parseImage('registry.local:5000/redis'), /not pinned/)
})

t.test('composeImages reads every service with an image from docker-compose.yml', async (t) => {
  const images = composeImages()
  t.notOk('app' in images, 'the app is built, not pulled')
  for (const service of ['redis', 'statsd-exporter', 'prometheus']) t.type(images[service]?.tag ?? images[service]?.digest, 'string', service)
})

t.test('parseMatcher: every operator, escaped quotes, and a clear error otherwise', async (t) => {
  t.same(parseMatcher('severity="critical"'), { name: 'severity', value: 'critical', matchType: '=' })
  t.same(parseMatcher(' a != "b" '), { name: 'a', value: 'b', matchType: '!=' })
  t.same(parseMatcher('a=~"x|y"'), { name: 'a', value: 'x|y', matchType: '=~' })
  t.same(parseMatcher('a!~".*"'), { name: 'a', value: '.*', matchType: '!~' })
  t.same(parseMatcher('a="say \\"hi\\""'), { name: 'a', value: 'say \\"hi\\"', matchType: '=' })
  t.throws(() => parseMatcher('severity=critical'), /cannot translate matcher "severity=critical"/)
  t.throws(() => parseMatcher('a="1",b="2"'), /cannot translate matcher/)
})

t.test('alertmanagerConfigSpec refuses what it cannot translate, naming the field', async (t) => {
  t.throws(() => alertmanagerConfigSpec('global: {resolve_timeout: 5m}\nroute: {receiver: a}\n'), /\(top\)\.global has no translation/)
  t.throws(() => alertmanagerConfigSpec('route: {receiver: a, match: {a: b}}\n'), /route\.match has no translation/)
  t.throws(() => alertmanagerConfigSpec('route: {receiver: a}\nreceivers: [{name: a, email_configs: []}]\n'), /receivers\[0\]\.email_configs/)
  t.throws(() => alertmanagerConfigSpec('route: {receiver: a}\ninhibit_rules: [{source_match: {a: b}}]\n'), /inhibit_rules\[0\]\.source_match/)
  t.throws(() => alertmanagerConfigSpec('route: {receiver: a}\nreceivers: [{name: a, webhook_configs: [{url: x, http_config: {}}]}]\n'),
    /webhook_configs\[0\]\.http_config/)
  t.same(alertmanagerConfigSpec('route: {receiver: a, routes: [{receiver: b, matchers: [\'x="1"\'], continue: true}]}\nreceivers: [{name: a}, {name: b}]\n'), {
    route: { receiver: 'a', routes: [{ receiver: 'b', matchers: [{ name: 'x', value: '1', matchType: '=' }], continue: true }] },
    inhibitRules: [],
    receivers: [{ name: 'a' }, { name: 'b' }]
  })
})

t.test('componentKustomization pins the base\'s image names to compose\'s references', async (t) => {
  const images = componentKustomization([]).images as Array<Record<string, string>>
  const compose = composeImages()
  for (const [service, name] of Object.entries(COMPOSE_IMAGES)) {
    const entry = images.find((i) => i.name === name)
    const ref = compose[service]
    t.equal(entry?.newName ?? name, ref.name, `${service}: name`)
    t.equal(entry?.newTag, ref.tag, `${service}: tag`)
    t.equal(entry?.digest, ref.digest, `${service}: digest`)
  }
})
