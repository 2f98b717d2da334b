/**
 * Istio's VirtualService and DestinationRule: reads, and the two writes the action makes (color
 * weights, color subsets). Each write is a JSON Patch guarded by resourceVersion; on a conflict
 * the object is read again and the patch planned again, never forced.
 */
import type { Color, ColorWeights } from '../core/color.js'
import {
  type JsonPatchOp,
  type RouteShape,
  type ServiceRef,
  type VirtualServiceSpec,
  routeColorWeights,
  selectRoutes,
  weightPatch
} from '../core/routes.js'
import { type DestinationRuleSpec, subsetPatch } from '../core/subsets.js'
import {
  backoff,
  DEFAULT_RETRY,
  type Kube,
  type KubeObject,
  KubeError,
  type ResourceType,
  type RetryPolicy
} from './kube.js'

export const ISTIO_GROUP = 'networking.istio.io'
/** Versions the action can use, preferred first; all serve the same stored objects. */
export const ISTIO_VERSIONS = ['v1', 'v1beta1', 'v1alpha3'] as const

export function virtualServices(version: string): ResourceType {
  return { group: ISTIO_GROUP, version, plural: 'virtualservices', kind: 'VirtualService' }
}

export function destinationRules(version: string): ResourceType {
  return { group: ISTIO_GROUP, version, plural: 'destinationrules', kind: 'DestinationRule' }
}

export interface WeightWrite {
  resourceVersion: string
  weights: ColorWeights
}

/**
 * Annotation a person's rollback or abort writes with its weights: a change to the object even
 * when the weights are already in place, so it gets a new resourceVersion and a weight write the
 * run it took over planned from the version before can no longer land.
 */
export const FENCE_ANNOTATION = 'istio-bluegreen.io/taken-over-by'

export interface WeightWriteOptions {
  retry?: RetryPolicy
  /**
   * Called after the VirtualService was read and the patch planned, just before the patch is
   * sent (again on every conflict): the engine confirms there that it still holds the lock. The
   * patch carries the version read before it, so it cannot land after a takeover that came later.
   */
  beforeWrite?: () => Promise<void>
  /** Also set FENCE_ANNOTATION to this value (the run that took the rollout over). */
  fence?: string
}

function fenceOps(vs: KubeObject, fence: string): JsonPatchOp[] {
  const annotations = vs.metadata.annotations
  if (annotations?.[FENCE_ANNOTATION] === fence) return []
  if (!annotations) {
    return [{ op: 'add', path: '/metadata/annotations', value: { [FENCE_ANNOTATION]: fence } }]
  }
  const key = FENCE_ANNOTATION.replace(/~/g, '~0').replace(/\//g, '~1')
  return [{ op: 'add', path: `/metadata/annotations/${key}`, value: fence }]
}

export class IstioTraffic {
  constructor(
    private readonly kube: Kube,
    private readonly service: ServiceRef,
    private readonly virtualService: string,
    private readonly destinationRule: string,
    private readonly version: string,
    private readonly routeNames: readonly string[]
  ) {}

  readVirtualService(): Promise<KubeObject | undefined> {
    return this.kube.get(virtualServices(this.version), this.service.namespace, this.virtualService)
  }

  readDestinationRule(): Promise<KubeObject | undefined> {
    return this.kube.get(
      destinationRules(this.version),
      this.service.namespace,
      this.destinationRule
    )
  }

  /** The selected routes of a VirtualService, or an error message. */
  routesOf(vs: KubeObject): RouteShape[] | string {
    const selected = selectRoutes(
      (vs.spec ?? {}) as VirtualServiceSpec,
      this.service,
      this.routeNames
    )
    return 'error' in selected
      ? `VirtualService ${this.virtualService}: ${selected.error}`
      : selected.routes
  }

  /** Color weights per selected route; a route not adopted yet counts as `bareColor`. */
  weightsOf(vs: KubeObject, bareColor: Color): ColorWeights[] | string {
    const routes = this.routesOf(vs)
    if (typeof routes === 'string') return routes
    const http = ((vs.spec ?? {}) as VirtualServiceSpec).http ?? []
    return routes.map((r) => routeColorWeights(http[r.index] ?? {}, r, bareColor))
  }

  /** Give the candidate `percent` of the service's traffic on every selected route, in one write. */
  async setWeights(
    candidate: Color,
    percent: number,
    options: WeightWriteOptions = {}
  ): Promise<WeightWrite> {
    return this.patchWithRetry(
      () => this.readVirtualService(),
      (vs) => {
        const routes = this.routesOf(vs)
        if (typeof routes === 'string') throw new Error(routes)
        return [
          ...weightPatch(
            (vs.spec ?? {}) as VirtualServiceSpec,
            vs.metadata.resourceVersion ?? '',
            routes,
            candidate,
            percent
          ),
          ...(options.fence ? fenceOps(vs, options.fence) : [])
        ]
      },
      virtualServices(this.version),
      this.virtualService,
      options.retry,
      options.beforeWrite
    ).then((vs) => {
      const weights = this.weightsOf(vs, candidate === 'blue' ? 'green' : 'blue')
      if (typeof weights === 'string') throw new Error(weights)
      return {
        resourceVersion: vs.metadata.resourceVersion ?? '',
        weights: weights[0] as ColorWeights
      }
    })
  }

  /** Add the color subsets the DestinationRule lacks. Returns whether it wrote. */
  async ensureSubsets(colorLabel: string): Promise<boolean> {
    let wrote = false
    await this.patchWithRetry(
      () => this.readDestinationRule(),
      (dr) => {
        const plan = subsetPatch(
          (dr.spec ?? {}) as DestinationRuleSpec,
          dr.metadata.resourceVersion ?? '',
          this.service,
          colorLabel,
          this.destinationRule
        )
        if ('error' in plan) throw new Error(plan.error)
        wrote = plan.ops.length > 0
        return plan.ops
      },
      destinationRules(this.version),
      this.destinationRule
    )
    return wrote
  }

  private async patchWithRetry(
    read: () => Promise<KubeObject | undefined>,
    plan: (current: KubeObject) => JsonPatchOp[],
    type: ResourceType,
    name: string,
    retry?: RetryPolicy,
    beforeWrite?: () => Promise<void>
  ): Promise<KubeObject> {
    const policy = retry ?? DEFAULT_RETRY
    for (let conflicts = 0; ; conflicts++) {
      const current = await read()
      if (!current)
        throw new Error(`${type.kind} ${name} disappeared from namespace ${this.service.namespace}`)
      const ops = plan(current)
      if (ops.length === 0) return current
      await beforeWrite?.()
      try {
        return await this.kube.patch(type, this.service.namespace, name, ops, retry)
      } catch (error) {
        // Something else wrote the object since we read it: read again and plan again, after a
        // short jittered pause so a storm of writers does not keep colliding in lockstep.
        if (error instanceof KubeError && error.conflict && conflicts < policy.conflicts) {
          await new Promise((r) =>
            setTimeout(r, backoff({ ...policy, maxDelayMs: 1000 }, Math.min(conflicts + 1, 4)))
          )
          continue
        }
        throw error
      }
    }
  }
}
