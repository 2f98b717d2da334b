/**
 * Pure routing decisions of the mesh simulator: from a snapshot of the cluster
 * objects to the flows the simulated Envoys would apply. No I/O and no state,
 * so every rule here can be tested against plain objects.
 *
 * Rules (kept close to what Envoy does with the configuration Istio generates):
 * - One client flow per VirtualService that has an HTTP route. In practice there
 *   is one VirtualService per service, so this is "one flow per routed Service".
 * - One client flow per HTTPRoute parent: a Service (`parentRefs` kind Service, group
 *   "" or "core": mesh traffic to that Service, GAMMA) or a Gateway (north-south); every
 *   HTTPRoute attached to the same parent is merged into that flow, as Istio merges them.
 * - The background requests are `GET /` with no header a route could match on
 *   (matching.ts): a VirtualService's take the first HTTP route whose `match` holds (a
 *   route without `match` takes everything); an HTTPRoute's take the highest-precedence
 *   rule match that holds (a rule without `matches` is `PathPrefix /`). No route: 404 NR.
 *   Probes (`select`) send any path, method and headers through the same choice.
 * - A Service routed both by a mesh VirtualService and by an HTTPRoute with that Service as
 *   parent is refused: both flows send nothing and say why (`conflict`).
 * - A route with a single destination takes all traffic whatever its weight; with
 *   several, each gets weight / sum(weights) (Istio wants the sum to be 100; Envoy
 *   normalises by the total). All weights zero: no route, 503 NR.
 * - Destination host `reviews`, `reviews.demo`, `reviews.demo.svc` and
 *   `reviews.demo.svc.cluster.local` all mean Service `reviews` in namespace `demo`
 *   (short names relative to the object's own namespace). Unknown host: 503 NC.
 * - A subset must be defined by a DestinationRule for that service, else 503 NR.
 * - HTTPRoute backendRefs are Services (kind Service, group ""), weight default 1, relative
 *   (weight / sum); weight 0 gets nothing. A backendRef to a missing Service or of another
 *   kind answers its share 500, as is every request of a rule whose weights are all 0
 *   (the Gateway API's rule for a request with no valid backend).
 * - Endpoints are the ready pods matching the Service selector and the subset
 *   labels; none: 503 UH. Traffic to a destination is spread over its pods
 *   evenly, so workloads get shares proportional to their ready pod counts.
 */
import type { KubeObject } from '../types.js'
import {
  BACKGROUND_REQUEST,
  firstMatching,
  rankMatches,
  virtualServiceRoute,
  type RankedMatch,
  type RequestShape
} from './matching.js'

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
  /** The status those failed requests get (503; 500 for an HTTPRoute backend that is invalid). */
  failureCode: number
  endpoints: EndpointGroup[]
}

/** The routing object a flow follows. */
export interface RoutingObject {
  kind: 'VirtualService' | 'HTTPRoute'
  namespace: string
  name: string
  resourceVersion: string
}

/** The route a request takes: its index and name in its object, and where it goes. */
export interface RouteChoice {
  object: RoutingObject
  index: number
  name: string | null
  destinations: DestinationPlan[]
}

/**
 * Who reports a flow's HTTP metrics: sidecars (`source` from the client, `destination` from a
 * server that has one), or an ambient waypoint (`waypoint` only; ztunnel reports TCP metrics).
 */
export type Telemetry = 'sidecar' | 'waypoint'

export interface FlowPlan {
  /** namespace/name of the VirtualService; `httproute/service:ns/name` or `httproute/gateway:ns/name`. */
  id: string
  /** The object the background requests' route is in (the first attached HTTPRoute if none matches). */
  config: RoutingObject
  /** `mesh` for traffic inside the mesh, `gateway` for a gateway's (north-south). */
  client: 'mesh' | 'gateway'
  source: Peer
  /** The Service the clients address (mesh flows), or null for a gateway listener. */
  target: ServiceRef | null
  telemetry: Telemetry
  /** The background requests' route; index -1 when no route matches them (404 NR). */
  route: { index: number; name: string | null }
  destinations: DestinationPlan[]
  /** Why the flow sends nothing, when the configuration is refused. */
  conflict: string | null
  /** The route any request shape takes (for probes); undefined: 404. */
  select(request: RequestShape): RouteChoice | undefined
}

/** The objects routing depends on. */
export interface Snapshot {
  namespaces: KubeObject[]
  services: KubeObject[]
  pods: KubeObject[]
  deployments: KubeObject[]
  virtualServices: KubeObject[]
  destinationRules: KubeObject[]
  /** Gateway API HTTPRoutes (optional so older callers need not list them). */
  httpRoutes?: KubeObject[]
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

/**
 * The client workloads that send the simulated traffic. A Gateway API Gateway `edge` is served
 * by the Deployment Istio creates for it, `edge-istio` in the Gateway's namespace.
 */
export function clientPeer(
  client: 'mesh' | 'gateway',
  namespace: string,
  gateway?: { namespace: string; name: string }
): Peer {
  if (client === 'gateway' && gateway) {
    const workload = `${gateway.name}-istio`
    return {
      workload,
      namespace: gateway.namespace,
      app: 'unknown',
      version: 'unknown',
      principal: `spiffe://cluster.local/ns/${gateway.namespace}/sa/${workload}`,
      canonicalService: workload,
      canonicalRevision: 'latest'
    }
  }
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
  const flows = [...virtualServiceFlows(s), ...httpRouteFlows(s)]
  markConflicts(flows)
  return flows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

function telemetryFor(s: Snapshot, target: ServiceRef | null): Telemetry {
  if (!target) return 'sidecar'
  const ns = s.namespaces.find((n) => n.metadata.name === target.namespace)
  if (ns?.metadata.labels?.['istio.io/dataplane-mode'] !== 'ambient') return 'sidecar'
  const svc = findObject(s.services, target)
  const waypoint =
    svc?.metadata.labels?.['istio.io/use-waypoint'] ?? ns.metadata.labels['istio.io/use-waypoint']
  return waypoint && waypoint !== 'none' ? 'waypoint' : 'sidecar'
}

function virtualServiceFlows(s: Snapshot): FlowPlan[] {
  const flows: FlowPlan[] = []
  for (const vs of s.virtualServices) {
    const namespace = vs.metadata.namespace ?? 'default'
    const http = asArray(vs.spec?.['http'])
    if (http.length === 0) continue
    const gateways = asArray(vs.spec?.['gateways']).filter((g) => typeof g === 'string')
    const client = gateways.length === 0 || gateways.includes('mesh') ? 'mesh' : 'gateway'
    const object: RoutingObject = {
      kind: 'VirtualService',
      namespace,
      name: vs.metadata.name,
      resourceVersion: vs.metadata.resourceVersion ?? ''
    }
    const choices = http.map((r, index): RouteChoice => {
      const route = asRecord(r)
      const dests = asArray(route['route']).map(asRecord)
      const single = dests.length === 1
      const planned = dests.map((d) => planDestination(s, namespace, d, single))
      if (planned.length > 0 && planned.every((d) => d.weight === 0)) {
        for (const d of planned) d.failure = 'NR'
      }
      return {
        object,
        index,
        name: typeof route['name'] === 'string' ? route['name'] : null,
        destinations: planned
      }
    })
    const select = (r: RequestShape): RouteChoice | undefined =>
      choices[virtualServiceRoute(http, r)]
    const background = select(BACKGROUND_REQUEST)
    const host = asArray(vs.spec?.['hosts']).find((h) => typeof h === 'string')
    const target =
      client === 'mesh' && typeof host === 'string' ? (resolveHost(host, namespace) ?? null) : null
    flows.push({
      id: `${namespace}/${vs.metadata.name}`,
      config: object,
      client,
      source: clientPeer(client, namespace),
      target,
      telemetry: telemetryFor(s, target),
      route: background
        ? { index: background.index, name: background.name }
        : { index: -1, name: null },
      destinations: background?.destinations ?? [],
      conflict: null,
      select
    })
  }
  return flows
}

interface RuleTarget {
  object: RoutingObject
  index: number
  name: string | null
  rule: Record<string, unknown>
}

/** A parentRef as a flow key, or undefined for a parent the mesh does not route for. */
function parentOf(
  ref: Record<string, unknown>,
  namespace: string
): { kind: 'service' | 'gateway'; namespace: string; name: string } | undefined {
  const kind = typeof ref['kind'] === 'string' ? ref['kind'] : 'Gateway'
  const group = typeof ref['group'] === 'string' ? ref['group'] : 'gateway.networking.k8s.io'
  const name = typeof ref['name'] === 'string' ? ref['name'] : ''
  const ns = typeof ref['namespace'] === 'string' && ref['namespace'] ? ref['namespace'] : namespace
  if (!name) return undefined
  if (kind === 'Service' && (group === '' || group === 'core'))
    return { kind: 'service', namespace: ns, name }
  if (kind === 'Gateway' && group === 'gateway.networking.k8s.io')
    return { kind: 'gateway', namespace: ns, name }
  return undefined
}

const CATCH_ALL = { path: { type: 'PathPrefix', value: '/' } }

function httpRouteFlows(s: Snapshot): FlowPlan[] {
  const byParent = new Map<
    string,
    { parent: NonNullable<ReturnType<typeof parentOf>>; matches: RankedMatch<RuleTarget>[] }
  >()
  for (const hr of s.httpRoutes ?? []) {
    const namespace = hr.metadata.namespace ?? 'default'
    const object: RoutingObject = {
      kind: 'HTTPRoute',
      namespace,
      name: hr.metadata.name,
      resourceVersion: hr.metadata.resourceVersion ?? ''
    }
    const route = {
      created: hr.metadata.creationTimestamp ?? '',
      id: `${namespace}/${hr.metadata.name}`
    }
    const rules = asArray(hr.spec?.['rules']).map(asRecord)
    for (const ref of asArray(hr.spec?.['parentRefs']).map(asRecord)) {
      const parent = parentOf(ref, namespace)
      if (!parent) continue
      const key = `${parent.kind}:${parent.namespace}/${parent.name}`
      const entry = byParent.get(key) ?? { parent, matches: [] }
      byParent.set(key, entry)
      rules.forEach((rule, ruleIndex) => {
        const target: RuleTarget = {
          object,
          index: ruleIndex,
          name: typeof rule['name'] === 'string' ? rule['name'] : null,
          rule
        }
        const matches = asArray(rule['matches'])
        ;(matches.length > 0 ? matches : [CATCH_ALL]).forEach((match, matchIndex) => {
          entry.matches.push({ match, target, route, ruleIndex, matchIndex })
        })
      })
    }
  }
  const flows: FlowPlan[] = []
  for (const [key, { parent, matches }] of byParent) {
    const ranked = rankMatches(matches)
    const planned = new Map<RuleTarget, RouteChoice>()
    const choose = (t: RuleTarget): RouteChoice => {
      let c = planned.get(t)
      if (!c) {
        c = {
          object: t.object,
          index: t.index,
          name: t.name,
          destinations: planBackends(s, t.object.namespace, t.rule)
        }
        planned.set(t, c)
      }
      return c
    }
    const select = (r: RequestShape): RouteChoice | undefined => {
      const m = firstMatching(ranked, r)
      return m ? choose(m.target) : undefined
    }
    const background = select(BACKGROUND_REQUEST)
    const mesh = parent.kind === 'service'
    const target = mesh ? { namespace: parent.namespace, name: parent.name } : null
    const first = ranked[0]?.target.object
    flows.push({
      id: `httproute/${key}`,
      config: background?.object ??
        first ?? { kind: 'HTTPRoute', namespace: parent.namespace, name: '', resourceVersion: '' },
      client: mesh ? 'mesh' : 'gateway',
      source: mesh
        ? clientPeer('mesh', parent.namespace)
        : clientPeer('gateway', parent.namespace, parent),
      target,
      telemetry: telemetryFor(s, target),
      route: background
        ? { index: background.index, name: background.name }
        : { index: -1, name: null },
      destinations: background?.destinations ?? [],
      conflict: null,
      select
    })
  }
  return flows
}

/** An HTTPRoute rule's backendRefs as destinations (weights relative, default 1). */
function planBackends(
  s: Snapshot,
  namespace: string,
  rule: Record<string, unknown>
): DestinationPlan[] {
  const refs = asArray(rule['backendRefs']).map(asRecord)
  const planned = refs.map((ref): DestinationPlan => {
    const name = typeof ref['name'] === 'string' ? ref['name'] : ''
    const kind = typeof ref['kind'] === 'string' ? ref['kind'] : 'Service'
    const group = typeof ref['group'] === 'string' ? ref['group'] : ''
    const ns =
      typeof ref['namespace'] === 'string' && ref['namespace'] ? ref['namespace'] : namespace
    const raw = ref['weight']
    const weight =
      raw === undefined
        ? 1
        : typeof raw === 'number' && Number.isFinite(raw)
          ? Math.max(0, Math.trunc(raw))
          : 0
    const svcRef = { namespace: ns, name }
    const plan: DestinationPlan = {
      host: name,
      subset: null,
      weight,
      service: null,
      serviceHost: serviceHostname(svcRef),
      failure: null,
      failureCode: 503,
      endpoints: []
    }
    const service =
      kind === 'Service' && (group === '' || group === 'core')
        ? findObject(s.services, svcRef)
        : undefined
    if (!service) {
      plan.failure = 'NC'
      plan.failureCode = 500
      return plan
    }
    plan.service = svcRef
    const selector = stringMap(service.spec?.['selector'])
    plan.endpoints = Object.keys(selector).length > 0 ? endpointGroups(s, ns, selector) : []
    if (plan.endpoints.length === 0) plan.failure = 'UH'
    return plan
  })
  if (planned.length > 0 && planned.every((d) => d.weight === 0)) {
    for (const d of planned) {
      d.failure = 'NR'
      d.failureCode = 500
    }
  }
  return planned
}

/** A Service routed by a mesh VirtualService and by an HTTPRoute with it as parent: refused. */
function markConflicts(flows: FlowPlan[]): void {
  const key = (t: ServiceRef): string => `${t.namespace}/${t.name}`
  const vs = new Map<string, FlowPlan[]>()
  for (const f of flows) {
    if (f.config.kind === 'VirtualService' && f.client === 'mesh' && f.target) {
      vs.set(key(f.target), [...(vs.get(key(f.target)) ?? []), f])
    }
  }
  for (const f of flows) {
    if (f.config.kind !== 'HTTPRoute' || !f.target) continue
    const others = vs.get(key(f.target)) ?? []
    if (others.length === 0) continue
    const why = `Service ${key(f.target)} is routed by VirtualService ${others.map((o) => o.config.name).join(', ')} and by HTTPRoute ${f.config.name}; the simulator refuses to guess which applies: delete one of them`
    for (const g of [f, ...others]) g.conflict = why
  }
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
    failureCode: 503,
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
