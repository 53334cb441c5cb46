import t, { type Test } from 'tap'
import {
  EXPECTED_KINDS, NO_KUBECTL, SCHEMAS, haveKubectl, inClusterRedis, kustomizations, render, sourceObjects, validate, type KubeObject
} from '../../helpers/kubernetes.js'

async function expectValid (t: Test, objects: KubeObject[]): Promise<void> {
  for (const o of objects) {
    const id = `${o.apiVersion} ${o.kind} ${o.metadata.name}`
    try {
      await validate(o)
      t.pass(`${id}: valid`)
    } catch (error) {
      t.fail(`${id}: ${String(error)}`)
    }
  }
}

t.test(`the object files as written validate against ${SCHEMAS}`, async (t) => {
  for (const dir of ['base', 'base/generated']) {
    t.test(dir, async (t) => { await expectValid(t, sourceObjects(dir)) })
  }
})

t.test('kubectl kustomize renders the base and every overlay', { skip: haveKubectl() ? false : NO_KUBECTL }, async (t) => {
  t.ok(kustomizations().some((k) => k.startsWith('overlays/')), 'at least one overlay')
  t.same(Object.keys(EXPECTED_KINDS).sort(), kustomizations(), 'EXPECTED_KINDS lists every kustomization, and no other')
  for (const dir of kustomizations()) {
    t.test(dir, async (t) => {
      const objects = render(dir)
      const kinds = [...new Set(objects.map((o) => o.kind))].sort()
      const expected = EXPECTED_KINDS[dir] ?? []
      const redis = inClusterRedis(dir) ? 'in-cluster Redis: a StatefulSet' : 'managed Redis: no StatefulSet'
      t.same(expected.filter((k) => !kinds.includes(k)), [], `${dir}: no kind of EXPECTED_KINDS missing (${redis})`)
      t.same(kinds.filter((k) => !expected.includes(k)), [], `${dir}: no kind beyond EXPECTED_KINDS (no Secret)`)
      const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`)
      t.equal(new Set(ids).size, ids.length, 'no two objects of a kind share a name')
      await expectValid(t, objects)
    })
  }
})

t.test('overlays put every object in their namespace', { skip: haveKubectl() ? false : NO_KUBECTL }, async (t) => {
  for (const dir of kustomizations().filter((k) => k.startsWith('overlays/'))) {
    const namespaces = new Set(render(dir).map((o) => o.metadata.namespace))
    t.equal(namespaces.size, 1, `${dir}: one namespace`)
    t.notOk(namespaces.has(undefined), `${dir}: set on every object`)
  }
})

t.test('the schema check is not a rubber stamp: it rejects a broken object', async (t) => {
  const deployment = sourceObjects('base').find((o) => o.kind === 'Deployment') as KubeObject
  const broken = structuredClone(deployment)
  broken.spec.template.spec.containers[0].lifecycle.preStop.sleep = { secs: 5 }
  await t.rejects(validate(broken), /sleep must have required property seconds/)
  await t.rejects(validate({ ...deployment, kind: 'Deploymint' }), /no model for apps\/v1 Deploymint/)
  const monitor = sourceObjects('base').find((o) => o.kind === 'PodMonitor') as KubeObject
  const badMonitor = structuredClone(monitor)
  badMonitor.spec.podMetricsEndpoints[0].honorLabels = 'yes'
  await t.rejects(validate(badMonitor), /honorLabels must be boolean/)
})
