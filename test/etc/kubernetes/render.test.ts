import t, { type Test } from 'tap'
import {
  NO_KUBECTL, SCHEMAS, haveKubectl, kustomizations, render, sourceObjects, validate, type KubeObject
} from '../../helpers/kubernetes.js'

/** Every kind the deployment is made of; each rendering must hold all of them. */
const KINDS = [
  'AlertmanagerConfig', 'ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'NetworkPolicy',
  'PodDisruptionBudget', 'PodMonitor', 'PrometheusRule', 'Service', 'StatefulSet'
]

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
  for (const dir of kustomizations()) {
    t.test(dir, async (t) => {
      const objects = render(dir)
      const kinds = [...new Set(objects.map((o) => o.kind))].sort()
      const redis = kinds.includes('StatefulSet') ? 'in-cluster Redis' : 'managed Redis: no StatefulSet'
      t.same(kinds, KINDS.filter((k) => k !== 'StatefulSet' || kinds.includes(k)), `every kind, nothing else (no Secret); ${redis}`)
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
