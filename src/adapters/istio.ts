/**
 * The Istio router (TrafficRouter): one or more VirtualServices that get the same color weights,
 * and the DestinationRule that makes the colors addressable as subsets. Each write is a JSON
 * Patch guarded by that object's resourceVersion; on a conflict the object is read again and the
 * patch planned again, never forced.
 */
import type { Color, ColorWeights } from '../core/color.js'
import { lastOtherWriter, type ManagedFieldsEntry } from '../core/drift.js'
import type { IstioRouterConfig } from '../core/record.js'
import { isTestRouteName } from '../core/httproute.js'
import {
  type JsonPatchOp,
  type RouteShape,
  type ServiceRef,
  type VirtualServiceSpec,
  routeColorWeights,
  weightPatch
} from '../core/routes.js'
import { type DestinationRuleSpec, subsetPatch } from '../core/subsets.js'
import {
  addTestRoutePatch,
  removeTestRoutePatch,
  selectRoutesBesideTest,
  type TestHeader
} from '../core/test-route.js'
import type {
  RouteWeights,
  RouterInspection,
  RouterObjectState,
  TrafficRouter,
  WeightWrite,
  WeightWriteOptions,
  Permission
} from '../ports.js'
import { fenceOps, FENCE_ANNOTATION, guardedPatch } from './guarded-patch.js'
import { type Clock, systemClock } from '../log.js'
import {
  type KubeApi,
  type KubeObject,
  type ResourceType,
  ROLLBACK_RETRY,
  type RetryPolicy
} from './kube.js'

export const ISTIO_GROUP = 'networking.istio.io'
/** Versions the action can use, preferred first; all serve the same stored objects. */
export const ISTIO_VERSIONS = ['v1', 'v1beta1', 'v1alpha3'] as const

/**
 * The networking.istio.io version to use, preferring v1; an error saying what to do when the
 * cluster serves none.
 */
export async function istioVersion(kube: KubeApi): Promise<string> {
  const served = await kube.servedVersions(ISTIO_GROUP)
  const version = ISTIO_VERSIONS.find((v) => served.includes(v))
  if (!version) {
    throw new Error(
      `the cluster does not serve Istio's ${ISTIO_GROUP} API (VirtualService, DestinationRule); install Istio, or point kubeconfig/context at a cluster that has it`
    )
  }
  return version
}

export function virtualServices(version: string): ResourceType {
  return { group: ISTIO_GROUP, version, plural: 'virtualservices', kind: 'VirtualService' }
}

export function destinationRules(version: string): ResourceType {
  return { group: ISTIO_GROUP, version, plural: 'destinationrules', kind: 'DestinationRule' }
}

export { FENCE_ANNOTATION } from './guarded-patch.js'

/** What the Istio router needs in the service's namespace. */
export const ISTIO_PERMISSIONS: readonly Permission[] = [
  {
    group: ISTIO_GROUP,
    resource: 'virtualservices',
    verbs: ['get', 'patch'],
    why: 'shift route weights'
  },
  {
    group: ISTIO_GROUP,
    resource: 'destinationrules',
    verbs: ['get', 'patch'],
    why: 'add the color subsets'
  }
]

/** `VirtualService reviews`, `VirtualServices reviews, reviews-edge`. */
export function describeVirtualServices(names: readonly string[]): string {
  return `VirtualService${names.length > 1 ? 's' : ''} ${names.join(', ')}`
}

export class IstioRouter implements TrafficRouter {
  readonly description: string
  readonly objects: readonly string[]
  readonly permissions = ISTIO_PERMISSIONS

  constructor(
    private readonly kube: KubeApi,
    private readonly service: ServiceRef,
    private readonly config: IstioRouterConfig,
    /** The run's clock: the pause after a write conflict waits on it. */
    private readonly clock: Clock = systemClock
  ) {
    this.objects = [...config.objects]
    this.description = describeVirtualServices(config.objects)
  }

  private get namespace(): string {
    return this.service.namespace
  }

  private readVirtualService(name: string): Promise<KubeObject | undefined> {
    return this.kube.get(virtualServices(this.config.apiVersion), this.namespace, name)
  }

  private readDestinationRule(): Promise<KubeObject | undefined> {
    return this.kube.get(
      destinationRules(this.config.apiVersion),
      this.namespace,
      this.config.destinationRule
    )
  }

  /**
   * The selected routes of a VirtualService, or an error message naming it. The action's test
   * routes are never selected, and the indexes are those of `spec.http` as it is.
   */
  private routesOf(name: string, vs: KubeObject): RouteShape[] | string {
    const selected = selectRoutesBesideTest(
      (vs.spec ?? {}) as VirtualServiceSpec,
      this.service,
      this.config.routes
    )
    return 'error' in selected ? `VirtualService ${name}: ${selected.error}` : selected.routes
  }

  /** Color weights per selected route; a route not adopted yet counts as `bareColor`. */
  private weightsOf(name: string, vs: KubeObject, bareColor: Color): RouteWeights[] | string {
    const routes = this.routesOf(name, vs)
    if (typeof routes === 'string') return routes
    const http = ((vs.spec ?? {}) as VirtualServiceSpec).http ?? []
    return routes.map((r) => ({
      name: r.name,
      weights: routeColorWeights(http[r.index] ?? {}, r, bareColor)
    }))
  }

  private stateOf(name: string, vs: KubeObject | undefined, bareColor: Color): RouterObjectState {
    const what = `VirtualService ${name}`
    if (!vs) return { object: name, what, found: false }
    const routes = this.routesOf(name, vs)
    const weights = this.weightsOf(name, vs, bareColor)
    const writer = lastOtherWriter(vs.metadata.managedFields as ManagedFieldsEntry[] | undefined)
    const fence = vs.metadata.annotations?.[FENCE_ANNOTATION]
    return {
      object: name,
      what,
      found: true,
      resourceVersion: vs.metadata.resourceVersion ?? '',
      routes: typeof weights === 'string' ? { error: weights } : weights,
      bare: typeof routes !== 'string' && routes.some((r) => r.bare !== undefined),
      testRoute:
        ((vs.spec ?? {}) as VirtualServiceSpec).http?.some((r) => isTestRouteName(r.name)) ?? false,
      ...(writer ? { writer } : {}),
      ...(fence ? { fence } : {})
    }
  }

  async read(bareColor: Color): Promise<RouterObjectState[]> {
    const found = await Promise.all(this.objects.map((name) => this.readVirtualService(name)))
    return this.objects.map((name, i) => this.stateOf(name, found[i], bareColor))
  }

  /**
   * Every VirtualService in turn, each in its own guarded write. A failure between two writes
   * leaves the first ones ahead: the engine's rollback (and a later run's recovery) writes every
   * object again, so each ends on the same weights.
   */
  async setWeights(
    candidate: Color,
    percent: number,
    options: WeightWriteOptions = {}
  ): Promise<WeightWrite> {
    const versions: Record<string, string> = {}
    let weights: ColorWeights | undefined
    for (const name of this.objects) {
      const vs = await this.patchWithRetry(
        () => this.readVirtualService(name),
        (current) => {
          const routes = this.routesOf(name, current)
          if (typeof routes === 'string') throw new Error(routes)
          return [
            ...weightPatch(
              (current.spec ?? {}) as VirtualServiceSpec,
              current.metadata.resourceVersion ?? '',
              routes,
              candidate,
              percent
            ),
            ...(options.fence ? fenceOps(current, options.fence) : [])
          ]
        },
        virtualServices(this.config.apiVersion),
        name,
        options.hard ? ROLLBACK_RETRY : undefined,
        options.beforeWrite
      )
      const written = this.weightsOf(name, vs, candidate === 'blue' ? 'green' : 'blue')
      if (typeof written === 'string') throw new Error(written)
      versions[name] = vs.metadata.resourceVersion ?? ''
      weights ??= written[0]?.weights
    }
    return { versions, weights: weights as ColorWeights }
  }

  /**
   * Every VirtualService in turn: the test route to the candidate subset added just before each
   * selected route (`header`), or every test route removed (undefined). An object already as
   * asked is left alone, unwritten; a fence is written only with a change.
   */
  async setTestRoute(
    candidate: Color,
    header: TestHeader | undefined,
    options: WeightWriteOptions = {}
  ): Promise<{ versions: Record<string, string> }> {
    const versions: Record<string, string> = {}
    for (const name of this.objects) {
      const vs = await this.patchWithRetry(
        () => this.readVirtualService(name),
        (current) => {
          const ops = this.testRouteOps(name, current, candidate, header)
          if (typeof ops === 'string') throw new Error(ops)
          if (ops.length === 0) return []
          return [...ops, ...(options.fence ? fenceOps(current, options.fence) : [])]
        },
        virtualServices(this.config.apiVersion),
        name,
        options.hard ? ROLLBACK_RETRY : undefined,
        options.beforeWrite
      )
      versions[name] = vs.metadata.resourceVersion ?? ''
    }
    return { versions }
  }

  /** The patch that puts (or takes out) the test routes of one VirtualService, or why it cannot. */
  private testRouteOps(
    name: string,
    vs: KubeObject,
    candidate: Color,
    header: TestHeader | undefined
  ): JsonPatchOp[] | string {
    const spec = (vs.spec ?? {}) as VirtualServiceSpec
    const version = vs.metadata.resourceVersion ?? ''
    if (!header) return removeTestRoutePatch(spec, version)
    const plan = addTestRoutePatch(
      spec,
      version,
      header,
      candidate,
      this.service,
      this.config.routes
    )
    return 'error' in plan ? `VirtualService ${name}: ${plan.error}` : plan.ops
  }

  /** Add the color subsets the DestinationRule lacks. */
  async ensureColors(colorLabel: string): Promise<string[]> {
    let wrote = false
    await this.patchWithRetry(
      () => this.readDestinationRule(),
      (dr) => {
        const plan = subsetPatch(
          (dr.spec ?? {}) as DestinationRuleSpec,
          dr.metadata.resourceVersion ?? '',
          this.service,
          colorLabel,
          this.config.destinationRule
        )
        if ('error' in plan) throw new Error(plan.error)
        wrote = plan.ops.length > 0
        return plan.ops
      },
      destinationRules(this.config.apiVersion),
      this.config.destinationRule
    )
    return wrote
      ? [
          `added subsets blue and green (label ${colorLabel}) to DestinationRule ${this.config.destinationRule}`
        ]
      : []
  }

  async inspect(colorLabel: string, testHeader?: TestHeader): Promise<RouterInspection> {
    const found = await Promise.all(this.objects.map((name) => this.readVirtualService(name)))
    const states = this.objects.map((name, i) => this.stateOf(name, found[i], 'blue'))
    const routes: RouteWeights[] = []
    let bare = false
    for (const [i, state] of states.entries()) {
      if (!state.found) {
        return {
          ok: false,
          message: `VirtualService ${state.object} not found in namespace ${this.namespace}; create it, or set input "virtual-service"`
        }
      }
      if ('error' in state.routes) return { ok: false, message: state.routes.error }
      if (testHeader) {
        // Planned for either color: only whether it can be planned matters here.
        const ops = this.testRouteOps(state.object, found[i] as KubeObject, 'green', testHeader)
        if (typeof ops === 'string') return { ok: false, message: ops }
      }
      bare ||= state.bare
      const prefix = this.objects.length > 1 ? `${state.object}/` : ''
      routes.push(...state.routes.map((r) => ({ ...r, name: `${prefix}${r.name}` })))
    }
    const dr = await this.readDestinationRule()
    if (!dr) {
      return {
        ok: false,
        message: `DestinationRule ${this.config.destinationRule} not found in namespace ${this.namespace}; create one for host ${this.service.name}, or set input "destination-rule"`
      }
    }
    const subsets = subsetPatch(
      (dr.spec ?? {}) as DestinationRuleSpec,
      '',
      this.service,
      colorLabel,
      this.config.destinationRule
    )
    if ('error' in subsets) return { ok: false, message: subsets.error }
    return { ok: true, routes, bare }
  }

  private patchWithRetry(
    read: () => Promise<KubeObject | undefined>,
    plan: (current: KubeObject) => JsonPatchOp[],
    type: ResourceType,
    name: string,
    retry?: RetryPolicy,
    beforeWrite?: () => Promise<void>
  ): Promise<KubeObject> {
    return guardedPatch(this.kube, {
      type,
      namespace: this.namespace,
      name,
      read,
      plan,
      ...(retry ? { retry } : {}),
      ...(beforeWrite ? { beforeWrite } : {}),
      sleep: (ms) => this.clock.sleep(ms)
    })
  }
}
