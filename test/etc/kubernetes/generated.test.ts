import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parse, stringify } from 'yaml'
import { DASHBOARD_LABEL, FOLDER_ANNOTATION, GENERATED_DIR, RELEASE_LABEL, generatedFiles } from '../../../scripts/kubernetes/generated.js'
import { NO_PROMETHEUS, havePromtool, promtool } from '../../helpers/prometheus.js'
import { NO_KUBECTL, find, haveKubectl, kustomizations, render, sourceObjects } from '../../helpers/kubernetes.js'

const root = new URL('../../../', import.meta.url)
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8')
const generated = sourceObjects('base/generated')
const rule = find(generated, 'PrometheusRule')

t.test('etc/kubernetes/base/generated is exactly what `npm run generate` writes', async (t) => {
  const files = generatedFiles()
  t.same(readdirSync(new URL(GENERATED_DIR, root)).sort(), Object.keys(files).sort(), 'the same files, none stale')
  for (const [name, content] of Object.entries(files)) {
    t.equal(read(GENERATED_DIR + name), content, `${name} is current: run npm run generate`)
  }
})

t.test('mapping: the ConfigMap generator reads a byte-for-byte copy of etc/statsd/mapping.yml', async (t) => {
  t.equal(read(`${GENERATED_DIR}statsd-mapping.yml`), read('etc/statsd/mapping.yml'))
  const component = parse(read(`${GENERATED_DIR}kustomization.yaml`))
  t.same(component.configMapGenerator, [{ name: 'statsd-mapping', files: ['mapping.yml=statsd-mapping.yml'] }])
})

t.test('mapping: the rendered ConfigMap holds etc/statsd/mapping.yml and the pods mount it', { skip: haveKubectl() ? false : NO_KUBECTL }, async (t) => {
  for (const dir of kustomizations()) {
    const objects = render(dir)
    const maps = objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('statsd-mapping-'))
    t.equal(maps.length, 1, `${dir}: one mapping ConfigMap, with a content hash in its name`)
    t.equal(maps[0]?.data['mapping.yml'], read('etc/statsd/mapping.yml'), `${dir}: data is the mapping file`)
    const volumes = find(objects, 'Deployment').spec.template.spec.volumes as Array<{ name: string, configMap?: { name: string } }>
    t.equal(volumes.find((v) => v.name === 'statsd-mapping')?.configMap?.name, maps[0]?.metadata.name, `${dir}: the Deployment mounts that ConfigMap`)
  }
})

t.test('PrometheusRule: its groups are exactly the groups of etc/prometheus/rules/*.yml', async (t) => {
  const dir = new URL('etc/prometheus/rules/', root)
  const files = readdirSync(dir).filter((f) => f.endsWith('.yml')).sort()
  t.ok(files.length >= 2, 'rule files found')
  const groups = files.flatMap((f) => parse(readFileSync(new URL(f, dir), 'utf8')).groups)
  t.same(rule.spec.groups, groups)
  t.equal(rule.metadata.labels?.release, RELEASE_LABEL.release, 'labelled for kube-prometheus-stack\'s ruleSelector')
})

t.test('promtool check rules on the rules extracted from the PrometheusRule', { skip: havePromtool() ? false : NO_PROMETHEUS }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prometheusrule-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'rules.yml')
  writeFileSync(file, stringify({ groups: rule.spec.groups }))
  const result = promtool(['check', 'rules', file])
  t.equal(result.status, 0, 'promtool check rules', { output: `${result.stdout}${result.stderr}` })
  const count = rule.spec.groups.flatMap((g: { rules: unknown[] }) => g.rules).length
  t.match(result.stdout, new RegExp(`SUCCESS: ${count} rules found`), 'every rule read')
})

t.test('dashboards: one ConfigMap per etc/dashboards/*.json, labelled for the Grafana sidecar', async (t) => {
  const files = readdirSync(new URL('etc/dashboards/', root)).filter((f) => f.endsWith('.json')).sort()
  const maps = generated.filter((o) => o.kind === 'ConfigMap')
  t.same(maps.map((m) => Object.keys(m.data)).flat().sort(), files, 'one key per dashboard file')
  for (const file of files) {
    const map = maps.find((m) => file in m.data)
    t.equal(map?.data[file], read(`etc/dashboards/${file}`), `${file}: the file's exact text`)
    t.same(JSON.parse(map?.data[file]), JSON.parse(read(`etc/dashboards/${file}`)), `${file}: parses to the same dashboard`)
    t.match(map?.metadata.labels, DASHBOARD_LABEL, `${file}: grafana_dashboard: "1"`)
    t.type(map?.metadata.annotations?.[FOLDER_ANNOTATION], 'string', `${file}: folder annotation`)
  }
})

t.test('AlertmanagerConfig: the routing, inhibition and receivers of etc/alertmanager/alertmanager.yml', async (t) => {
  const source = parse(read('etc/alertmanager/alertmanager.yml'))
  const spec = find(generated, 'AlertmanagerConfig').spec
  const matchers = (list: string[]): string[] => list.map((m) => m.replace(/\s/g, ''))
  const back = (list: Array<{ name: string, value: string, matchType: string }>): string[] =>
    list.map((m) => `${m.name}${m.matchType}${JSON.stringify(m.value)}`)
  t.equal(spec.route.receiver, source.route.receiver)
  t.same(spec.route.groupBy, source.route.group_by)
  t.equal(spec.route.groupWait, source.route.group_wait)
  t.equal(spec.route.groupInterval, source.route.group_interval)
  t.equal(spec.route.repeatInterval, source.route.repeat_interval)
  t.equal(spec.route.routes.length, source.route.routes.length)
  source.route.routes.forEach((r: Record<string, any>, i: number) => {
    t.equal(spec.route.routes[i].receiver, r.receiver, `route ${i} receiver`)
    t.same(back(spec.route.routes[i].matchers), matchers(r.matchers), `route ${i} matchers`)
    t.equal(spec.route.routes[i].repeatInterval, r.repeat_interval, `route ${i} repeat_interval`)
  })
  t.equal(spec.inhibitRules.length, source.inhibit_rules.length)
  source.inhibit_rules.forEach((r: Record<string, any>, i: number) => {
    t.same(back(spec.inhibitRules[i].sourceMatch), matchers(r.source_matchers), `inhibit ${i} source`)
    t.same(back(spec.inhibitRules[i].targetMatch), matchers(r.target_matchers), `inhibit ${i} target`)
    t.same(spec.inhibitRules[i].equal, r.equal, `inhibit ${i} equal`)
  })
  t.same(spec.receivers.map((r: { name: string }) => r.name), source.receivers.map((r: { name: string }) => r.name))
})

t.test('the generated Component sets the image tags the workloads name', async (t) => {
  const component = parse(read(`${GENERATED_DIR}kustomization.yaml`))
  const named = sourceObjects('base').flatMap((o) => o.spec?.template?.spec?.containers ?? []).map((c: { image: string }) => c.image)
  t.same(component.images.map((i: { name: string }) => i.name).sort(), [...new Set(named)].sort(), 'one entry per image, none unused')
  t.ok(named.every((image: string) => !image.includes(':') && !image.includes('@')), 'the base names images; the Component pins them')
})
