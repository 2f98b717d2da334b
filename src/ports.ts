/**
 * The ports: the only shapes in which the engine and the commands see the outside world. Each has
 * a real implementation in src/adapters/ and an in-memory fake in __tests__/fakes/; the one place
 * that chooses the implementation is src/adapters/factory.ts.
 */
import type { Color, ColorWeights } from './core/color.js'
import type { RolloutRecord } from './core/record.js'
import type { TestHeader } from './core/test-route.js'
import type { RouteWeights, RouterObjectState } from './core/drift.js'
import type { KubeApi } from './adapters/kube.js'

export type { KubeApi } from './adapters/kube.js'

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
