/**
 * Contracts shared by the sandbox's parts: the API server's object store, the
 * per-image behaviour registry (read by the deployment controller and the mesh
 * simulator, written by the control API), and API server faults.
 */

/** A Kubernetes object as stored: plain JSON. */
export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: {
    name: string
    namespace?: string
    uid?: string
    resourceVersion?: string
    generation?: number
    creationTimestamp?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    ownerReferences?: Array<Record<string, unknown>>
    managedFields?: Array<Record<string, unknown>>
    [key: string]: unknown
  }
  spec?: Record<string, unknown>
  status?: Record<string, unknown>
  [key: string]: unknown
}

/** Plural resource names the sandbox serves. */
export type ResourceName =
  | 'namespaces'
  | 'services'
  | 'pods'
  | 'deployments'
  | 'leases'
  | 'virtualservices'
  | 'destinationrules'
  | 'httproutes'

export interface StoreEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED'
  resource: ResourceName
  object: KubeObject
}

/**
 * In-process view of the API server's storage. Reads return deep copies.
 * Writes through this interface are "internal" (controllers, seeding): they
 * bypass auth and faults but still bump resourceVersion/generation and emit events.
 */
export interface ObjectStore {
  get(resource: ResourceName, namespace: string | undefined, name: string): KubeObject | undefined
  list(resource: ResourceName, namespace?: string): KubeObject[]
  /** Create; throws if it exists. Returns the stored copy. */
  create(resource: ResourceName, object: KubeObject): KubeObject
  /** Replace whole object (ignores resourceVersion in the argument). Returns the stored copy. */
  replace(resource: ResourceName, object: KubeObject): KubeObject
  delete(resource: ResourceName, namespace: string | undefined, name: string): void
  /** Subscribe to changes; returns an unsubscribe function. */
  onChange(listener: (event: StoreEvent) => void): () => void
}

/** How pods running one image behave. */
export interface ImageBehaviour {
  /** Share of requests answered 5xx (0..1). */
  errorRate: number
  /** 99th percentile latency in milliseconds. */
  p99Ms: number
  /** Whether pods become ready. */
  ready: boolean
  /** Why a pod is not ready (container waiting reason), when ready is false. */
  notReadyReason: string
  /** Delay before a new pod becomes ready, in milliseconds. */
  startupMs: number
  /**
   * The application's own gauges, by name, exported per workload running the image as
   * `sandbox_app_gauge{gauge, namespace, workload}`: what a user's custom metric reads.
   */
  gauges?: Readonly<Record<string, number>>
}

export const DEFAULT_BEHAVIOUR: ImageBehaviour = Object.freeze({
  errorRate: 0.001,
  p99Ms: 50,
  ready: true,
  notReadyReason: 'CrashLoopBackOff',
  startupMs: 500
})

/** Per-image behaviours; unknown images get DEFAULT_BEHAVIOUR. */
export class BehaviourRegistry {
  private readonly byImage = new Map<string, ImageBehaviour>()
  private readonly listeners = new Set<(image: string) => void>()

  get(image: string): ImageBehaviour {
    return this.byImage.get(image) ?? DEFAULT_BEHAVIOUR
  }

  set(image: string, patch: Partial<ImageBehaviour>): ImageBehaviour {
    const next = { ...this.get(image), ...patch }
    this.byImage.set(image, next)
    for (const l of this.listeners) l(image)
    return next
  }

  all(): Record<string, ImageBehaviour> {
    return Object.fromEntries(this.byImage)
  }

  onChange(listener: (image: string) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

/** API server faults, set through the control API (`POST /faults`). */
export interface FaultRule {
  /** Added latency per request, milliseconds. */
  latencyMs?: number
  /** Share (0..1) of matching requests answered 500/503 with a Status body. */
  errorRate?: number
  /** Share (0..1) of matching write requests answered 409 Conflict. */
  conflictRate?: number
  /** Share (0..1) of matching requests whose connection is destroyed without an answer. */
  dropRate?: number
  /** Only these verbs (get, list, create, update, patch, delete); all when absent. */
  verbs?: string[]
  /** Only these resources (plural, e.g. virtualservices); all when absent. */
  resources?: string[]
}

/**
 * A rule of an RBAC Role, as in rbac.authorization.k8s.io/v1: `resources` may name a subresource
 * (`deployments/scale`); `*` matches anything.
 */
export interface RoleRule {
  apiGroups: string[]
  resources: string[]
  verbs: string[]
}

/** RBAC denial: requests (and SelfSubjectAccessReviews) matching it get 403 Forbidden. */
export interface DenyRule {
  verb: string
  resource: string
  namespace?: string
}
