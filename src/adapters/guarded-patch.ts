/**
 * The guarded write every router adapter makes to its objects: read, plan a JSON Patch that
 * carries the version it was planned from, confirm the lock, send; on a conflict read again and
 * plan again, never force. Shared by the Istio and the Gateway API routers.
 */
import type { JsonPatchOp } from '../core/routes.js'
import { systemClock } from '../log.js'
import {
  backoff,
  DEFAULT_RETRY,
  type KubeApi,
  type KubeObject,
  KubeError,
  type ResourceType,
  type RetryPolicy
} from './kube.js'

/**
 * Annotation a person's rollback or abort writes with its weights: a change to the object even
 * when the weights are already in place, so it gets a new resourceVersion and a weight write the
 * run it took over planned from the version before can no longer land.
 */
export const FENCE_ANNOTATION = 'istio-bluegreen.io/taken-over-by'

/** Ops that set the fence annotation to `fence`; none when it already holds it. */
export function fenceOps(object: KubeObject, fence: string): JsonPatchOp[] {
  const annotations = object.metadata.annotations
  if (annotations?.[FENCE_ANNOTATION] === fence) return []
  if (!annotations) {
    return [{ op: 'add', path: '/metadata/annotations', value: { [FENCE_ANNOTATION]: fence } }]
  }
  const key = FENCE_ANNOTATION.replace(/~/g, '~0').replace(/\//g, '~1')
  return [{ op: 'add', path: `/metadata/annotations/${key}`, value: fence }]
}

export interface GuardedPatch {
  type: ResourceType
  namespace: string
  name: string
  /** Read the object as it is now; undefined when it is gone. */
  read: () => Promise<KubeObject | undefined>
  /** The ops for what was read, guarded by its resourceVersion; [] when nothing is to change. */
  plan: (current: KubeObject) => JsonPatchOp[]
  /** Retry policy of each request (ROLLBACK_RETRY for a rollback); default DEFAULT_RETRY. */
  retry?: RetryPolicy
  /** Called after each plan, just before the patch is sent (again on every conflict). */
  beforeWrite?: () => Promise<void>
  /** How the pause after a conflict is waited out (the run's clock); real time by default. */
  sleep?: (ms: number) => Promise<void>
}

/**
 * Read, plan and patch until the patch lands or nothing is left to change; a conflict (someone
 * wrote the object since the read) re-plans up to the policy's `conflicts` times. Returns the
 * object as written (or as read, when the plan was empty).
 */
export async function guardedPatch(kube: KubeApi, p: GuardedPatch): Promise<KubeObject> {
  const policy = p.retry ?? DEFAULT_RETRY
  for (let conflicts = 0; ; conflicts++) {
    const current = await p.read()
    if (!current)
      throw new Error(`${p.type.kind} ${p.name} disappeared from namespace ${p.namespace}`)
    const ops = p.plan(current)
    if (ops.length === 0) return current
    await p.beforeWrite?.()
    try {
      return await kube.patch(p.type, p.namespace, p.name, ops, p.retry)
    } catch (error) {
      // Something else wrote the object since we read it: read again and plan again, after a
      // short jittered pause so a storm of writers does not keep colliding in lockstep.
      if (error instanceof KubeError && error.conflict && conflicts < policy.conflicts) {
        const pause = backoff({ ...policy, maxDelayMs: 1000 }, Math.min(conflicts + 1, 4))
        await (p.sleep ?? systemClock.sleep)(pause)
        continue
      }
      throw error
    }
  }
}
