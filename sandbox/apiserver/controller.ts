/**
 * Deployment controller simulator: after a delay it reconciles each Deployment's pods with its
 * spec (one pod set per template, like ReplicaSets), lets pods become ready per their images'
 * behaviours, and writes the Deployment's status through the store's status path, as
 * kube-controller-manager and the kubelet would. Rollouts surge the whole new pod set and remove
 * old pods once every new pod is ready (Recreate removes them at once and waits until they are
 * gone), so a broken image leaves the old pods serving and the Deployment stuck until its
 * progress deadline. Pods are deleted gracefully: Terminating (not ready, not counted) for their
 * grace period, times `terminationGraceScale`, then gone, as the kubelet removes them.
 */
import type { BehaviourRegistry, KubeObject } from '../types.js'
import { clone, deepEqual, isObject, kubeTime, type JsonObject } from './json.js'
import { recordManagedFields } from './managed-fields.js'
import {
  buildPod,
  containerImages,
  deletesAtOnce,
  isPodReady,
  isTerminating,
  markTerminating,
  podGraceSeconds,
  podStatus,
  podTemplateHash,
  wantsAmbient,
  wantsSidecar
} from './pods.js'
import { labelSelectorRequirements, matchesLabels } from './selectors.js'
import type { MemoryStore } from './store.js'

/**
 * The controller's sense of time: real timers by default; a virtual clock in in-process tests,
 * where the status moves, pods become ready and Terminating pods go as virtual time passes.
 */
export interface ControllerTimers {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

const REAL_TIMERS: ControllerTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>)
}

export interface ControllerOptions {
  store: MemoryStore
  behaviours: BehaviourRegistry
  /** Delay before reacting to a Deployment change, in milliseconds. */
  delayMs: number
  /**
   * How much of a Terminating pod's grace period passes before the kubelet stand-in removes it:
   * 1 is real time (30 s by default), 0.01 makes that 300 ms, 0 removes it at the next tick.
   */
  terminationGraceScale?: number
  /** Default: the real clock and timers. */
  timers?: ControllerTimers
}

export interface DeploymentController {
  stop(): void
}

const MANAGER = 'kube-controller-manager'
const REVISION = 'deployment.kubernetes.io/revision'

function deployKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`
}

/** maxUnavailable resolved against replicas (percentages round down, as kube does). */
function maxUnavailable(spec: JsonObject, replicas: number): number {
  const strategy = isObject(spec.strategy) ? spec.strategy : {}
  if (strategy.type === 'Recreate') return replicas
  const ru = isObject(strategy.rollingUpdate) ? strategy.rollingUpdate : {}
  const v = ru.maxUnavailable ?? '25%'
  if (typeof v === 'number') return Math.min(v, replicas)
  const pct = /^(\d+)%$/.exec(String(v))
  return pct ? Math.floor((replicas * Number(pct[1])) / 100) : 0
}

export function startDeploymentController(options: ControllerOptions): DeploymentController {
  const { store, behaviours, delayMs } = options
  const graceScale = options.terminationGraceScale ?? 1
  const clock = options.timers ?? REAL_TIMERS
  const timers = new Set<unknown>()
  const pending = new Map<string, unknown>()
  const seenGeneration = new Map<string, number>()
  const revisions = new Map<string, { hash: string; revision: number }>()
  const readyAt = new Map<string, number | undefined>()
  const deleting = new Set<string>()
  /** Terminating pods the kubelet stand-in will remove, and when. */
  const removals = new Map<string, { at: number; timer: unknown }>()
  let nextIP = 2
  let stopped = false

  const later = (ms: number, fn: () => void): void => {
    if (stopped) return
    const t = clock.setTimeout(() => {
      timers.delete(t)
      if (!stopped) fn()
    }, ms)
    timers.add(t)
  }

  const schedule = (key: string, ms: number): void => {
    if (stopped || pending.has(key)) return
    const t = clock.setTimeout(() => {
      pending.delete(key)
      if (!stopped) reconcile(key)
    }, ms)
    pending.set(key, t)
  }

  const podKey = (pod: KubeObject): string => deployKey(pod.metadata.namespace, pod.metadata.name)

  const ownerOf = (pod: KubeObject): string | undefined => {
    const ref = pod.metadata.ownerReferences?.[0]
    const hash = pod.metadata.labels?.['pod-template-hash']
    if (!ref || ref.kind !== 'ReplicaSet' || !hash) return undefined
    const rs = String(ref.name)
    return rs.endsWith(`-${hash}`)
      ? deployKey(pod.metadata.namespace, rs.slice(0, -hash.length - 1))
      : undefined
  }

  const ownedPods = (d: KubeObject): KubeObject[] => {
    const reqs = labelSelectorRequirements(d.spec?.selector)
    const key = deployKey(d.metadata.namespace, d.metadata.name)
    return store
      .list('pods', d.metadata.namespace)
      .filter(
        (p) => ownerOf(p) === key && reqs !== undefined && matchesLabels(p.metadata.labels, reqs)
      )
  }

  /** Owned pods that are not Terminating: what ReplicaSets count (FilterActivePods). */
  const activePods = (d: KubeObject): KubeObject[] => ownedPods(d).filter((p) => !isTerminating(p))

  /** The kubelet stand-in: a Terminating pod goes once its (scaled) grace period is over. */
  const scheduleRemoval = (pod: KubeObject): void => {
    if (stopped || !isTerminating(pod)) return
    const key = podKey(pod)
    const grace = Number(pod.metadata.deletionGracePeriodSeconds ?? 0)
    const at = clock.now() + Math.max(0, grace * 1000 * graceScale)
    const planned = removals.get(key)
    if (planned && planned.at <= at) return
    if (planned) clock.clearTimeout(planned.timer)
    const uid = pod.metadata.uid
    const timer = clock.setTimeout(() => {
      removals.delete(key)
      if (stopped) return
      const fresh = store.get('pods', pod.metadata.namespace, pod.metadata.name)
      if (fresh && fresh.metadata.uid === uid)
        store.delete('pods', fresh.metadata.namespace, fresh.metadata.name)
    }, at - clock.now())
    removals.set(key, { at, timer })
  }

  const behaviourOf = (image: string) => behaviours.get(image)

  /** When a pod's containers pass readiness, or undefined while an image is broken. */
  const computeReadyAt = (pod: KubeObject, from: number): number | undefined => {
    const images = containerImages(pod)
    if (!images.every((c) => behaviourOf(c.image).ready)) return undefined
    return from + behaviourOf(images[0]?.image ?? '').startupMs
  }

  const refreshPod = (pod: KubeObject): void => {
    // A Terminating pod's readiness stays as its deletion left it (not ready).
    if (isTerminating(pod)) return
    const key = podKey(pod)
    const now = clock.now()
    const at = readyAt.get(key)
    const status = podStatus(pod, behaviourOf, at, now)
    if (at !== undefined && at > now) {
      later(at - now + 1, () => {
        const fresh = store.get('pods', pod.metadata.namespace, pod.metadata.name)
        if (fresh) refreshPod(fresh)
      })
    }
    if (deepEqual(status, pod.status)) return
    const next = clone(pod)
    next.status = status
    recordManagedFields(pod, next, {
      manager: 'kubelet',
      operation: 'Update',
      apiVersion: 'v1',
      subresource: 'status',
      time: new Date(clock.now())
    })
    store.replace('pods', next, { statusOnly: true })
    const owner = ownerOf(pod)
    if (owner) schedule(owner, 0)
  }

  const createPod = (d: KubeObject, template: JsonObject, hash: string): void => {
    const namespace = store.get('namespaces', undefined, d.metadata.namespace ?? '')
    const ip = `10.244.${Math.floor(nextIP / 250)}.${(nextIP++ % 250) + 1}`
    const pod = buildPod({
      deployment: d,
      template,
      hash,
      inject: wantsSidecar(namespace, template),
      ambient: wantsAmbient(namespace, template),
      podIP: ip
    })
    recordManagedFields(undefined, pod, {
      manager: MANAGER,
      operation: 'Update',
      apiVersion: 'v1',
      time: new Date(clock.now())
    })
    const stored = store.create('pods', pod)
    readyAt.set(podKey(stored), computeReadyAt(stored, clock.now()))
    refreshPod(stored)
  }

  /** Delete a pod as the ReplicaSet controller does: gracefully, with the pod's own grace. */
  const deletePod = (pod: KubeObject): void => {
    if (isTerminating(pod)) return
    const key = podKey(pod)
    const grace = podGraceSeconds(pod)
    deleting.add(key)
    try {
      if (deletesAtOnce(pod, grace)) store.delete('pods', pod.metadata.namespace, pod.metadata.name)
      else store.replace('pods', markTerminating(pod, grace, clock.now()))
    } finally {
      deleting.delete(key)
      readyAt.delete(key)
    }
  }

  const reconcile = (key: string): void => {
    const [namespace = '', name = ''] = key.split('/')
    const d = store.get('deployments', namespace, name)
    if (!d) return
    const spec = d.spec ?? {}
    const template = isObject(spec.template) ? spec.template : {}
    const hash = podTemplateHash(template)
    const desired = typeof spec.replicas === 'number' ? spec.replicas : 1
    const pods = activePods(d)
    const current = pods.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash)
    const old = pods.filter((p) => p.metadata.labels?.['pod-template-hash'] !== hash)

    const recreate = isObject(spec.strategy) && spec.strategy.type === 'Recreate'
    if (recreate) {
      for (const p of old.splice(0)) deletePod(p)
      // Recreate starts the new pods only once the old ones are gone, Terminating ones too.
      const oldLeft = ownedPods(d).some((p) => p.metadata.labels?.['pod-template-hash'] !== hash)
      if (oldLeft) {
        writeStatus(key, hash, desired)
        return
      }
    }
    for (let i = current.length; i < desired; i++) createPod(d, template, hash)
    if (current.length > desired) {
      const extra = [...current].sort((a, b) => Number(isPodReady(a)) - Number(isPodReady(b)))
      for (const p of extra.slice(0, current.length - desired)) deletePod(p)
    }
    const fresh = activePods(d)
    const updated = fresh.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash)
    if (
      old.length > 0 &&
      (desired === 0 || (updated.length >= desired && updated.every(isPodReady)))
    ) {
      for (const p of old) deletePod(p)
    }
    writeStatus(key, hash, desired)
  }

  const writeStatus = (key: string, hash: string, desired: number): void => {
    const [namespace = '', name = ''] = key.split('/')
    const d = store.get('deployments', namespace, name)
    if (!d) return
    const spec = d.spec ?? {}
    // Terminating pods count nowhere in the status (replicas, ready, available, updated).
    const pods = activePods(d)
    const updated = pods.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash)
    const ready = pods.filter(isPodReady).length
    const available = ready
    const rsName = `${name}-${hash}`
    const complete =
      updated.length === desired &&
      pods.length === desired &&
      updated.filter(isPodReady).length === desired
    const previous = d.status ?? {}
    const conditions = Array.isArray(previous.conditions)
      ? previous.conditions.filter(isObject)
      : []
    const prevProgressing = conditions.find((c) => c.type === 'Progressing')
    const now = kubeTime(new Date(clock.now()))
    const counts = {
      replicas: pods.length,
      updatedReplicas: updated.length,
      readyReplicas: ready,
      availableReplicas: available
    }
    const progressed =
      !deepEqual(counts, {
        replicas: previous.replicas ?? 0,
        updatedReplicas: previous.updatedReplicas ?? 0,
        readyReplicas: previous.readyReplicas ?? 0,
        availableReplicas: previous.availableReplicas ?? 0
      }) || d.metadata.generation !== previous.observedGeneration
    const lastProgress =
      !progressed && typeof prevProgressing?.lastUpdateTime === 'string'
        ? prevProgressing.lastUpdateTime
        : now
    const deadlineSeconds =
      typeof spec.progressDeadlineSeconds === 'number' ? spec.progressDeadlineSeconds : 600
    const deadlineAt = Date.parse(lastProgress) + deadlineSeconds * 1000
    const timedOut = !complete && clock.now() >= deadlineAt

    const cond = (
      type: string,
      ok: boolean,
      reason: string,
      message: string,
      updateTime: string
    ): JsonObject => {
      const prev = conditions.find((c) => c.type === type)
      const same = prev && prev.status === (ok ? 'True' : 'False')
      const sameReason = same && prev.reason === reason && prev.message === message
      return {
        type,
        status: ok ? 'True' : 'False',
        lastUpdateTime: sameReason && type === 'Available' ? prev.lastUpdateTime : updateTime,
        lastTransitionTime: same ? prev.lastTransitionTime : now,
        reason,
        message
      }
    }
    const minAvailable = desired - maxUnavailable(spec, desired)
    const availableCond =
      available >= minAvailable
        ? cond(
            'Available',
            true,
            'MinimumReplicasAvailable',
            'Deployment has minimum availability.',
            now
          )
        : cond(
            'Available',
            false,
            'MinimumReplicasUnavailable',
            'Deployment does not have minimum availability.',
            now
          )
    const progressingCond = complete
      ? cond(
          'Progressing',
          true,
          'NewReplicaSetAvailable',
          `ReplicaSet "${rsName}" has successfully progressed.`,
          lastProgress
        )
      : timedOut
        ? cond(
            'Progressing',
            false,
            'ProgressDeadlineExceeded',
            `ReplicaSet "${rsName}" has timed out progressing.`,
            lastProgress
          )
        : cond(
            'Progressing',
            true,
            'ReplicaSetUpdated',
            `ReplicaSet "${rsName}" is progressing.`,
            lastProgress
          )

    const status: JsonObject = { observedGeneration: d.metadata.generation }
    // DeploymentStatus fields are omitempty: zero counts are absent, as on a real cluster.
    for (const [k, v] of Object.entries(counts)) if (v > 0) status[k] = v
    const unavailable = Math.max(0, Math.max(desired, pods.length) - available)
    if (unavailable > 0) status.unavailableReplicas = unavailable
    status.conditions = [availableCond, progressingCond]

    const rev = revisions.get(key)
    const revision = !rev ? 1 : rev.hash === hash ? rev.revision : rev.revision + 1
    revisions.set(key, { hash, revision })

    const next = clone(d)
    next.status = status
    next.metadata.annotations = { ...next.metadata.annotations, [REVISION]: String(revision) }
    if (sameIgnoringTimes(next, d)) return
    recordManagedFields(d, next, {
      manager: MANAGER,
      operation: 'Update',
      apiVersion: 'apps/v1',
      subresource: 'status',
      time: new Date(clock.now())
    })
    store.replace('deployments', next, { statusOnly: true })
    if (!complete && !timedOut)
      later(Math.max(0, deadlineAt - clock.now()) + 5, () => schedule(key, 0))
  }

  const unsubscribeStore = store.onChange((event) => {
    const obj = event.object
    if (event.resource === 'deployments') {
      const key = deployKey(obj.metadata.namespace, obj.metadata.name)
      if (event.type === 'DELETED') {
        seenGeneration.delete(key)
        revisions.delete(key)
        // The garbage collector removes the pods of a deleted Deployment in the background.
        later(delayMs, () => {
          for (const p of store.list('pods', obj.metadata.namespace))
            if (ownerOf(p) === key) deletePod(p)
        })
        return
      }
      const generation = obj.metadata.generation ?? 0
      if (seenGeneration.get(key) === generation) return
      seenGeneration.set(key, generation)
      schedule(key, delayMs)
    } else if (event.resource === 'pods') {
      const key = podKey(obj)
      const owner = ownerOf(obj)
      if (event.type === 'DELETED') {
        readyAt.delete(key)
        const planned = removals.get(key)
        if (planned) clock.clearTimeout(planned.timer)
        removals.delete(key)
        if (owner && !deleting.has(key)) schedule(owner, delayMs)
      } else if (isTerminating(obj)) {
        // Deleted through the API: the kubelet stops it, the ReplicaSet replaces it at once.
        const fresh = !removals.has(key)
        scheduleRemoval(obj)
        if (fresh && owner && !deleting.has(key)) schedule(owner, delayMs)
      }
    }
  })

  const unsubscribeBehaviours = behaviours.onChange((image) => {
    const now = clock.now()
    for (const pod of store.list('pods')) {
      if (!containerImages(pod).some((c) => c.image === image)) continue
      const key = podKey(pod)
      if (!readyAt.has(key) && !ownerOf(pod)) continue
      const next = computeReadyAt(pod, now)
      const at = readyAt.get(key)
      if (next === undefined) readyAt.set(key, undefined)
      else if (at === undefined) readyAt.set(key, next)
      refreshPod(pod)
    }
  })

  return {
    stop(): void {
      stopped = true
      unsubscribeStore()
      unsubscribeBehaviours()
      for (const t of timers) clock.clearTimeout(t)
      for (const t of pending.values()) clock.clearTimeout(t)
      for (const r of removals.values()) clock.clearTimeout(r.timer)
      removals.clear()
      timers.clear()
      pending.clear()
    }
  }
}

/** Equal apart from condition timestamps, so a resync without news writes nothing. */
function sameIgnoringTimes(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject): unknown => {
    const c = clone(o)
    const conditions = Array.isArray(c.status?.conditions) ? c.status.conditions : []
    for (const cond of conditions) {
      if (isObject(cond)) {
        delete cond.lastUpdateTime
        delete cond.lastTransitionTime
      }
    }
    return c
  }
  return deepEqual(strip(a), strip(b))
}
