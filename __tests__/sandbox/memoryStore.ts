/**
 * A minimal in-memory ObjectStore for tests of the sandbox parts that only read
 * the API server's storage (mesh simulator, seed, control API), so they run
 * without the API server and its controllers.
 */
import type { KubeObject, ObjectStore, ResourceName, StoreEvent } from '../../sandbox/types.js'

export class MemoryStore implements ObjectStore {
  private readonly objects = new Map<string, KubeObject>()
  private readonly listeners = new Set<(e: StoreEvent) => void>()
  private version = 0

  get(resource: ResourceName, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.objects.get(key(resource, namespace, name))
    return o ? structuredClone(o) : undefined
  }

  list(resource: ResourceName, namespace?: string): KubeObject[] {
    return [...this.objects.entries()]
      .filter(
        ([k, o]) =>
          k.startsWith(`${resource}/`) &&
          (namespace === undefined || o.metadata.namespace === namespace)
      )
      .map(([, o]) => structuredClone(o))
  }

  create(resource: ResourceName, object: KubeObject): KubeObject {
    const k = key(resource, object.metadata.namespace, object.metadata.name)
    if (this.objects.has(k)) throw new Error(`${k} already exists`)
    return this.write('ADDED', resource, k, object)
  }

  replace(resource: ResourceName, object: KubeObject): KubeObject {
    const k = key(resource, object.metadata.namespace, object.metadata.name)
    if (!this.objects.has(k)) throw new Error(`${k} not found`)
    return this.write('MODIFIED', resource, k, object)
  }

  /** Convenience for tests: create or replace. */
  apply(resource: ResourceName, object: KubeObject): KubeObject {
    const k = key(resource, object.metadata.namespace, object.metadata.name)
    return this.objects.has(k) ? this.replace(resource, object) : this.create(resource, object)
  }

  delete(resource: ResourceName, namespace: string | undefined, name: string): void {
    const k = key(resource, namespace, name)
    const o = this.objects.get(k)
    if (!o) throw new Error(`${k} not found`)
    this.objects.delete(k)
    this.emit({ type: 'DELETED', resource, object: structuredClone(o) })
  }

  onChange(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private write(
    type: 'ADDED' | 'MODIFIED',
    resource: ResourceName,
    k: string,
    object: KubeObject
  ): KubeObject {
    this.version += 1
    const stored = structuredClone(object)
    stored.metadata.resourceVersion = String(this.version)
    this.objects.set(k, stored)
    this.emit({ type, resource, object: structuredClone(stored) })
    return structuredClone(stored)
  }

  private emit(e: StoreEvent): void {
    for (const l of this.listeners) l(e)
  }
}

function key(resource: ResourceName, namespace: string | undefined, name: string): string {
  return `${resource}/${namespace ?? ''}/${name}`
}

/** A ready (or not) pod of a Deployment, shaped like the sandbox controller's. */
export function pod(
  deployment: string,
  index: number,
  o: {
    namespace?: string
    image: string
    labels: Record<string, string>
    ready?: boolean
    /** Injected istio-proxy (default true). */
    sidecar?: boolean
  }
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${deployment}-7d9f8c6b5-${String(index).padStart(5, 'x')}`,
      namespace: o.namespace ?? 'demo',
      labels: { ...o.labels, 'pod-template-hash': '7d9f8c6b5' },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${deployment}-7d9f8c6b5` }
      ]
    },
    spec: {
      containers: [
        { name: 'app', image: o.image },
        ...(o.sidecar === false
          ? []
          : [{ name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.24.0' }])
      ]
    },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }]
    }
  }
}
