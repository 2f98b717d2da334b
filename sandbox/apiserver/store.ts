/**
 * The sandbox's etcd: objects by resource and key, one global resourceVersion counter bumped on
 * every write, generation moved by each resource's strategy, and change events for watches and
 * controllers. Built-in defaults are applied here too, so objects seeded in-process look like
 * objects created through the API.
 */
import { randomUUID } from 'node:crypto'
import type { KubeObject, ObjectStore, ResourceName, StoreEvent } from '../types.js'
import { applyDefaults } from './builtins.js'
import { clone, deepEqual, kubeTime, omit, semanticEqual } from './json.js'
import { RESOURCES, type GenerationPolicy } from './resources.js'

export type StoreErrorReason = 'NotFound' | 'AlreadyExists' | 'Conflict'

/** A store refusal; the HTTP layer turns it into the matching Status. */
export class StoreError extends Error {
  constructor(
    readonly reason: StoreErrorReason,
    readonly resource: ResourceName,
    readonly objectName: string,
    message?: string
  ) {
    super(message ?? `${resource} "${objectName}": ${reason}`)
    this.name = 'StoreError'
  }
}

export interface ReplaceOptions {
  /** Write only if the stored resourceVersion is this one (Conflict otherwise). */
  expectedResourceVersion?: string
  /** A write through the status subresource: generation never moves. */
  statusOnly?: boolean
}

export interface DeleteOptions {
  expectedResourceVersion?: string
  expectedUid?: string
}

export interface HistoryEvent extends StoreEvent {
  resourceVersion: number
}

/** How many past events a watch can resume from before it gets 410 Gone. */
const HISTORY_LIMIT = 2000

export class MemoryStore implements ObjectStore {
  private counter: number
  private readonly data = new Map<ResourceName, Map<string, KubeObject>>()
  private readonly listeners = new Set<(event: StoreEvent) => void>()
  private readonly events: HistoryEvent[] = []

  /**
   * @param now The clock of creation timestamps and of every time the API server writes (managed
   *   fields, deletion timestamps): the wall clock by default, virtual time in in-process tests.
   */
  constructor(
    firstResourceVersion = 1000,
    readonly now: () => number = Date.now
  ) {
    this.counter = firstResourceVersion
  }

  /** The latest resourceVersion handed out (what a list answers). */
  resourceVersion(): string {
    return String(this.counter)
  }

  get(resource: ResourceName, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.table(resource).get(key(resource, namespace, name))
    return found && clone(found)
  }

  /** Objects sorted by namespace then name (etcd key order); all namespaces when absent. */
  list(resource: ResourceName, namespace?: string): KubeObject[] {
    const out: KubeObject[] = []
    const keys = [...this.table(resource).keys()].sort()
    for (const k of keys) {
      const obj = this.table(resource).get(k)
      if (!obj) continue
      if (namespace !== undefined && obj.metadata.namespace !== namespace) continue
      out.push(clone(obj))
    }
    return out
  }

  create(resource: ResourceName, object: KubeObject): KubeObject {
    const obj = clone(object)
    const { namespaced } = RESOURCES[resource]
    if (!namespaced) delete obj.metadata.namespace
    const k = key(resource, obj.metadata.namespace, obj.metadata.name)
    if (this.table(resource).has(k))
      throw new StoreError('AlreadyExists', resource, obj.metadata.name)
    applyDefaults(resource, obj)
    obj.metadata.uid = randomUUID()
    obj.metadata.creationTimestamp = kubeTime(new Date(this.now()))
    obj.metadata.resourceVersion = this.next()
    if (RESOURCES[resource].generation === 'none') delete obj.metadata.generation
    else obj.metadata.generation = 1
    this.table(resource).set(k, obj)
    this.emit('ADDED', resource, obj)
    return clone(obj)
  }

  replace(resource: ResourceName, object: KubeObject, options: ReplaceOptions = {}): KubeObject {
    const obj = clone(object)
    if (!RESOURCES[resource].namespaced) delete obj.metadata.namespace
    const k = key(resource, obj.metadata.namespace, obj.metadata.name)
    const old = this.table(resource).get(k)
    if (!old) throw new StoreError('NotFound', resource, obj.metadata.name)
    if (
      options.expectedResourceVersion !== undefined &&
      options.expectedResourceVersion !== old.metadata.resourceVersion
    ) {
      throw new StoreError('Conflict', resource, obj.metadata.name)
    }
    if (!options.statusOnly) applyDefaults(resource, obj, old)
    obj.metadata.uid = old.metadata.uid
    obj.metadata.creationTimestamp = old.metadata.creationTimestamp
    obj.metadata.resourceVersion = old.metadata.resourceVersion
    const policy = RESOURCES[resource].generation
    if (policy === 'none') delete obj.metadata.generation
    else {
      const moved = !options.statusOnly && generationMoves(policy, old, obj)
      obj.metadata.generation = (old.metadata.generation ?? 1) + (moved ? 1 : 0)
    }
    // etcd3's GuaranteedUpdate skips writes whose bytes did not change: no new resourceVersion.
    if (deepEqual(obj, old)) return clone(old)
    obj.metadata.resourceVersion = this.next()
    this.table(resource).set(k, obj)
    this.emit('MODIFIED', resource, obj)
    return clone(obj)
  }

  delete(
    resource: ResourceName,
    namespace: string | undefined,
    name: string,
    options: DeleteOptions = {}
  ): KubeObject {
    const k = key(resource, namespace, name)
    const old = this.table(resource).get(k)
    if (!old) throw new StoreError('NotFound', resource, name)
    if (options.expectedUid !== undefined && options.expectedUid !== old.metadata.uid) {
      throw new StoreError(
        'Conflict',
        resource,
        name,
        `Precondition failed: UID in precondition: ${options.expectedUid}, UID in object meta: ${old.metadata.uid ?? ''}`
      )
    }
    if (
      options.expectedResourceVersion !== undefined &&
      options.expectedResourceVersion !== old.metadata.resourceVersion
    ) {
      throw new StoreError(
        'Conflict',
        resource,
        name,
        `Precondition failed: ResourceVersion in precondition: ${options.expectedResourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion ?? ''}`
      )
    }
    // The namespace controller empties a namespace before it goes; the sandbox does it at once.
    if (resource === 'namespaces') this.emptyNamespace(name)
    this.table(resource).delete(k)
    const gone = clone(old)
    gone.metadata.resourceVersion = this.next()
    this.emit('DELETED', resource, gone)
    return clone(gone)
  }

  onChange(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * Events after `resourceVersion`, for a watch that resumes; undefined when that point is older
   * than the history kept (the watch must then answer 410 Gone).
   */
  eventsSince(resourceVersion: number): HistoryEvent[] | undefined {
    const oldest = this.events[0]
    if (oldest && resourceVersion < oldest.resourceVersion - 1) return undefined
    return this.events.filter((e) => e.resourceVersion > resourceVersion).map((e) => clone(e))
  }

  private emptyNamespace(namespace: string): void {
    for (const [resource, info] of Object.entries(RESOURCES)) {
      if (!info.namespaced) continue
      for (const obj of this.list(resource as ResourceName, namespace)) {
        this.delete(resource as ResourceName, namespace, obj.metadata.name)
      }
    }
  }

  private table(resource: ResourceName): Map<string, KubeObject> {
    let t = this.data.get(resource)
    if (!t) {
      t = new Map()
      this.data.set(resource, t)
    }
    return t
  }

  private next(): string {
    this.counter += 1
    return String(this.counter)
  }

  private emit(type: StoreEvent['type'], resource: ResourceName, object: KubeObject): void {
    const event: HistoryEvent = {
      type,
      resource,
      object: clone(object),
      resourceVersion: Number(object.metadata.resourceVersion)
    }
    this.events.push(event)
    if (this.events.length > HISTORY_LIMIT) this.events.shift()
    for (const listener of [...this.listeners]) listener({ type, resource, object: clone(object) })
  }
}

function key(resource: ResourceName, namespace: string | undefined, name: string): string {
  return RESOURCES[resource].namespaced ? `${namespace ?? ''}/${name}` : name
}

function generationMoves(policy: GenerationPolicy, old: KubeObject, next: KubeObject): boolean {
  if (policy === 'spec-or-annotations') {
    return (
      !semanticEqual(old.spec, next.spec) ||
      !semanticEqual(old.metadata.annotations, next.metadata.annotations)
    )
  }
  if (policy === 'all-but-metadata-and-status') {
    return !deepEqual(omit(old, 'metadata', 'status'), omit(next, 'metadata', 'status'))
  }
  return false
}
