/**
 * The ports: the only shapes in which the engine and the commands see the outside world. Each has
 * a real implementation in src/adapters/ and an in-memory fake in __tests__/fakes/; the one place
 * that chooses the implementation is src/adapters/factory.ts.
 */
import type { Color, ColorWeights } from './core/color.js'
import type { RolloutRecord } from './core/record.js'
import type { TestHeader } from './core/test-route.js'
import type { RouteWeights, RouterObjectState } from './core/drift.js'

export type { MetricsSource, Reading } from './core/metrics.js'

export type { RouteWeights, RouterObjectState } from './core/drift.js'

export interface WeightWriteOptions {
  /** Retry harder, as a rollback does. */
  hard?: boolean
  /**
   * Called after each object was read and its patch planned, just before the patch is sent
   * (again on every conflict): the engine confirms there that it still holds the lock. The patch
   * carries the version read before it, so it cannot land after a takeover that came later.
   */
  beforeWrite?: () => Promise<void>
  /** Also mark each object as written by this run (the run that took the rollout over). */
  fence?: string
}

/** What a weight write left: the weights now in place, and each object's new version. */
export interface WeightWrite {
  weights: ColorWeights
  versions: Record<string, string>
}

/** What preflight learnt of the router's objects: the routes to shift, or what is wrong. */
export type RouterInspection =
  | { ok: false; message: string }
  | {
      ok: true
      /** Every selected route of every object, `object/route` named, with its weights. */
      routes: RouteWeights[]
      /** Whether some route still sends to the service without naming a color (first release). */
      bare: boolean
    }

/**
 * The traffic router: the objects that split the service's traffic between the colors. Every
 * object it manages gets the same weights; each write is guarded by that object's own version.
 *
 * Besides the weights, a router keeps the test route (input `test-header`): requests with the
 * header go to the candidate whatever the weights. Weight reads and drift never count it.
 */
export interface TrafficRouter {
  /** The objects, for messages: `VirtualService reviews`, `VirtualServices reviews, reviews-edge`. */
  readonly description: string
  /** Names of the objects whose weights it writes, in the order it writes them. */
  readonly objects: readonly string[]
  /** The permissions it needs in the service's namespace, for preflight and the README's Role. */
  readonly permissions: readonly Permission[]
  /** Every object as it is now; routes not adopted yet count as `bareColor`. */
  read(bareColor: Color): Promise<RouterObjectState[]>
  /** Give the candidate `percent` of the service's traffic on every route of every object. */
  setWeights(candidate: Color, percent: number, options?: WeightWriteOptions): Promise<WeightWrite>
  /**
   * Make both colors addressable (Istio: the DestinationRule's subsets; Gateway API: a Service per
   * color). Returns what it did, one line each, for the log; nothing when all was in place.
   */
  ensureColors(colorLabel: string): Promise<string[]>
  /**
   * Add the test route to the candidate on every object (`header`), or remove every test route
   * (undefined). Each object in its own write, guarded as setWeights' are (`beforeWrite` before
   * each patch, `fence` with it); an object already as asked is not written. Returns each
   * object's version after it.
   */
  setTestRoute(
    candidate: Color,
    header: TestHeader | undefined,
    options?: WeightWriteOptions
  ): Promise<{ versions: Record<string, string> }>
  /**
   * Read-only checks of every object before a release: each exists, has routes to the service,
   * and the colors can be made addressable; with `testHeader`, also that the test route can be
   * added. Throws nothing for what it finds: says it.
   */
  inspect(colorLabel: string, testHeader?: TestHeader): Promise<RouterInspection>
}

/** The lock and the rollout record, as the engine and the commands use them. */
export interface RecordState {
  holder?: string
  /** Whether the holder stopped renewing for longer than the lease duration. */
  expired: boolean
  renewedAt?: string
  expiresAt?: string
  record?: RolloutRecord
}

/**
 * Where the rollout record lives, with the lock that makes one run at a time its writer: acquire
 * (or take over), save, release, and notice a takeover. The Lease is the implementation today.
 */
export interface RecordStore {
  /** This run's identity as lock holder. */
  readonly identity: string
  read(): Promise<RecordState>
  acquire(
    next: RolloutRecord | ((found: RolloutRecord | undefined) => RolloutRecord),
    options?: { override?: boolean }
  ): Promise<{
    previous?: RolloutRecord
    record: RolloutRecord
    tookOverFrom?: string
    live?: boolean
  }>
  save(record: RolloutRecord, options?: { release?: boolean; hard?: boolean }): Promise<void>
  /** Throw the LockLostError a heartbeat or write already met, if any (no I/O). */
  assertHeld(): void
  /** Read the store and throw LockLostError unless this run still holds the lock. */
  verify(): Promise<void>
  startHeartbeat(onError: (error: unknown) => void): void
  stopHeartbeat(): void
}

// Kubernetes ---------------------------------------------------------------------------------

/** A Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion?: string
  kind?: string
  metadata: {
    name: string
    namespace?: string
    resourceVersion?: string
    generation?: number
    labels?: Record<string, string>
    annotations?: Record<string, string>
    [key: string]: unknown
  }
  spec?: Record<string, unknown>
  status?: Record<string, unknown>
  [key: string]: unknown
}

/** Where a resource lives in the API: group ('' for core), version, plural. */
export interface ResourceType {
  group: string
  version: string
  plural: string
  kind: string
}

export const DEPLOYMENTS: ResourceType = {
  group: 'apps',
  version: 'v1',
  plural: 'deployments',
  kind: 'Deployment'
}
export const LEASES: ResourceType = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  kind: 'Lease'
}
export const SERVICES: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'services',
  kind: 'Service'
}
export const PODS: ResourceType = { group: '', version: 'v1', plural: 'pods', kind: 'Pod' }

/** An API server answer other than success, reduced to its meaning (no request headers). */
export class KubeError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    options?: { cause?: unknown }
  ) {
    super(message, options)
    this.name = 'KubeError'
  }

  get notFound(): boolean {
    return this.code === 404
  }

  get conflict(): boolean {
    return this.code === 409 && this.reason !== 'AlreadyExists'
  }

  /** Worth another try: throttled, server-side trouble, or no answer at all. */
  get transient(): boolean {
    return this.reason === 'Unreachable' || this.code === 429 || this.code >= 500
  }
}

export interface RetryPolicy {
  /** Attempts in all, including the first. */
  attempts: number
  /** First backoff, doubled each retry up to maxDelayMs; each delay is jittered ±50%. */
  baseDelayMs: number
  maxDelayMs: number
  /** No retry starts after this much time since the first attempt. */
  budgetMs: number
  /** Conflicts (409) re-read and re-planned before a write gives up. */
  conflicts: number
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 6,
  baseDelayMs: 200,
  maxDelayMs: 3000,
  budgetMs: 30_000,
  conflicts: 25
}
/** Rollback must not give up easily: traffic is on a candidate that failed. */
export const ROLLBACK_RETRY: RetryPolicy = {
  attempts: 20,
  baseDelayMs: 250,
  maxDelayMs: 5000,
  budgetMs: 120_000,
  conflicts: 50
}

/**
 * The Kubernetes API as the action uses it: raw objects by resource type, a watch of one object,
 * access reviews and discovery. `Kube` (client-node, src/adapters/kube.ts) is the implementation;
 * the routers, the Lease store, preflight and the commands see only this. Failures are KubeError.
 */
export interface KubeApi {
  /** The object, or undefined when there is none. */
  get(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined>
  list(type: ResourceType, namespace: string, labelSelector?: string): Promise<KubeObject[]>
  create(type: ResourceType, namespace: string, body: KubeObject): Promise<KubeObject>
  /** PUT: fails with a conflict when body.metadata.resourceVersion is stale. */
  replace(
    type: ResourceType,
    namespace: string,
    body: KubeObject,
    policy?: RetryPolicy
  ): Promise<KubeObject>
  /** PATCH with a JSON Patch (array) or a merge patch (object). */
  patch(
    type: ResourceType,
    namespace: string,
    name: string,
    body: unknown,
    policy?: RetryPolicy
  ): Promise<KubeObject>
  /**
   * Resolves at the first change of one object after `resourceVersion`, or as soon as `signal`
   * aborts; rejects when it cannot watch (410: the version is too old to watch from).
   */
  nextChange(
    type: ResourceType,
    namespace: string,
    name: string,
    resourceVersion: string,
    signal: AbortSignal
  ): Promise<void>
  /** Whether the current user may do `verb` on `resource` in `namespace`. */
  canI(
    verb: string,
    group: string,
    resource: string,
    namespace: string
  ): Promise<{ allowed: boolean; reason?: string }>
  /** Versions the API server serves for an API group; [] when the group is absent. */
  servedVersions(group: string): Promise<string[]>
}

/**
 * The Deployments and Pods of the colors: the part of the Kubernetes API the engine uses. Tests
 * use an in-memory fake of these calls.
 */
export type WorkloadApi = Pick<
  KubeApi,
  'get' | 'list' | 'create' | 'replace' | 'patch' | 'nextChange'
>

/** One Kubernetes permission the action needs, with why: for preflight's access reviews and the README's Role. */
export interface Permission {
  /** API group; '' is the core group. */
  group: string
  resource: string
  verbs: readonly string[]
  why: string
}
