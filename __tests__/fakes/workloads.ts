/**
 * An in-memory WorkloadApi: Deployments that are available as soon as they are written (their
 * pods in the mesh), and their pods. Any other kind throws: a test must not rely on the fake
 * quietly answering for something it does not model.
 */
import {
  DEPLOYMENTS,
  KubeError,
  type KubeObject,
  PODS,
  type ResourceType
} from '../../src/adapters/kube.js'
import type { WorkloadApi } from '../../src/ports.js'

function unknownKind(type: ResourceType): never {
  throw new Error(`the fake workloads hold Deployments and Pods only, not ${type.kind}`)
}

export class FakeWorkloads implements WorkloadApi {
  readonly deployments = new Map<string, KubeObject>()
  private version = 1
  private readonly churn = new Map<string, number>()
  /** Every replace sent, by Deployment name, whether it landed or not. */
  readonly replaces: string[] = []
  /** Who waits for the next write of a Deployment (nextChange), by name. */
  private readonly waiting = new Map<string, Array<() => void>>()

  constructor(seed: KubeObject[] = []) {
    for (const d of seed) this.put(d)
  }

  private put(d: KubeObject): KubeObject {
    const replicas = (d.spec?.replicas as number | undefined) ?? 1
    const generation = (d.metadata.generation ?? 0) + 1
    const stored: KubeObject = {
      ...structuredClone(d),
      metadata: { ...d.metadata, generation, resourceVersion: String(++this.version) },
      status: {
        observedGeneration: generation,
        replicas,
        readyReplicas: replicas,
        availableReplicas: replicas,
        updatedReplicas: replicas
      }
    }
    this.deployments.set(d.metadata.name, stored)
    for (const wake of this.waiting.get(d.metadata.name)?.splice(0) ?? []) wake()
    return structuredClone(stored)
  }

  /**
   * The next `times` replaces of `name` find that a controller updated its status since it was
   * read (its resourceVersion moved on), as kube's Deployment controller does after a scale.
   */
  statusChurn(name: string, times: number): void {
    this.churn.set(name, times)
  }

  replicas(name: string): number | undefined {
    return this.deployments.get(name)?.spec?.replicas as number | undefined
  }

  async get(type: ResourceType, _ns: string, name: string): Promise<KubeObject | undefined> {
    if (type.plural !== DEPLOYMENTS.plural) unknownKind(type)
    const d = this.deployments.get(name)
    return d ? structuredClone(d) : undefined
  }

  async list(type: ResourceType, _ns: string, selector?: string): Promise<KubeObject[]> {
    if (type.plural === DEPLOYMENTS.plural)
      return [...this.deployments.values()].map((d) => structuredClone(d))
    if (type.plural !== PODS.plural) unknownKind(type)
    const want = Object.fromEntries((selector ?? '').split(',').map((kv) => kv.split('=')))
    return [...this.deployments.values()].flatMap((d) => {
      const labels = ((d.spec?.template as { metadata?: { labels?: Record<string, string> } })
        ?.metadata?.labels ?? {}) as Record<string, string>
      if (!Object.entries(want).every(([k, v]) => labels[k] === v)) return []
      const n = (d.spec?.replicas as number | undefined) ?? 1
      return Array.from({ length: n }, (_, i) => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${d.metadata.name}-${i}`, labels },
        spec: { containers: [{ name: 'app' }, { name: 'istio-proxy' }] },
        status: { phase: 'Running' }
      }))
    })
  }

  /** Resolves at the next write of Deployment `name`, or when `signal` aborts. */
  nextChange(
    type: ResourceType,
    _ns: string,
    name: string,
    _resourceVersion: string,
    signal: AbortSignal
  ): Promise<void> {
    if (type.plural !== DEPLOYMENTS.plural) unknownKind(type)
    return new Promise((resolve) => {
      if (signal.aborted) return resolve()
      signal.addEventListener('abort', () => resolve(), { once: true })
      const list = this.waiting.get(name) ?? []
      list.push(resolve)
      this.waiting.set(name, list)
    })
  }

  async create(type: ResourceType, _ns: string, body: KubeObject): Promise<KubeObject> {
    if (type.plural !== DEPLOYMENTS.plural) unknownKind(type)
    if (this.deployments.has(body.metadata.name)) {
      throw new Error(`Deployment ${body.metadata.name} already exists`)
    }
    return this.put(body)
  }

  async replace(type: ResourceType, _ns: string, body: KubeObject): Promise<KubeObject> {
    if (type.plural !== DEPLOYMENTS.plural) unknownKind(type)
    const name = body.metadata.name
    this.replaces.push(name)
    const current = this.deployments.get(name)
    if (!current) throw new Error(`Deployment ${name} not found`)
    const churn = this.churn.get(name) ?? 0
    if (churn > 0) {
      this.churn.set(name, churn - 1)
      current.metadata.resourceVersion = String(++this.version)
    }
    if (body.metadata.resourceVersion !== current.metadata.resourceVersion) {
      throw new KubeError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on deployments.apps "${name}": the object has been modified`
      )
    }
    return this.put({
      ...body,
      metadata: { ...body.metadata, generation: current.metadata.generation }
    })
  }

  async patch(type: ResourceType, _ns: string, name: string, body: unknown): Promise<KubeObject> {
    if (type.plural !== DEPLOYMENTS.plural) unknownKind(type)
    const current = this.deployments.get(name)
    if (!current) throw new Error(`Deployment ${name} not found`)
    const spec = (body as { spec?: Record<string, unknown> }).spec ?? {}
    return this.put({ ...current, spec: { ...current.spec, ...spec } })
  }
}
