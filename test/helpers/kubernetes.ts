import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'

/**
 * Readers for etc/kubernetes: the kustomizations rendered by the real `kubectl kustomize`, the
 * hand-written and generated object files as they are, and schema validation of any object
 * with the kubernetes-models packages (Kubernetes OpenAPI schemas, Prometheus Operator CRDs).
 */

/** etc/kubernetes, absolute. */
export const KUBERNETES_DIR = fileURLToPath(new URL('../../etc/kubernetes/', import.meta.url))

/** kubectl binary (Debian: /usr/bin/kubectl), overridable. */
export const KUBECTL_BIN = process.env.KUBECTL_BIN ?? 'kubectl'

/** The reason tests give when they skip because kubectl is missing. */
export const NO_KUBECTL = 'kubectl is not installed (kubectl >= 1.27 with its built-in kustomize renders ' +
  'etc/kubernetes: `source scripts/ensure-kubectl.sh`, as .ci/run does, or set KUBECTL_BIN): the rendered manifests are not checked'

/** Every kind the deployment is made of. */
const ALL_KINDS = [
  'AlertmanagerConfig', 'ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'NetworkPolicy',
  'PodDisruptionBudget', 'PodMonitor', 'PrometheusRule', 'Service', 'StatefulSet'
] as const

/**
 * The kinds each kustomization (relative to etc/kubernetes) renders, exactly, sorted. A fixed
 * table, not read from the render, so an overlay that loses an object fails the render test.
 * managed-redis deletes the in-cluster Redis: its StatefulSet (its Service and NetworkPolicy
 * too, kinds the app still has).
 */
export const EXPECTED_KINDS: Readonly<Record<string, readonly string[]>> = {
  base: ALL_KINDS,
  'overlays/example': ALL_KINDS,
  'overlays/managed-redis': ALL_KINDS.filter((k) => k !== 'StatefulSet')
}

/** True when the kustomization runs Redis in the cluster (a StatefulSet), per {@link EXPECTED_KINDS}. */
export function inClusterRedis (dir: string): boolean {
  return EXPECTED_KINDS[dir]?.includes('StatefulSet') === true
}

/**
 * Schema versions the objects are validated against: kubernetes-models 5.x is generated from
 * the Kubernetes v1.36.0 OpenAPI schema (its CHANGELOG, 5.0.0); @kubernetes-models/prometheus-operator
 * from the Prometheus Operator CRDs (v0.90.1 since its 5.0.0, per its CHANGELOG; the package
 * source's go.mod has since moved to v0.91.0).
 */
export const SCHEMAS = 'Kubernetes 1.36 OpenAPI (kubernetes-models 5.1.0), Prometheus Operator >= 0.90 CRDs (@kubernetes-models/prometheus-operator 6.0.0)'

/** A Kubernetes object as the tests read it. */
export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: { name: string, namespace?: string, labels?: Record<string, string>, annotations?: Record<string, string> }
  [key: string]: any
}

/** True when `kubectl` runs. */
export function haveKubectl (): boolean {
  return spawnSync(KUBECTL_BIN, ['version', '--client'], { encoding: 'utf8' }).status === 0
}

/** The kustomizations to render: the base and every overlay, relative to etc/kubernetes. */
export function kustomizations (): string[] {
  return ['base', ...readdirSync(`${KUBERNETES_DIR}overlays`).sort().map((o) => `overlays/${o}`)]
}

/** Parses a multi-document YAML stream into its objects (empty documents dropped). */
export function parseObjects (text: string): KubeObject[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length > 0) throw d.errors[0]
    return d.toJS() as KubeObject | null
  }).filter((o): o is KubeObject => o !== null)
}

/**
 * `kubectl kustomize etc/kubernetes/<dir>`, parsed.
 * @throws {Error} with kubectl's output when it fails.
 */
export function render (dir: string): KubeObject[] {
  const result = spawnSync(KUBECTL_BIN, ['kustomize', `${KUBERNETES_DIR}${dir}`], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${result.stderr}${result.error?.message ?? ''}`)
  return parseObjects(result.stdout)
}

/** The objects of every *.yaml file in etc/kubernetes/<dir> except kustomization.yaml, unrendered. */
export function sourceObjects (dir: string): KubeObject[] {
  const path = `${KUBERNETES_DIR}${dir}/`
  return readdirSync(path).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort()
    .flatMap((f) => parseObjects(readFileSync(path + f, 'utf8')))
}

/**
 * The objects checks that need no render read, by kustomization: every kustomization rendered
 * when kubectl runs; without kubectl, only `base` as written (base/ and base/generated/), which
 * lacks what only a render makes: overlay patches, image tags, namespaces, ConfigMap hashes.
 */
export function manifests (): Array<[string, KubeObject[]]> {
  if (haveKubectl()) return kustomizations().map((k) => [k, render(k)])
  return [['base', [...sourceObjects('base'), ...sourceObjects('base/generated')]]]
}

/** Where each apiVersion's models live: group/version -> module. */
function modelModule (apiVersion: string): string {
  if (apiVersion.startsWith('monitoring.coreos.com/')) return `@kubernetes-models/prometheus-operator/${apiVersion}`
  return `kubernetes-models/${apiVersion}`
}

/**
 * Validates an object against its schema with the model class's `validate()`.
 * @throws {Error} when the kind has no model, or with the schema error (path and reason).
 */
export async function validate (object: KubeObject): Promise<void> {
  const module = await import(modelModule(object.apiVersion)) as Record<string, new (data: unknown) => { validate: () => void }>
  const Model = module[object.kind]
  if (typeof Model !== 'function') throw new Error(`no model for ${object.apiVersion} ${object.kind}`)
  new Model(object).validate()
}

/** The first object of a kind (and name, when given). @throws {Error} when there is none. */
export function find (objects: KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name))
  if (found === undefined) throw new Error(`no ${kind}${name !== undefined ? ` ${name}` : ''}`)
  return found
}
