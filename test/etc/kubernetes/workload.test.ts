import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { loadConfig } from '../../../service/config.js'
import { build } from '../../helpers/app.js'
import { NO_KUBECTL, find, haveKubectl, inClusterRedis, manifests, type KubeObject } from '../../helpers/kubernetes.js'

/**
 * What the rendered manifests must say, checked against the other sources of truth: the
 * service's routes and configuration defaults, docker-compose.yml, prometheus.yml.
 * No cluster here: these are the checks that need none. They read every kustomization as
 * kubectl renders it; without kubectl, the base's object files as written (all but the image
 * check, which needs the render, and skips).
 */

const root = new URL('../../../', import.meta.url)
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8')
const compose = parse(read('docker-compose.yml')) as { services: Record<string, { image?: string, command?: string[] }> }
const prometheusYml = parse(read('etc/prometheus/prometheus.yml'))
const version = JSON.parse(read('package.json')).version as string

interface Container {
  name: string
  image: string
  args?: string[]
  command?: string[]
  env?: Array<{ name: string, value?: string, valueFrom?: Record<string, any> }>
  ports?: Array<{ name: string, containerPort: number, protocol?: string }>
  startupProbe?: Record<string, any>
  livenessProbe?: Record<string, any>
  readinessProbe?: Record<string, any>
  lifecycle?: { preStop?: { sleep?: { seconds: number } } }
  resources?: { requests?: Record<string, string>, limits?: Record<string, string> }
  securityContext?: Record<string, any>
}

const byDir = manifests()
if (!haveKubectl()) t.comment(`${NO_KUBECTL}: the checks below read the base as written, not the overlays`)

function containers (workload: KubeObject): Container[] {
  return workload.spec.template.spec.containers as Container[]
}
function container (workload: KubeObject, name: string): Container {
  const c = containers(workload).find((x) => x.name === name)
  if (c === undefined) throw new Error(`${workload.metadata.name} has no container ${name}`)
  return c
}
/** The container's literal env values (what loadConfig would read; secrets and fieldRefs left out). */
function literalEnv (c: Container): Record<string, string> {
  return Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value as string]))
}
function portNumber (c: Container, port: string | number): number | undefined {
  return typeof port === 'number' ? port : c.ports?.find((p) => p.name === port)?.containerPort
}
function flag (c: Container, name: string): string | undefined {
  return c.args?.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}

t.test('the app: replicas, rolling update without unavailability, SERVICE_INSTANCE from the pod name', async (t) => {
  for (const [dir, objects] of byDir) {
    const deployment = find(objects, 'Deployment')
    t.ok(deployment.spec.replicas >= 2, `${dir}: 2+ replicas`)
    t.same(deployment.spec.strategy.type, 'RollingUpdate', `${dir}: rolling update`)
    t.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0, `${dir}: maxUnavailable 0`)
    const instance = container(deployment, 'app').env?.find((e) => e.name === 'SERVICE_INSTANCE')
    t.same(instance?.valueFrom, { fieldRef: { fieldPath: 'metadata.name' } }, `${dir}: downward API pod name`)
    t.ok(deployment.spec.template.spec.topologySpreadConstraints.some((c: { topologyKey: string }) => c.topologyKey === 'kubernetes.io/hostname'),
      `${dir}: spread across nodes`)
  }
})

t.test('probes point at the service\'s health routes, on the port it listens on', async (t) => {
  const { app } = await build(t)
  for (const [dir, objects] of byDir) {
    const c = container(find(objects, 'Deployment'), 'app')
    const port = loadConfig(literalEnv(c)).port
    t.equal(portNumber(c, 'http'), port, `${dir}: the http port is PORT`)
    const probes = { startupProbe: '/health/live', livenessProbe: '/health/live', readinessProbe: '/health/ready' } as const
    for (const [probe, path] of Object.entries(probes)) {
      const get = c[probe as keyof typeof probes]?.httpGet
      t.equal(get?.path, path, `${dir}: ${probe} ${path}`)
      t.equal(portNumber(c, get?.port), port, `${dir}: ${probe} on PORT`)
      t.ok(app.hasRoute({ method: 'GET', url: path }), `${dir}: GET ${path} is a route of the service`)
      // The route's own answer (readiness may say 503 when Redis is slow on a loaded machine).
      const res = await app.inject({ method: 'GET', url: path })
      const allowed = path === '/health/ready' ? [200, 503] : [200]
      t.ok(allowed.includes(res.statusCode), `${dir}: GET ${path} answers ${allowed.join(' or ')}`, { got: res.statusCode })
      t.match(res.json(), { status: /^(ok|unavailable)$/ }, `${dir}: ... with the health body, not the 404 handler's`)
    }
  }
})

t.test('the sidecar: UDP on 127.0.0.1 at the app\'s STATSD_PORT, the mapping mounted, probed, scraped', async (t) => {
  for (const [dir, objects] of byDir) {
    const deployment = find(objects, 'Deployment')
    const config = loadConfig(literalEnv(container(deployment, 'app')))
    const exporter = container(deployment, 'statsd-exporter')
    t.equal(config.statsdHost, '127.0.0.1', `${dir}: the app sends to loopback`)
    t.equal(flag(exporter, 'statsd.listen-udp'), `127.0.0.1:${config.statsdPort}`, `${dir}: exporter listens on 127.0.0.1:STATSD_PORT`)
    t.equal(flag(exporter, 'statsd.listen-tcp'), '', `${dir}: no TCP listener`)
    t.equal(flag(exporter, 'statsd.mapping-config'), '/etc/statsd/mapping.yml', `${dir}: mapping path`)
    t.ok(exporter.ports?.every((p) => p.protocol === 'TCP'), `${dir}: no UDP port exposed outside the pod`)
    const metricsPort = Number(flag(exporter, 'web.listen-address')?.split(':').pop())
    t.equal(portNumber(exporter, 'metrics'), metricsPort, `${dir}: the metrics port is --web.listen-address`)
    for (const probe of ['livenessProbe', 'readinessProbe'] as const) {
      t.equal(exporter[probe]?.httpGet.path, '/-/healthy', `${dir}: exporter ${probe}`)
      t.equal(portNumber(exporter, exporter[probe]?.httpGet.port), metricsPort, `${dir}: exporter ${probe} port`)
    }
    const monitor = find(objects, 'PodMonitor')
    t.same(monitor.spec.selector.matchLabels, deployment.spec.selector.matchLabels, `${dir}: PodMonitor selects the app's pods`)
    const endpoint = monitor.spec.podMetricsEndpoints[0]
    t.equal(endpoint.port, 'metrics', `${dir}: PodMonitor scrapes the sidecar's metrics port`)
    const job = prometheusYml.scrape_configs.find((j: { job_name: string }) => j.job_name === 'statsd-exporter')
    t.equal(endpoint.honorLabels, job.honor_labels, `${dir}: honorLabels as prometheus.yml's honor_labels`)
    t.equal(endpoint.interval, prometheusYml.global.scrape_interval, `${dir}: prometheus.yml's scrape interval`)
    t.same(endpoint.relabelings, [{ action: 'replace', targetLabel: 'job', replacement: job.job_name }], `${dir}: job="${job.job_name}" as the rules expect`)
  }
})

t.test('termination: endpoints drain, the app shuts down, the exporter is scraped once more, all within the grace period', async (t) => {
  for (const [dir, objects] of byDir) {
    const pod = find(objects, 'Deployment').spec.template.spec
    const app = container(find(objects, 'Deployment'), 'app')
    const exporter = container(find(objects, 'Deployment'), 'statsd-exporter')
    const shutdown = loadConfig(literalEnv(app)).shutdownTimeoutMs / 1000
    const drain = app.lifecycle?.preStop?.sleep?.seconds ?? 0
    const linger = exporter.lifecycle?.preStop?.sleep?.seconds ?? 0
    const scrape = Number(/^(\d+)s$/.exec(prometheusYml.global.scrape_interval)?.[1])
    t.ok(drain > 0, `${dir}: the app sleeps ${drain} s before SIGTERM`)
    t.ok(pod.terminationGracePeriodSeconds > drain + shutdown,
      `${dir}: grace ${pod.terminationGracePeriodSeconds} s > preStop ${drain} s + SHUTDOWN_TIMEOUT_MS ${shutdown} s`)
    t.ok(linger > drain + shutdown + scrape, `${dir}: the exporter outlives the app's shutdown by a scrape interval (${linger} s)`)
    t.ok(pod.terminationGracePeriodSeconds > linger, `${dir}: ... within the grace period`)
  }
})

t.test('hardened: non-root, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp, resources', async (t) => {
  for (const [dir, objects] of byDir) {
    for (const workload of objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')) {
      const pod = workload.spec.template.spec
      const id = `${dir} ${workload.kind}/${workload.metadata.name}`
      t.equal(pod.securityContext.runAsNonRoot, true, `${id}: runAsNonRoot`)
      t.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault', `${id}: seccomp`)
      t.equal(pod.automountServiceAccountToken, false, `${id}: no API token`)
      for (const c of containers(workload)) {
        t.equal(c.securityContext?.allowPrivilegeEscalation, false, `${id} ${c.name}: no privilege escalation`)
        t.equal(c.securityContext?.readOnlyRootFilesystem, true, `${id} ${c.name}: read-only root`)
        t.same(c.securityContext?.capabilities, { drop: ['ALL'] }, `${id} ${c.name}: drop ALL`)
        for (const kind of ['requests', 'limits'] as const) {
          t.ok(c.resources?.[kind]?.cpu !== undefined && c.resources?.[kind]?.memory !== undefined, `${id} ${c.name}: cpu and memory ${kind}`)
        }
      }
    }
  }
})

t.test('PDB, HPA and NetworkPolicies select the pods they mean', async (t) => {
  for (const [dir, objects] of byDir) {
    const deployment = find(objects, 'Deployment')
    const labels = deployment.spec.template.metadata.labels as Record<string, string>
    const selects = (selector: Record<string, string>): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v)
    t.ok(selects(find(objects, 'PodDisruptionBudget').spec.selector.matchLabels), `${dir}: PDB`)
    const hpa = find(objects, 'HorizontalPodAutoscaler')
    t.same(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name }, `${dir}: HPA target`)
    t.equal(hpa.spec.metrics[0].resource.name, 'cpu', `${dir}: HPA on CPU`)
    t.ok(hpa.spec.minReplicas >= 2, `${dir}: HPA keeps 2+`)
    const policy = objects.find((o) => o.kind === 'NetworkPolicy' && selects(o.spec.podSelector.matchLabels)) as KubeObject
    const metricsRules = policy.spec.ingress.filter((r: { ports: Array<{ port: string }> }) => r.ports.some((p) => p.port === 'metrics'))
    t.equal(metricsRules.length, 1, `${dir}: one ingress rule for the metrics port`)
    t.match(metricsRules[0].from, [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }], `${dir}: ... from Prometheus only`)
    type Egress = { to: Array<{ podSelector?: { matchLabels: Record<string, string> }, ipBlock?: { cidr: string } }>, ports: Array<{ port: number }> }
    if (!inClusterRedis(dir)) {
      t.ok(policy.spec.egress.some((r: Egress) => r.to.some((to) => to.ipBlock !== undefined)), `${dir}: the app may reach the managed Redis`)
      continue
    }
    const redis = find(objects, 'StatefulSet', 'redis').spec.template.metadata.labels as Record<string, string>
    t.ok(policy.spec.egress.some((r: Egress) =>
      r.to.some((to) => Object.entries(to.podSelector?.matchLabels ?? { none: '' }).every(([k, v]) => redis[k] === v)) && r.ports.some((p) => p.port === 6379)),
    `${dir}: the app may reach Redis on 6379`)
  }
})

t.test('Redis: compose\'s append-only persistence, a PersistentVolumeClaim, the password from a Secret', async (t) => {
  const composeArgs = (compose.services.redis.command ?? []).slice(1)
  const inCluster = byDir.filter(([dir]) => inClusterRedis(dir))
  t.ok(inCluster.length > 0, `in-cluster Redis in: ${inCluster.map(([dir]) => dir).join(', ')}`)
  for (const [dir, objects] of inCluster) {
    const redis = find(objects, 'StatefulSet', 'redis')
    const c = container(redis, 'redis')
    const args = c.args ?? []
    for (const option of ['--appendonly', '--appendfsync']) {
      t.equal(args[args.indexOf(option) + 1], composeArgs[composeArgs.indexOf(option) + 1], `${dir}: ${option} as in compose`)
    }
    t.equal(args[args.indexOf('--requirepass') + 1], '$(REDIS_PASSWORD)', `${dir}: requirepass from the env`)
    t.same(c.env?.find((e) => e.name === 'REDIS_PASSWORD')?.valueFrom, { secretKeyRef: { name: 'fastify-monitoring-redis', key: 'password' } })
    const claim = redis.spec.volumeClaimTemplates[0]
    t.ok(claim.spec.resources.requests.storage !== undefined, `${dir}: a claim`)
    t.ok(redis.spec.template.spec.containers[0].volumeMounts.some((m: { name: string, mountPath: string }) =>
      m.name === claim.metadata.name && m.mountPath === args[args.indexOf('--dir') + 1]), `${dir}: Redis's --dir is on the claim`)
  }
})

t.test('no secret value in any manifest', async (t) => {
  const example = /REDIS_PASSWORD=(\S+)/.exec(read('.env.example'))?.[1]
  for (const [dir, objects] of byDir) {
    t.notOk(objects.some((o) => o.kind === 'Secret'), `${dir}: no Secret object`)
    const envs = objects.flatMap((o) => [...(o.spec?.template?.spec?.containers ?? [])]).flatMap((c: Container) => c.env ?? [])
    for (const e of envs.filter((e) => /PASSWORD|SECRET|TOKEN|AUTH/.test(e.name))) {
      t.ok(e.value === undefined && e.valueFrom?.secretKeyRef !== undefined, `${dir}: ${e.name} comes from a Secret`)
    }
    for (const e of envs.filter((e) => e.value !== undefined && e.value.includes('@'))) {
      t.match(e.value, /^rediss?:\/\/:\$\(REDIS_PASSWORD\)@/, `${dir}: ${e.name} carries the password by reference only`)
    }
    const url = container(find(objects, 'Deployment'), 'app').env?.find((e) => e.name === 'REDIS_URL')
    t.ok(url?.valueFrom?.secretKeyRef !== undefined || url?.value?.includes('$(REDIS_PASSWORD)') === true, `${dir}: REDIS_URL from a Secret, whole or its password`)
    if (example !== undefined && example !== '') t.notOk(JSON.stringify(objects).includes(example), `${dir}: .env.example's password nowhere`)
  }
})

t.test('images: pinned, and equal to docker-compose.yml\'s (the app: package.json\'s version)', { skip: haveKubectl() ? false : NO_KUBECTL }, async (t) => {
  for (const [dir, objects] of byDir) {
    const images = objects.flatMap((o) => o.spec?.template?.spec?.containers ?? []).map((c: Container) => [c.name, c.image])
    for (const [name, image] of images) t.match(image, /^[^@]+(:[\w.-]+)(@sha256:[0-9a-f]{64})?$|@sha256:[0-9a-f]{64}$/, `${dir}: ${name} pinned`)
    t.notOk(images.some(([, image]) => image.endsWith(':latest')), `${dir}: never latest`)
    const deployment = find(objects, 'Deployment')
    t.equal(container(deployment, 'statsd-exporter').image, compose.services['statsd-exporter'].image, `${dir}: statsd-exporter as compose`)
    if (inClusterRedis(dir)) t.equal(container(find(objects, 'StatefulSet', 'redis'), 'redis').image, compose.services.redis.image, `${dir}: redis as compose`)
    t.match(container(deployment, 'app').image, new RegExp(`:${version.replace(/\./g, '\\.')}$`), `${dir}: app tagged ${version}`)
  }
})

t.test('monitoring objects carry the labels kube-prometheus-stack and the Grafana sidecar select', async (t) => {
  for (const [dir, objects] of byDir) {
    for (const o of objects.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/'))) {
      t.type(o.metadata.labels?.release, 'string', `${dir}: ${o.kind} has a release label`)
    }
    const serviceName = loadConfig(literalEnv(container(find(objects, 'Deployment'), 'app'))).serviceName
    t.same(find(objects, 'AlertmanagerConfig').spec.route.matchers, [{ name: 'service', value: serviceName, matchType: '=' }],
      `${dir}: the AlertmanagerConfig routes this service's alerts (SERVICE_NAME) only`)
    const dashboards = objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1')
    t.ok(dashboards.length > 0, `${dir}: dashboard ConfigMaps`)
  }
})
