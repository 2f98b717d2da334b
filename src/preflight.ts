/**
 * Preflight: every read-only check a deploy needs before it may change anything. It returns the
 * plan the run will follow, or throws PreflightError naming what is wrong and what to do.
 */
import { glob, readFile } from 'node:fs/promises'
import yaml from 'js-yaml'
import { adoptionOf, type Manifests, stableColorOf, templateOf } from './core/adoption.js'
import { type Color, deploymentName, otherColor } from './core/color.js'
import { type ServiceRef } from './core/routes.js'
import {
  type DeploymentObject,
  imageOf,
  inMesh,
  isTerminating,
  type MeshPod
} from './core/workload.js'
import { formatDuration, promRange } from './core/duration.js'
import type { TrafficNow } from './core/estimate.js'
import {
  builtinMetrics,
  chooseBuckets,
  customMetrics,
  type LatencyBuckets,
  lifetimeShare,
  type MetricQuery,
  type MetricsSource,
  type MetricSpec,
  placeholders,
  queriesFor
} from './core/metrics.js'
import { routerConfigFrom, routerFor } from './adapters/factory.js'
import { type Permission, ROUTER_PERMISSIONS, rolloutPermissions } from './permissions.js'
import type { RouterConfig } from './core/record.js'
import { DEPLOYMENTS, type KubeApi, PODS, SERVICES, type TrafficRouter } from './ports.js'
import type { Settings } from './inputs.js'
import type { Clock, Log } from './log.js'

export class PreflightError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'PreflightError'
  }
}

export interface Plan {
  service: ServiceRef
  /** The router the rollout will shift, as its record names it. */
  routerConfig: RouterConfig
  router: TrafficRouter
  stable: Color
  candidate: Color
  /** The Deployment currently serving the stable color. */
  stableDeployment: DeploymentObject
  /**
   * When the service has no colors yet: the Deployment that serves it now, to be copied into
   * `<service>-blue` before the release.
   */
  adoptFrom?: DeploymentObject
  /** Whether the selected routes still route to the service without subsets. */
  adoptRoutes: boolean
  /** Pod template for the candidate. */
  template: DeploymentObject
  stableImage?: string
  candidateImage?: string
  /** The metrics to judge and the stable's traffic now. */
  analysis: AnalysisPlan
}

export interface PreflightDeps {
  settings: Readonly<Settings>
  kube: KubeApi
  /** The metrics source at the run's prometheus-url. */
  metrics: MetricsSource
  namespace: string
  log: Log
  clock: Clock
}

function fail(message: string): never {
  throw new PreflightError(message)
}

// What plan needs of a credential: watching a Deployment become ready is the release's.
const READ_VERBS = ['get', 'list']

/**
 * One SelfSubjectAccessReview per verb the action needs; all denials named at once. With
 * `readOnly` (plan, which often runs with a read-only credential) denied write verbs are only
 * reported, since the release runs with another credential.
 */
export async function checkPermissions(
  kube: KubeApi,
  namespace: string,
  router: readonly Permission[],
  options: { readOnly?: boolean; log?: Log } = {}
): Promise<void> {
  const checks = rolloutPermissions(router).flatMap((p) => p.verbs.map((verb) => ({ ...p, verb })))
  const answers = await Promise.all(
    checks.map((c) => kube.canI(c.verb, c.group, c.resource, namespace))
  )
  const name = (d: { verb: string; group: string; resource: string }): string =>
    `${d.verb} ${d.group ? `${d.resource}.${d.group}` : d.resource}`
  const denied = checks.filter((_, i) => !answers[i]?.allowed)
  const fatal = options.readOnly ? denied.filter((d) => READ_VERBS.includes(d.verb)) : denied
  if (fatal.length > 0) {
    fail(
      `missing permission in namespace ${namespace}: ${fatal.map(name).join(', ')}; grant them with the Role in the README ("Permissions")`
    )
  }
  if (denied.length > 0) {
    options.log?.warning(
      `this credential cannot ${denied.map(name).join(', ')} in namespace ${namespace}: fine for plan, but the release's credential needs them`
    )
  }
}

/** The value of a settled promise, or its error thrown. */
function settled<T>(result: PromiseSettledResult<T>): T {
  if (result.status === 'rejected') throw result.reason
  return result.value
}

/** The documents of the files input `manifests` names (a path or glob of YAML files). */
async function readManifests(pattern: string): Promise<Manifests> {
  const files: string[] = []
  for await (const f of glob(pattern)) files.push(f)
  if (files.length === 0) fail(`input "manifests": no file matches "${pattern}"`)
  const docs: unknown[] = []
  for (const file of files.sort()) {
    try {
      docs.push(...yaml.loadAll(await readFile(file, 'utf8')))
    } catch (error) {
      fail(
        `input "manifests": ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`
      )
    }
  }
  return { files, docs }
}

/** Run every read-only check. Changes nothing. */
export async function preflight(
  deps: PreflightDeps,
  options: { lenient?: boolean } = {}
): Promise<Plan> {
  const { settings, kube, namespace, log } = deps
  const service: ServiceRef = { name: settings.service, namespace }

  // The reads that depend on nothing but the settings go out together; what they find is
  // judged in the order below, so the first problem named is the same as one read at a time.
  const configured = routerConfigFrom(settings, kube)
  const routing = configured.then(async (config) => {
    const router = routerFor(kube, service, config, deps.clock)
    return { router, inspected: await router.inspect(settings.colorLabel, settings.testHeader) }
  })
  const [config, permitted, found, routed, manifests] = await Promise.allSettled([
    configured,
    checkPermissions(kube, namespace, ROUTER_PERMISSIONS[settings.router], {
      readOnly: options.lenient,
      log
    }),
    kube.get(SERVICES, namespace, settings.service),
    routing,
    settings.manifests ? readManifests(settings.manifests) : Promise.resolve(undefined)
  ])
  const routerConfig = settled(config)
  settled(permitted)
  const svc = settled(found)
  if (!svc)
    fail(
      `Service ${settings.service} not found in namespace ${namespace}; check inputs "service" and "namespace"`
    )
  const selector = (svc.spec?.selector ?? {}) as Record<string, string>
  if (Object.keys(selector).length === 0) {
    fail(
      `Service ${settings.service} has no pod selector; istio-bluegreen needs a Service that selects its pods (e.g. app: ${settings.service})`
    )
  }

  // Every object: found, routes to the service, colors addressable (subsets), and with
  // test-header, room for the test route.
  const { router, inspected } = settled(routed)
  if (!inspected.ok) fail(inspected.message)
  const { routes } = inspected
  const adoptRoutes = inspected.bare
  const read = stableColorOf(
    routes.map((r) => ({ name: r.name, weights: r.weights })),
    router.description
  )
  if (read.kind === 'between') {
    if (!options.lenient) fail(read.message)
    log.warning(read.message)
  }
  const stable = read.kind === 'stable' ? read.stable : read.guess
  const candidate = otherColor(stable)

  let stableDeployment = (await kube.get(
    DEPLOYMENTS,
    namespace,
    deploymentName(settings.service, stable)
  )) as DeploymentObject | undefined
  let adoptFrom: DeploymentObject | undefined
  if (!stableDeployment) {
    const adoption = adoptionOf({
      service: settings.service,
      namespace,
      stable,
      selector,
      deployments: (await kube.list(DEPLOYMENTS, namespace)) as unknown as DeploymentObject[]
    })
    if (adoption.kind === 'refuse') fail(adoption.message)
    adoptFrom = adoption.from
    stableDeployment = adoptFrom
    log.info(
      `Service ${settings.service} has no colors yet: Deployment ${adoptFrom.metadata.name} will be copied to ${deploymentName(settings.service, 'blue')} and become the stable color`
    )
  }

  const chosen = templateOf(settings.service, stableDeployment, settled(manifests))
  if ('error' in chosen) fail(chosen.error)
  const { template } = chosen
  const containers = template.spec?.template?.spec?.containers ?? []
  if (settings.container !== undefined && !containers.some((c) => c.name === settings.container)) {
    fail(
      `input "container": Deployment ${template.metadata.name} has no container "${settings.container}" (it has: ${containers.map((c) => c.name).join(', ') || 'none'})`
    )
  }

  const selectorOf = (d: DeploymentObject): string =>
    Object.entries(d.spec?.selector?.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',')
  // The pods and the metrics of the stable are read together, and judged in that order.
  const [listed, measured] = await Promise.allSettled([
    kube.list(PODS, namespace, selectorOf(stableDeployment)),
    checkMetrics(deps, stableDeployment.metadata.name)
  ])
  // Terminating pods are leaving and do not count, in or out of the mesh.
  const pods = (settled(listed) as unknown as MeshPod[]).filter((p) => !isTerminating(p))
  if (pods.length === 0) {
    fail(
      `Deployment ${stableDeployment.metadata.name} has no pods: the stable color must be running before a release`
    )
  }
  const outside = pods.filter((p) => !inMesh(p))
  if (outside.length > 0) {
    fail(
      `${outside.length} of ${pods.length} pods of ${stableDeployment.metadata.name} are not in the Istio mesh (no istio-proxy sidecar, no ambient redirection): route weights would not apply to them and they report no telemetry; enable injection for namespace ${namespace} (label istio-injection=enabled) and restart them`
    )
  }

  const analysis = settled(measured)

  return {
    service,
    routerConfig,
    router,
    stable,
    candidate,
    stableDeployment,
    adoptFrom,
    adoptRoutes,
    template,
    stableImage: imageOf(stableDeployment, settings.container),
    candidateImage: settings.image ?? imageOf(template, settings.container),
    analysis
  }
}

/** What preflight learnt about the metrics: what to judge, and the stable's traffic now. */
export interface AnalysisPlan {
  specs: MetricSpec[]
  buckets: LatencyBuckets
  traffic: TrafficNow
}

/**
 * Every metric must answer for the stable workload now, built-in and custom: otherwise every
 * check would be inconclusive, or a broken query would silently judge nothing. Also chooses the
 * latency buckets and reads the stable's traffic for the estimates.
 */
export async function checkMetrics(
  deps: PreflightDeps,
  stableWorkload: string
): Promise<AnalysisPlan> {
  const { settings, metrics, namespace, log, clock } = deps
  const selector = { workload: stableWorkload, namespace, reporter: settings.reporter }
  const [traffic, histogram] = await Promise.all([
    metrics.traffic(selector, settings.analysisWindowMs),
    metrics.latency(selector, settings.analysisWindowMs)
  ])
  // The adapter's messages name the input to check (prometheus-url, -ca, -token, -headers).
  if (traffic.failure !== undefined) fail(traffic.failure)
  if (traffic.rps === undefined) {
    fail(
      `Prometheus has no istio_requests_total series for workload ${stableWorkload} in namespace ${namespace} (reporter="${settings.reporter}") over the last ${formatDuration(settings.analysisWindowMs)}: check that its pods have the Istio sidecar, that Prometheus scrapes them, and inputs "prometheus-url" and "reporter"`
    )
  }
  if (histogram.failure !== undefined) fail(histogram.failure)
  const chosen = chooseBuckets(histogram.buckets, histogram.p99Ms, settings.maxP99Ms)
  for (const note of chosen.notes) log.warning(note)
  const specs = [
    ...builtinMetrics({
      reporter: settings.reporter,
      maxErrorRate: settings.maxErrorRate,
      buckets: chosen.buckets
    }),
    ...customMetrics(settings.metrics)
  ]
  const color = stableWorkload.endsWith('-green') ? 'green' : 'blue'
  const queries = queriesFor(
    specs,
    placeholders(settings.service, namespace, color, promRange(settings.analysisWindowMs))
  )
  const readings = await metrics.read(queries, clock.now())
  const badShare: Record<string, number> = {}
  for (const [i, spec] of specs.entries()) {
    const q = queries[i] as MetricQuery
    const shown = q.kind === 'gauge' ? q.query : `total: ${q.total}; bad: ${q.bad}`
    const r = readings[spec.name]
    const custom = !['errors', 'latency', 'latency-limit'].includes(spec.name)
    if (!r || r.kind === 'none') {
      fail(
        `metric ${spec.name}: ${r?.reason ?? 'not measured'}${custom ? `; check its query in input "metrics". The query for the stable: ${shown}` : ''}`
      )
    }
    if (r.kind === 'counters' && r.total.length === 0) {
      fail(
        `metric ${spec.name}: its total counter has no data for the stable workload ${stableWorkload}; ${custom ? `check its "total" query in input "metrics" (placeholders are filled for the stable color). The query: ${q.kind === 'ratio' ? q.total : shown}` : `Prometheus lacks the Istio histogram istio_request_duration_milliseconds for it (is Istio's standard telemetry turned off?)`}`
      )
    }
    if (r.kind === 'counters' && r.bad.length === 0 && custom) {
      log.warning(
        `metric ${spec.name}: its "bad" query has no data for the stable yet; fine if there have been no bad events, otherwise check it (${q.kind === 'ratio' ? q.bad : shown})`
      )
    }
    const share = lifetimeShare(r)
    if (share !== undefined) badShare[spec.name] = share
  }
  return {
    specs,
    buckets: chosen.buckets,
    // Lifetime shares (every request since the pods started) where there are counters; the
    // window's 5xx share only when there are none.
    traffic: { rps: traffic.rps, badShare: { errors: traffic.errorShare ?? 0, ...badShare } }
  }
}
