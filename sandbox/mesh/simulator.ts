/**
 * The mesh traffic simulator: plays the client and server Envoys for every flow
 * that `planFlows` derives from the cluster objects, and counts what they would
 * report. Per tick, each flow sends its requests, split over destinations and
 * then over workloads by weight; each workload answers a share of them 5xx and
 * gives each a latency from an exponential with mean p99 / ln(100) (so 1% of
 * requests exceed p99). How counts come from rates is the noise mode (`Draws`):
 * - "none" (default): deterministic accumulators, so tests can assert exact
 *   numbers: each flow sends exactly rps × elapsed, splits are smooth weighted
 *   round robin (every running total within one request of its exact share),
 *   errors exactly count × errorRate, latencies at golden-ratio quantiles;
 * - "poisson": draws from one seeded generator, as independent requests: per
 *   tick Poisson(rps × dt) requests per flow, each picking its destination and
 *   workload by weight, failing with the error ratio, with a random latency.
 *   The same seed and the same ticks replay the same counts.
 */
import type { BehaviourRegistry, ObjectStore, ResourceName } from '../types.js'
import { ExactDraws, RandomDraws, type Draws } from './draws.js'
import { IstioMetrics, type IstioLabels, type MetricSample } from './metrics.js'
import { requestShape } from './matching.js'
import {
  planFlows,
  workloadOf,
  type DestinationPlan,
  type EndpointGroup,
  type FailureFlag,
  type FlowPlan,
  type Peer,
  type RoutingObject,
  type ServiceRef,
  type Snapshot,
  type Telemetry
} from './routing.js'

/** How counts follow from rates: exact accumulators, or seeded Poisson draws. */
export type NoiseMode = 'none' | 'poisson'
export const NOISE_MODES: readonly NoiseMode[] = Object.freeze(['none', 'poisson'])
export function isNoiseMode(v: unknown): v is NoiseMode {
  return NOISE_MODES.includes(v as NoiseMode)
}
/** The seed of the noisy mode when none is given. */
export const DEFAULT_SEED = 1

/** What the mesh sends: per-flow rate, noise mode and the seed of the noisy mode. */
export interface TrafficSettings {
  /** Requests per second for each flow; 0 sends nothing. */
  rps: number
  noise: NoiseMode
  /** Where the noisy mode's generator starts; a non-negative integer. */
  seed: number
}

export interface Clock {
  now(): number
}

export interface MeshSimulatorOptions {
  store: Pick<ObjectStore, 'list' | 'onChange'>
  behaviours: BehaviourRegistry
  /** Requests per second for each flow; default 20, 0 sends nothing. */
  rps?: number
  /** Default "none". */
  noise?: NoiseMode
  /** Default DEFAULT_SEED. */
  seed?: number
  clock?: Clock
  /** How long an idle series of a vanished workload stays exported; default 5 minutes. */
  seriesTtlMs?: number
}

export interface EndpointState {
  workload: string
  namespace: string
  version: string
  image: string
  readyPods: number
  sidecar: boolean
}

export interface DestinationState {
  host: string
  subset: string | null
  weight: number
  /** Share of the flow's requests (0..1). */
  share: number
  failure: FailureFlag | null
  endpoints: EndpointState[]
}

export interface FlowState {
  id: string
  /** The routing object the background requests follow (kind, namespace, name, resourceVersion). */
  config: RoutingObject
  client: 'mesh' | 'gateway'
  target: ServiceRef | null
  telemetry: Telemetry
  /** Why the flow sends nothing, when the simulator refuses its configuration. */
  conflict: string | null
  route: { index: number; name: string | null }
  destinations: DestinationState[]
  requests: number
  failures: Record<FailureFlag, number>
}

/** `POST /mesh/probe`: requests of one shape sent to one Service, as a smoke test sends them. */
export interface ProbeRequest {
  namespace: string
  service: string
  headers?: Record<string, string>
  path?: string
  method?: string
  count: number
  /** Send through this flow's client: `mesh` (default) or `gateway`. */
  via?: 'mesh' | 'gateway'
}

export interface ProbeResult {
  /** The flow and route the requests took; route null when none matched (all 404). */
  flow: string
  route: { kind: string; name: string; index: number; ruleName: string | null } | null
  /** Requests that reached each workload (`namespace/name`) and how many were 5xx. */
  workloads: Record<string, { requests: number; errors: number }>
  /** Requests that reached no workload, by response code. */
  failed: Record<string, number>
}

export interface MeshState extends TrafficSettings {
  flows: FlowState[]
  /** Requests that reached each workload (`namespace/name`) and how many were answered 5xx. */
  workloads: Record<string, { requests: number; errors: number }>
}

/** Resources whose changes can alter routing. */
const WATCHED: ReadonlySet<ResourceName> = new Set<ResourceName>([
  'namespaces',
  'services',
  'pods',
  'deployments',
  'virtualservices',
  'destinationrules',
  'httproutes'
])

const LN_100 = Math.log(100)
const PRUNE_EVERY_MS = 10_000

interface FlowCounters {
  requests: number
  failures: Record<FailureFlag, number>
}

export class MeshSimulator {
  private readonly store: Pick<ObjectStore, 'list' | 'onChange'>
  private readonly behaviours: BehaviourRegistry
  private readonly clock: Clock
  private readonly seriesTtlMs: number
  private readonly unsubscribe: () => void
  private readonly metrics = new IstioMetrics()
  private rpsValue: number
  private noise: NoiseMode
  private seed: number
  /** Kept for the simulator's life, so switching noise off resumes the exact accumulators. */
  private readonly exact = new ExactDraws()
  private random: RandomDraws
  private plans: FlowPlan[] = []
  private liveWorkloads = new Set<string>()
  private runningImages: Array<{ namespace: string; workload: string; image: string }> = []
  private dirty = true
  /** Counts replans and behaviour changes, for metricsVersion. */
  private replans = 0
  private behaviourChanges = 0
  private readonly unsubscribeBehaviours: () => void
  private lastTick: number
  private lastPrune: number
  private readonly flowCounters = new Map<string, FlowCounters>()
  private readonly workloadCounts = new Map<string, { requests: number; errors: number }>()

  constructor(o: MeshSimulatorOptions) {
    this.store = o.store
    this.behaviours = o.behaviours
    this.clock = o.clock ?? { now: () => Date.now() }
    this.seriesTtlMs = o.seriesTtlMs ?? 5 * 60_000
    this.rpsValue = checkRps(o.rps ?? 20)
    this.noise = checkNoise(o.noise ?? 'none')
    this.seed = o.seed ?? DEFAULT_SEED
    this.random = new RandomDraws(this.seed)
    this.lastTick = this.clock.now()
    this.lastPrune = this.lastTick
    this.unsubscribe = this.store.onChange((e) => {
      if (WATCHED.has(e.resource)) this.dirty = true
    })
    this.unsubscribeBehaviours = this.behaviours.onChange(() => this.behaviourChanges++)
  }

  get rps(): number {
    return this.rpsValue
  }

  /** Changes the rate only; the noise mode and its generator carry on. */
  setRps(rps: number): void {
    this.rpsValue = checkRps(rps)
  }

  get traffic(): TrafficSettings {
    return { rps: this.rpsValue, noise: this.noise, seed: this.seed }
  }

  /**
   * Sets rate, noise mode and seed; the noisy generator restarts from the seed, so the same
   * settings followed by the same ticks replay the same counts.
   */
  setTraffic(t: TrafficSettings): void {
    const rps = checkRps(t.rps)
    const noise = checkNoise(t.noise)
    const random = new RandomDraws(t.seed)
    this.rpsValue = rps
    this.noise = noise
    this.seed = t.seed
    this.random = random
  }

  /** Sends the traffic owed since the previous tick, after applying any configuration change. */
  tick(): void {
    const now = this.clock.now()
    const dt = now - this.lastTick
    this.lastTick = now
    if (this.dirty) this.replan()
    if (dt > 0) {
      for (const flow of this.plans) this.sendFlow(flow, dt, now)
    }
    if (now - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now
      this.metrics.prune(now, this.seriesTtlMs, (ns, wl) => this.liveWorkloads.has(`${ns}/${wl}`))
    }
  }

  /** The metrics page a Prometheus scrape gets: Istio's metrics, then the apps' own gauges. */
  metricsText(): string {
    const lines = this.gauges().map(
      (g) =>
        `sandbox_app_gauge{gauge=${JSON.stringify(g.labels.gauge)},namespace=${JSON.stringify(g.labels.namespace)},workload=${JSON.stringify(g.labels.workload)}} ${g.value}`
    )
    const apps = lines.length
      ? `# HELP sandbox_app_gauge An application's own gauge, per workload.\n# TYPE sandbox_app_gauge gauge\n${lines.join('\n')}\n`
      : ''
    return this.metrics.render() + apps
  }

  /**
   * Changes whenever the metrics page may have: a request counted, a series forgotten, the
   * cluster objects or the images' behaviours (the apps' gauges) changed. Equal: samples() is too.
   */
  get metricsVersion(): string {
    if (this.dirty) this.replan()
    return `${this.metrics.version}/${this.replans}/${this.behaviourChanges}`
  }

  /** The metrics page as samples (what a scrape reads, without the text), in its order. */
  samples(): MetricSample[] {
    return [...this.metrics.samples(), ...this.gauges()]
  }

  /** The apps' own gauges, one per gauge of each workload's running image. */
  private gauges(): MetricSample[] {
    if (this.dirty) this.replan()
    return this.runningImages.flatMap((w) =>
      Object.entries(this.behaviours.get(w.image).gauges ?? {}).map(([gauge, value]) => ({
        name: 'sandbox_app_gauge',
        labels: { gauge, namespace: w.namespace, workload: w.workload },
        value
      }))
    )
  }

  labelSets(): IstioLabels[] {
    return this.metrics.labelSets()
  }

  state(): MeshState {
    if (this.dirty) this.replan()
    const flows = this.plans.map((f): FlowState => {
      const total = f.destinations.reduce((a, d) => a + d.weight, 0)
      const c = this.counters(f.id)
      return {
        id: f.id,
        config: { ...f.config },
        client: f.client,
        target: f.target ? { ...f.target } : null,
        telemetry: f.telemetry,
        conflict: f.conflict,
        route: { ...f.route },
        destinations: f.destinations.map((d) => ({
          host: d.host,
          subset: d.subset,
          weight: d.weight,
          share: total > 0 ? d.weight / total : 0,
          failure: d.failure,
          endpoints: d.endpoints.map((e) => ({
            workload: e.peer.workload,
            namespace: e.peer.namespace,
            version: e.peer.version,
            image: e.image,
            readyPods: e.pods,
            sidecar: e.sidecar
          }))
        })),
        requests: c.requests,
        failures: { ...c.failures }
      }
    })
    const workloads: MeshState['workloads'] = {}
    for (const [k, v] of [...this.workloadCounts].sort(([a], [b]) => (a < b ? -1 : 1))) {
      workloads[k] = { ...v }
    }
    return { ...this.traffic, flows, workloads }
  }

  close(): void {
    this.unsubscribe()
    this.unsubscribeBehaviours()
  }

  private replan(): void {
    this.dirty = false
    this.replans++
    const snapshot: Snapshot = {
      namespaces: this.store.list('namespaces'),
      services: this.store.list('services'),
      pods: this.store.list('pods'),
      deployments: this.store.list('deployments'),
      virtualServices: this.store.list('virtualservices'),
      destinationRules: this.store.list('destinationrules'),
      httpRoutes: this.store.list('httproutes')
    }
    this.plans = planFlows(snapshot)
    this.liveWorkloads = new Set(
      snapshot.pods.map(
        (p) => `${p.metadata.namespace ?? 'default'}/${workloadOf(p, snapshot.deployments)}`
      )
    )
    const running = new Map<string, { namespace: string; workload: string; image: string }>()
    for (const p of snapshot.pods) {
      const image = (p.spec as { containers?: Array<{ image?: string }> } | undefined)
        ?.containers?.[0]?.image
      if (!image) continue
      const namespace = p.metadata.namespace ?? 'default'
      const workload = workloadOf(p, snapshot.deployments)
      running.set(`${namespace}/${workload}/${image}`, { namespace, workload, image })
    }
    this.runningImages = [...running.values()]
  }

  private counters(id: string): FlowCounters {
    let c = this.flowCounters.get(id)
    if (!c) {
      c = { requests: 0, failures: { NR: 0, UH: 0, NC: 0 } }
      this.flowCounters.set(id, c)
    }
    return c
  }

  private get draws(): Draws {
    return this.noise === 'poisson' ? this.random : this.exact
  }

  private sendFlow(flow: FlowPlan, dt: number, now: number): void {
    if (flow.conflict) return
    const c = this.counters(flow.id)
    const n = this.draws.arrivals(flow.id, this.rpsValue, dt)
    if (n === 0) return
    c.requests += n
    this.send(flow, flow.destinations, n, now, `${flow.id}|route${flow.route.index}`, c.failures)
  }

  /**
   * Sends `probe.count` requests of one shape to a Service through its flow and returns who served
   * them. They are real requests: counted and reported in the metrics like any other.
   */
  probe(probe: ProbeRequest): ProbeResult {
    if (this.dirty) this.replan()
    const via = probe.via ?? 'mesh'
    const flow =
      this.plans.find(
        (f) =>
          f.client === via &&
          f.target?.namespace === probe.namespace &&
          f.target.name === probe.service
      ) ??
      this.plans.find(
        (f) =>
          f.client === via &&
          f.destinations.some(
            (d) => d.service?.namespace === probe.namespace && d.service.name === probe.service
          )
      )
    if (!flow) {
      const known = this.plans.map((f) => f.id).join(', ') || 'none'
      throw new RangeError(
        `no ${via} flow routes Service ${probe.namespace}/${probe.service}; flows: ${known}`
      )
    }
    if (flow.conflict) throw new RangeError(flow.conflict)
    const choice = flow.select(requestShape(probe))
    const result: ProbeResult = {
      flow: flow.id,
      route: choice
        ? {
            kind: choice.object.kind,
            name: choice.object.name,
            index: choice.index,
            ruleName: choice.name
          }
        : null,
      workloads: {},
      failed: {}
    }
    const failures: Record<FailureFlag, number> = { NR: 0, UH: 0, NC: 0 }
    const now = this.clock.now()
    const key = `probe|${flow.id}|${choice?.object.name ?? ''}|${choice?.index ?? -1}`
    this.send(
      flow,
      choice?.destinations ?? [],
      probe.count,
      now,
      key,
      failures,
      (dest, k, e) => {
        if (!dest) return
        const w = result.workloads[dest] ?? { requests: 0, errors: 0 }
        w.requests += k
        w.errors += e
        result.workloads[dest] = w
      },
      (code, k) => {
        result.failed[String(code)] = (result.failed[String(code)] ?? 0) + k
      }
    )
    return result
  }

  private send(
    flow: FlowPlan,
    destinations: DestinationPlan[],
    n: number,
    now: number,
    splitKey: string,
    failures: Record<FailureFlag, number>,
    onServed?: (workload: string, count: number, errors: number) => void,
    onFailed?: (code: number, count: number) => void
  ): void {
    const reporter = flow.telemetry === 'waypoint' ? 'waypoint' : 'source'
    if (destinations.length === 0) {
      // No route matches: Envoy answers 404 NR.
      failures.NR += n
      onFailed?.(404, n)
      const none: DestinationPlan = {
        host: flow.target
          ? `${flow.target.name}.${flow.target.namespace}.svc.cluster.local`
          : 'unknown',
        subset: null,
        weight: 0,
        service: flow.target,
        serviceHost: flow.target
          ? `${flow.target.name}.${flow.target.namespace}.svc.cluster.local`
          : 'unknown',
        failure: 'NR',
        failureCode: 404,
        endpoints: []
      }
      this.metrics.observe(
        this.labels(reporter, flow.source, none, null, 404, 'NR'),
        new Array<number>(n).fill(0),
        now
      )
      return
    }
    const flowKey = splitKey
    // Every weight zero means no route at all; count them against the first destination.
    const perDest = destinations.every((d) => d.weight === 0)
      ? destinations.map((_, i) => (i === 0 ? n : 0))
      : this.draws.split(
          n,
          destinations.map((d, i) => ({
            key: `${flowKey}|${i}|${d.host}|${d.subset}`,
            weight: d.weight
          }))
        )
    destinations.forEach((dest, i) => {
      const count = perDest[i] ?? 0
      if (count === 0) return
      if (dest.failure) {
        failures[dest.failure] += count
        onFailed?.(dest.failureCode, count)
        this.metrics.observe(
          this.labels(reporter, flow.source, dest, null, dest.failureCode, dest.failure),
          new Array<number>(count).fill(0),
          now
        )
        return
      }
      const perGroup = this.draws.split(
        count,
        dest.endpoints.map((e) => ({ key: `${flowKey}|${i}|${e.key}`, weight: e.pods }))
      )
      dest.endpoints.forEach((group, j) => {
        const k = perGroup[j] ?? 0
        if (k === 0) return
        const errors = this.serve(flow, dest, group, k, now)
        onServed?.(`${group.peer.namespace}/${group.peer.workload}`, k, errors)
      })
    })
  }

  /**
   * Requests that reached a workload: count errors and latencies, report from both sidecars (the
   * server's only if it has one), or from the waypoint alone in ambient mode. Returns the errors.
   */
  private serve(
    flow: FlowPlan,
    dest: DestinationPlan,
    group: EndpointGroup,
    count: number,
    now: number
  ): number {
    const b = this.behaviours.get(group.image)
    const rate = Math.min(1, Math.max(0, b.errorRate))
    const errors = this.draws.errors(group.key, count, rate)
    const mean = Math.max(0, b.p99Ms) / LN_100
    for (const [code, k] of [
      [200, count - errors],
      [503, errors]
    ] as const) {
      if (k === 0) continue
      const latencies = this.draws.latencies(`${group.key}|${code}`, k, mean)
      if (flow.telemetry === 'waypoint') {
        this.metrics.observe(
          this.labels('waypoint', flow.source, dest, group, code, '-'),
          latencies,
          now
        )
        continue
      }
      if (group.sidecar) {
        this.metrics.observe(
          this.labels('destination', flow.source, dest, group, code, '-'),
          latencies,
          now
        )
      }
      this.metrics.observe(
        this.labels('source', flow.source, dest, group, code, '-'),
        latencies,
        now
      )
    }
    const wk = `${group.peer.namespace}/${group.peer.workload}`
    const w = this.workloadCounts.get(wk) ?? { requests: 0, errors: 0 }
    w.requests += count
    w.errors += errors
    this.workloadCounts.set(wk, w)
    return errors
  }

  private labels(
    reporter: 'source' | 'destination' | 'waypoint',
    src: Peer,
    dest: DestinationPlan,
    group: EndpointGroup | null,
    code: number,
    flags: string
  ): IstioLabels {
    const dst: Peer | null = group?.peer ?? null
    // A server without sidecar has no mTLS identity for the client to see.
    const dstPrincipal = dst && group?.sidecar ? dst.principal : 'unknown'
    return {
      reporter,
      source_workload: src.workload,
      source_workload_namespace: src.namespace,
      source_principal: src.principal,
      source_app: src.app,
      source_version: src.version,
      source_canonical_service: src.canonicalService,
      source_canonical_revision: src.canonicalRevision,
      source_cluster: 'Kubernetes',
      destination_workload: dst?.workload ?? 'unknown',
      destination_workload_namespace: dst?.namespace ?? 'unknown',
      destination_principal: dstPrincipal,
      destination_app: dst?.app ?? 'unknown',
      destination_version: dst?.version ?? 'unknown',
      destination_service: dest.serviceHost,
      destination_service_name: dest.service?.name ?? dest.host,
      destination_service_namespace: dest.service?.namespace ?? 'unknown',
      destination_canonical_service: dst?.canonicalService ?? 'unknown',
      destination_canonical_revision: dst?.canonicalRevision ?? 'latest',
      destination_cluster: dst ? 'Kubernetes' : 'unknown',
      request_protocol: 'http',
      response_code: String(code),
      grpc_response_status: '',
      response_flags: flags,
      connection_security_policy: reporter === 'source' ? 'unknown' : 'mutual_tls'
    }
  }
}

function checkNoise(noise: NoiseMode): NoiseMode {
  if (!isNoiseMode(noise))
    throw new RangeError(`noise must be one of ${NOISE_MODES.join(', ')}, got ${String(noise)}`)
  return noise
}

function checkRps(rps: number): number {
  if (!Number.isFinite(rps) || rps < 0)
    throw new RangeError(`rps must be a number >= 0, got ${rps}`)
  return rps
}
