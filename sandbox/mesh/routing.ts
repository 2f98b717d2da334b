/**
 * Pure routing decisions of the mesh simulator: from a snapshot of the cluster
 * objects to the flows the simulated Envoys would apply. No I/O and no state,
 * so every rule here can be tested against plain objects.
 *
 * Rules (kept close to what Envoy does with the configuration Istio generates):
 * - One client flow per VirtualService that has an HTTP route. In practice there
 *   is one VirtualService per service, so this is "one flow per routed Service".
 * - A flow's requests take the first HTTP route without `match`; when every route
 *   has a `match`, the first HTTP route. (The simulated client sends requests that
 *   match no particular header or path, so a catch-all route is where they land.)
 * - A route with a single destination takes all traffic whatever its weight; with
 *   several, each gets weight / sum(weights) (Istio wants the sum to be 100; Envoy
 *   normalises by the total). All weights zero: no route, 503 NR.
 * - Destination host `reviews`, `reviews.demo`, `reviews.demo.svc` and
 *   `reviews.demo.svc.cluster.local` all mean Service `reviews` in namespace `demo`
 *   (short names relative to the object's own namespace). Unknown host: 503 NC.
 * - A subset must be defined by a DestinationRule for that service, else 503 NR.
 * - Endpoints are the ready pods matching the Service selector and the subset
 *   labels; none: 503 UH. Traffic to a destination is spread over its pods
 *   evenly, so workloads get shares proportional to their ready pod counts.
 */
import type { KubeObject } from '../types.js'

/** Envoy response flags for requests that never reach a workload. */
export type FailureFlag = 'NR' | 'UH' | 'NC'

export interface ServiceRef {
  namespace: string
  name: string
}

/** Identity of a workload as Istio telemetry reports it. */
export interface Peer {
  workload: string
  namespace: string
  app: string
  version: string
  principal: string
  canonicalService: string
  canonicalRevision: string
}

/** Ready pods of one workload running one image, behind one destination. */
export interface EndpointGroup {
  /** Stable key: namespace/workload|image|version. */
  key: string
  peer: Peer
  image: string
  pods: number
  /** Whether the pods run the istio-proxy sidecar (and so report telemetry). */
  sidecar: boolean
}

export interface DestinationPlan {
  host: string
  subset: string | null
  /** Integer weight used for the split (100 for a lone destination). */
  weight: number
  service: ServiceRef | null
  /** Value of the `destination_service` label. */
  serviceHost: string
  /** Set when requests to this destination fail before reaching a workload. */
  failure: FailureFlag | null
  endpoints: EndpointGroup[]
}

export interface FlowPlan {
  /** namespace/name of the VirtualService. */
  id: string
  virtualService: { namespace: string; name: string; resourceVersion: string }
  /** `mesh` for sidecar-to-sidecar traffic, `gateway` for a gateway-bound VirtualService. */
  client: 'mesh' | 'gateway'
  source: Peer
  route: { index: number; name: string | null }
  destinations: DestinationPlan[]
}

/** The objects routing depends on. */
export interface Snapshot {
  namespaces: KubeObject[]
  services: KubeObject[]
  pods: KubeObject[]
  deployments: KubeObject[]
  virtualServices: KubeObject[]
  destinationRules: KubeObject[]
}

const CLUSTER_SUFFIXES = ['.svc.cluster.local', '.svc']

/** Resolves a VirtualService/DestinationRule host to the Service it names, if it names one. */
export function resolveHost(host: string, namespace: string): ServiceRef | undefined {
  let h = host.trim().toLowerCase()
  if (h === '' || h.includes('*')) return undefined
  for (const suffix of CLUSTER_SUFFIXES) {
    if (h.endsWith(suffix)) {
      h = h.slice(0, -suffix.length)
      break
    }
  }
  const parts = h.split('.')
  if (parts.length === 1 && parts[0]) return { namespace, name: parts[0] }
  if (parts.length === 2 && parts[0] && parts[1]) return { namespace: parts[1], name: parts[0] }
  return undefined
}

export function serviceHostname(ref: ServiceRef): string {
  return `${ref.name}.${ref.namespace}.svc.cluster.local`
}

/** The client workloads that send the simulated traffic. */
export function clientPeer(client: 'mesh' | 'gateway', namespace: string): Peer {
  if (client === 'gateway') {
    return {
      workload: 'istio-ingressgateway',
      namespace: 'istio-system',
      app: 'istio-ingressgateway',
      version: 'unknown',
      principal: 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account',
      canonicalService: 'istio-ingressgateway',
      canonicalRevision: 'latest'
    }
  }
  return {
    workload: 'loadgenerator',
    namespace,
    app: 'loadgenerator',
    version: 'unknown',
    principal: `spiffe://cluster.local/ns/${namespace}/sa/loadgenerator`,
    canonicalService: 'loadgenerator',
    canonicalRevision: 'latest'
  }
}

/** Computes the flows the simulated clients apply, sorted by id. */
export function planFlows(s: Snapshot): FlowPlan[] {
  const flows: FlowPlan[] = []
  for (const vs of s.virtualServices) {
    const namespace = vs.metadata.namespace ?? 'default'
    const http = asArray(vs.spec?.['http'])
    if (http.length === 0) continue
    let index = http.findIndex((r) => asArray(asRecord(r)['match']).length === 0)
    if (index < 0) index = 0
    const route = asRecord(http[index])
    const gateways = asArray(vs.spec?.['gateways']).filter((g) => typeof g === 'string')
    const client = gateways.length === 0 || gateways.includes('mesh') ? 'mesh' : 'gateway'
    const dests = asArray(route['route']).map(asRecord)
    const single = dests.length === 1
    const planned = dests.map((d) => planDestination(s, namespace, d, single))
    if (planned.length > 0 && planned.every((d) => d.weight === 0)) {
      for (const d of planned) d.failure = 'NR'
    }
    flows.push({
      id: `${namespace}/${vs.metadata.name}`,
      virtualService: {
        namespace,
        name: vs.metadata.name,
        resourceVersion: vs.metadata.resourceVersion ?? ''
      },
      client,
      source: clientPeer(client, namespace),
      route: { index, name: typeof route['name'] === 'string' ? route['name'] : null },
      destinations: planned
    })
  }
  return flows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

function planDestination(
  s: Snapshot,
  namespace: string,
  d: Record<string, unknown>,
  single: boolean
): DestinationPlan {
  const dest = asRecord(d['destination'])
  const host = typeof dest['host'] === 'string' ? dest['host'] : ''
  const subset = typeof dest['subset'] === 'string' && dest['subset'] !== '' ? dest['subset'] : null
  const rawWeight = d['weight']
  const weight = single
    ? 100
    : typeof rawWeight === 'number' && Number.isFinite(rawWeight)
      ? Math.max(0, Math.trunc(rawWeight))
      : 0
  const ref = resolveHost(host, namespace)
  const service = ref ? findObject(s.services, ref) : undefined
  const plan: DestinationPlan = {
    host,
    subset,
    weight,
    service: service && ref ? ref : null,
    serviceHost: ref ? serviceHostname(ref) : host,
    failure: null,
    endpoints: []
  }
  if (!service || !ref) {
    plan.failure = 'NC'
    return plan
  }
  let subsetLabels: Record<string, string> = {}
  if (subset !== null) {
    const labels = findSubsetLabels(s.destinationRules, ref, subset)
    if (!labels) {
      plan.failure = 'NR'
      return plan
    }
    subsetLabels = labels
  }
  const selector = stringMap(service.spec?.['selector'])
  if (Object.keys(selector).length === 0) {
    plan.failure = 'UH'
    return plan
  }
  plan.endpoints = endpointGroups(s, ref.namespace, { ...selector, ...subsetLabels })
  if (plan.endpoints.length === 0) plan.failure = 'UH'
  return plan
}

/** Istio uses the oldest DestinationRule for a host; the first defining the subset is close enough. */
function findSubsetLabels(
  rules: KubeObject[],
  ref: ServiceRef,
  subset: string
): Record<string, string> | undefined {
  for (const dr of rules) {
    const drRef = resolveHost(
      typeof dr.spec?.['host'] === 'string' ? dr.spec['host'] : '',
      dr.metadata.namespace ?? 'default'
    )
    if (!drRef || drRef.namespace !== ref.namespace || drRef.name !== ref.name) continue
    for (const sub of asArray(dr.spec?.['subsets']).map(asRecord)) {
      if (sub['name'] === subset) return stringMap(sub['labels'])
    }
  }
  return undefined
}

function endpointGroups(
  s: Snapshot,
  namespace: string,
  selector: Record<string, string>
): EndpointGroup[] {
  const groups = new Map<string, EndpointGroup>()
  for (const pod of s.pods) {
    if ((pod.metadata.namespace ?? 'default') !== namespace) continue
    const labels = pod.metadata.labels ?? {}
    if (!matches(labels, selector) || !isReady(pod)) continue
    const image = firstImage(pod)
    const peer = podPeer(pod, workloadOf(pod, s.deployments))
    const key = `${namespace}/${peer.workload}|${image}|${peer.version}`
    const group = groups.get(key)
    if (group) group.pods += 1
    else groups.set(key, { key, peer, image, pods: 1, sidecar: hasSidecar(pod) })
  }
  return [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
}

/**
 * The workload a pod belongs to, as Istio names it: the Deployment behind its
 * ReplicaSet (the ReplicaSet name minus the pod-template-hash suffix).
 */
export function workloadOf(pod: KubeObject, deployments: KubeObject[]): string {
  const namespace = pod.metadata.namespace ?? 'default'
  for (const ref of pod.metadata.ownerReferences ?? []) {
    const kind = ref['kind']
    const name = ref['name']
    if (typeof name !== 'string') continue
    if (kind === 'Deployment') return name
    if (kind === 'ReplicaSet') {
      const hash = pod.metadata.labels?.['pod-template-hash']
      if (hash && name.endsWith(`-${hash}`)) return name.slice(0, -hash.length - 1)
      const m = /^(.+)-[a-z0-9]{5,10}$/.exec(name)
      return m?.[1] ?? name
    }
  }
  const labels = pod.metadata.labels ?? {}
  for (const d of deployments) {
    if ((d.metadata.namespace ?? 'default') !== namespace) continue
    const selector = stringMap(asRecord(d.spec?.['selector'])['matchLabels'])
    if (Object.keys(selector).length > 0 && matches(labels, selector)) return d.metadata.name
  }
  return pod.metadata.name
}

function podPeer(pod: KubeObject, workload: string): Peer {
  const labels = pod.metadata.labels ?? {}
  const namespace = pod.metadata.namespace ?? 'default'
  const sa = pod.spec?.['serviceAccountName']
  const app = labels['app'] ?? 'unknown'
  const version = labels['version'] ?? 'unknown'
  return {
    workload,
    namespace,
    app,
    version,
    principal: `spiffe://cluster.local/ns/${namespace}/sa/${typeof sa === 'string' && sa ? sa : 'default'}`,
    canonicalService:
      labels['service.istio.io/canonical-name'] ??
      labels['app.kubernetes.io/name'] ??
      labels['app'] ??
      workload,
    canonicalRevision:
      labels['service.istio.io/canonical-revision'] ??
      labels['app.kubernetes.io/version'] ??
      labels['version'] ??
      'latest'
  }
}

/** Ready condition True, not terminating, not finished. */
export function isReady(pod: KubeObject): boolean {
  if (pod.metadata['deletionTimestamp']) return false
  const phase = pod.status?.['phase']
  if (phase === 'Succeeded' || phase === 'Failed') return false
  return asArray(pod.status?.['conditions'])
    .map(asRecord)
    .some((c) => c['type'] === 'Ready' && c['status'] === 'True')
}

function firstImage(pod: KubeObject): string {
  const first = asRecord(asArray(pod.spec?.['containers'])[0])
  return typeof first['image'] === 'string' ? first['image'] : ''
}

/**
 * Whether the pod runs istio-proxy. Injection happens when a pod is created, so
 * the pod itself says (its containers, or the injector's status annotation);
 * labelling the namespace later does not give running pods a sidecar.
 */
function hasSidecar(pod: KubeObject): boolean {
  if (pod.metadata.annotations?.['sidecar.istio.io/status']) return true
  return asArray(pod.spec?.['containers'])
    .map(asRecord)
    .some((c) => c['name'] === 'istio-proxy')
}

function findObject(list: KubeObject[], ref: ServiceRef): KubeObject | undefined {
  return list.find(
    (o) => o.metadata.name === ref.name && (o.metadata.namespace ?? 'default') === ref.namespace
  )
}

function matches(labels: Record<string, string>, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v)
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : []
}

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : {}
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, val] of Object.entries(asRecord(v))) if (typeof val === 'string') out[k] = val
  return out
}
