/**
 * The Gateway API router (TrafficRouter): one or more HTTPRoutes (`gateway.networking.k8s.io`)
 * whose rules get the same color weights, and a Service per color, `<service>-blue` and
 * `<service>-green`, that the backendRefs name. The HTTPRoutes may have a Service parent (mesh
 * traffic) or a Gateway parent (north-south): the weights are written the same way. Each write is
 * a JSON Patch guarded by that object's resourceVersion (see guarded-patch.ts); the decisions are
 * in core/httproute.ts, core/color-services.ts and core/test-route.ts.
 */
import { type Color, type ColorWeights, COLORS, otherColor } from '../core/color.js'
import {
  type ColorServicePlan,
  colorServicePlan,
  type ServiceObject
} from '../core/color-services.js'
import { lastOtherWriter, type ManagedFieldsEntry } from '../core/drift.js'
import {
  colorServiceName,
  type HttpRouteRule,
  type HttpRouteSpec,
  httpRouteColorWeights,
  isTestRouteName,
  httpRouteWeightPatch,
  type RuleShape,
  selectRules
} from '../core/httproute.js'
import type { GatewayRouterConfig } from '../core/record.js'
import type { JsonPatchOp, ServiceRef } from '../core/routes.js'
import { addTestRulePatch, removeTestRulePatch, type TestHeader } from '../core/test-route.js'
import type {
  RouteWeights,
  RouterInspection,
  RouterObjectState,
  TrafficRouter,
  WeightWrite,
  WeightWriteOptions,
  Permission
} from '../ports.js'
import { FENCE_ANNOTATION, fenceOps, guardedPatch } from './guarded-patch.js'
import { type Clock, systemClock } from '../log.js'
import {
  DEFAULT_RETRY,
  type KubeApi,
  KubeError,
  type KubeObject,
  type ResourceType,
  ROLLBACK_RETRY,
  SERVICES
} from './kube.js'

export const GATEWAY_GROUP = 'gateway.networking.k8s.io'
/** Versions the action can use, preferred first; both serve the same stored HTTPRoutes. */
export const GATEWAY_VERSIONS = ['v1', 'v1beta1'] as const

/**
 * The gateway.networking.k8s.io version to use, preferring v1; an error saying what to do when
 * the cluster serves neither.
 */
export async function gatewayVersion(kube: KubeApi): Promise<string> {
  const served = await kube.servedVersions(GATEWAY_GROUP)
  const version = GATEWAY_VERSIONS.find((v) => served.includes(v))
  if (!version) {
    throw new Error(
      `the cluster does not serve the Gateway API's ${GATEWAY_GROUP} HTTPRoute (v1 or v1beta1); install the Gateway API CRDs (standard channel), point kubeconfig/context at a cluster that has them, or set input "router" to istio`
    )
  }
  return version
}

export function httpRoutes(version: string): ResourceType {
  return { group: GATEWAY_GROUP, version, plural: 'httproutes', kind: 'HTTPRoute' }
}

/**
 * What the Gateway API router needs in the service's namespace, besides reading the service
 * (which every rollout does).
 */
export const GATEWAY_PERMISSIONS: readonly Permission[] = [
  {
    group: GATEWAY_GROUP,
    resource: 'httproutes',
    verbs: ['get', 'patch'],
    why: 'shift backendRef weights'
  },
  {
    group: '',
    resource: 'services',
    verbs: ['create', 'patch'],
    why: 'create the per-color Services and keep them in step'
  }
]

/** `HTTPRoute reviews`, `HTTPRoutes reviews, reviews-edge`. */
export function describeHttpRoutes(names: readonly string[]): string {
  return `HTTPRoute${names.length > 1 ? 's' : ''} ${names.join(', ')}`
}

/**
 * Whether a weight write to these rules names a color Service the rules do not name yet (the
 * first release renames the bare backendRef; a rule with one color gets the other): then both
 * color Services must exist before the patch is sent, or the data plane has nowhere to send.
 */
export function introducesColors(shapes: readonly RuleShape[]): boolean {
  return shapes.some((s) => s.bare !== undefined || COLORS.some((c) => s.colors[c] === undefined))
}

/** What ensureColors says it did for one color, or undefined when it did nothing. */
export function colorServiceLine(
  plan: ColorServicePlan,
  service: string,
  color: Color
): string | undefined {
  if ('error' in plan || plan.action === 'none') return undefined
  const name = colorServiceName(service, color)
  if (plan.action === 'create') {
    const selector = Object.entries(plan.body.spec?.selector ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',')
    return `created Service ${name} (selector ${selector}, the ports of ${service})`
  }
  return `updated Service ${name} to the selector and ports of ${service} plus its color`
}

/**
 * The rules that are not the action's test rules, and for each its index in `rules`: what the
 * weights are read and planned on, whether or not a test-header rollout added its rules.
 */
export function withoutTestRules(rules: readonly HttpRouteRule[]): {
  base: HttpRouteRule[]
  original: number[]
} {
  const base: HttpRouteRule[] = []
  const original: number[] = []
  for (const [i, rule] of rules.entries()) {
    if (isTestRouteName(rule.name)) continue
    base.push(rule)
    original.push(i)
  }
  return { base, original }
}

/** How long ensureColors waits for a Service it created to be readable. */
const CREATED_WAIT_MS = 10_000

export class GatewayRouter implements TrafficRouter {
  readonly description: string
  readonly objects: readonly string[]
  readonly permissions = GATEWAY_PERMISSIONS

  constructor(
    private readonly kube: KubeApi,
    private readonly service: ServiceRef,
    private readonly config: GatewayRouterConfig,
    /** The run's clock: the pause after a write conflict and the wait for a new Service. */
    private readonly clock: Clock = systemClock
  ) {
    this.objects = [...config.objects]
    this.description = describeHttpRoutes(config.objects)
  }

  private get namespace(): string {
    return this.service.namespace
  }

  private get type(): ResourceType {
    return httpRoutes(this.config.apiVersion)
  }

  private readRoute(name: string): Promise<KubeObject | undefined> {
    return this.kube.get(this.type, this.namespace, name)
  }

  private async readService(name: string): Promise<ServiceObject | undefined> {
    return (await this.kube.get(SERVICES, this.namespace, name)) as ServiceObject | undefined
  }

  /**
   * The selected rules of an HTTPRoute, or an error message naming it. They are chosen among the
   * rules without the action's own test rules (so an unnamed rule keeps its `#<index>` name while
   * a test rule sits before it), and their indexes are then those of `spec.rules` as it is.
   */
  private rulesOf(name: string, route: KubeObject): RuleShape[] | string {
    const spec = (route.spec ?? {}) as HttpRouteSpec
    const { base, original } = withoutTestRules(spec.rules ?? [])
    const selected = selectRules({ ...spec, rules: base }, this.service, this.config.routes, name)
    if ('error' in selected) return `HTTPRoute ${name}: ${selected.error}`
    return selected.rules.map((r) => ({ ...r, index: original[r.index] as number }))
  }

  private weightsOf(name: string, route: KubeObject, bareColor: Color): RouteWeights[] | string {
    const rules = this.rulesOf(name, route)
    if (typeof rules === 'string') return rules
    return httpRouteColorWeights(
      (route.spec ?? {}) as HttpRouteSpec,
      rules,
      bareColor,
      this.service
    ).map((r) => ({ name: r.rule, weights: r.weights }))
  }

  private stateOf(
    name: string,
    route: KubeObject | undefined,
    bareColor: Color
  ): RouterObjectState {
    const what = `HTTPRoute ${name}`
    if (!route) return { object: name, what, found: false }
    const rules = this.rulesOf(name, route)
    const weights = this.weightsOf(name, route, bareColor)
    const writer = lastOtherWriter(route.metadata.managedFields as ManagedFieldsEntry[] | undefined)
    const fence = route.metadata.annotations?.[FENCE_ANNOTATION]
    return {
      object: name,
      what,
      found: true,
      resourceVersion: route.metadata.resourceVersion ?? '',
      routes: typeof weights === 'string' ? { error: weights } : weights,
      bare: typeof rules !== 'string' && rules.some((r) => r.bare !== undefined),
      testRoute:
        ((route.spec ?? {}) as HttpRouteSpec).rules?.some((r) => isTestRouteName(r.name)) ?? false,
      ...(writer ? { writer } : {}),
      ...(fence ? { fence } : {})
    }
  }

  async read(bareColor: Color): Promise<RouterObjectState[]> {
    const found = await Promise.all(this.objects.map((name) => this.readRoute(name)))
    return this.objects.map((name, i) => this.stateOf(name, found[i], bareColor))
  }

  /** The color Services that do not exist (yet). */
  private async missingColorServices(): Promise<string[]> {
    const names = COLORS.map((c) => colorServiceName(this.service.name, c))
    const found = await Promise.all(names.map((n) => this.readService(n)))
    return names.filter((_, i) => !found[i])
  }

  /**
   * Every HTTPRoute in turn, each in its own guarded write. The first write to a rule not
   * adopted yet renames its bare backendRef to the stable color's Service and appends the
   * candidate's, in one patch, once both Services exist (ensureColors makes them). Before they
   * do, a write of 0% to an HTTPRoute whose rules are all still bare (a rollback of a run that
   * died before it made them) leaves it as it is: it already sends nothing to a color Service.
   */
  async setWeights(
    candidate: Color,
    percent: number,
    options: WeightWriteOptions = {}
  ): Promise<WeightWrite> {
    const stable = otherColor(candidate)
    const versions: Record<string, string> = {}
    let weights: ColorWeights | undefined
    for (const name of this.objects) {
      const found = await this.readRoute(name)
      const shapes = found ? this.rulesOf(name, found) : []
      if (found && typeof shapes !== 'string' && introducesColors(shapes)) {
        const missing = await this.missingColorServices()
        if (missing.length > 0) {
          if (percent !== 0 || !shapes.every((r) => r.bare !== undefined)) {
            throw new Error(
              `Service ${missing.join(' and ')} not found in namespace ${this.namespace}, so HTTPRoute ${name} cannot send to ${missing.length > 1 ? 'them' : 'it'} yet; the rollout creates the color Services before its first weight write: run the release again (deploy), or create them with the selector of ${this.service.name} plus the color label`
            )
          }
          const kept = this.weightsOf(name, found, stable)
          if (typeof kept === 'string') throw new Error(kept)
          versions[name] = found.metadata.resourceVersion ?? ''
          weights ??= kept[0]?.weights
          continue
        }
      }
      const route = await guardedPatch(this.kube, {
        type: this.type,
        namespace: this.namespace,
        name,
        read: () => this.readRoute(name),
        plan: (current) => {
          const rules = this.rulesOf(name, current)
          if (typeof rules === 'string') throw new Error(rules)
          const ops = httpRouteWeightPatch(
            (current.spec ?? {}) as HttpRouteSpec,
            current.metadata.resourceVersion ?? '',
            rules,
            candidate,
            percent,
            stable
          )
          return [...ops, ...(options.fence ? fenceOps(current, options.fence) : [])]
        },
        retry: options.hard ? ROLLBACK_RETRY : undefined,
        beforeWrite: options.beforeWrite,
        sleep: (ms) => this.clock.sleep(ms)
      })
      const written = this.weightsOf(name, route, stable)
      if (typeof written === 'string') throw new Error(written)
      versions[name] = route.metadata.resourceVersion ?? ''
      weights ??= written[0]?.weights
    }
    return { versions, weights: weights as ColorWeights }
  }

  /**
   * The test-header rules (see core/test-route.ts): with `header`, one rule before each selected
   * rule sending matching requests to `<service>-<candidate>`; without, none. No write to an
   * HTTPRoute that is already so.
   */
  async setTestRoute(
    candidate: Color,
    header: TestHeader | undefined,
    options: WeightWriteOptions = {}
  ): Promise<{ versions: Record<string, string> }> {
    const versions: Record<string, string> = {}
    for (const name of this.objects) {
      const route = await guardedPatch(this.kube, {
        type: this.type,
        namespace: this.namespace,
        name,
        read: () => this.readRoute(name),
        plan: (current) => {
          const ops = this.testRuleOps(name, current, candidate, header)
          if (typeof ops === 'string') throw new Error(ops)
          if (ops.length === 0) return []
          return [...ops, ...(options.fence ? fenceOps(current, options.fence) : [])]
        },
        retry: options.hard ? ROLLBACK_RETRY : undefined,
        beforeWrite: options.beforeWrite,
        sleep: (ms) => this.clock.sleep(ms)
      })
      versions[name] = route.metadata.resourceVersion ?? ''
    }
    return { versions }
  }

  /** The patch that adds (`header`) or removes the test rules of one HTTPRoute, or what is wrong. */
  private testRuleOps(
    name: string,
    route: KubeObject,
    candidate: Color,
    header: TestHeader | undefined
  ): JsonPatchOp[] | string {
    const spec = (route.spec ?? {}) as HttpRouteSpec
    const version = route.metadata.resourceVersion ?? ''
    if (!header) return removeTestRulePatch(spec, version)
    const planned = addTestRulePatch(
      spec,
      version,
      header,
      candidate,
      this.service,
      this.config.routes,
      name
    )
    return 'error' in planned ? `HTTPRoute ${name}: ${planned.error}` : planned.ops
  }

  /**
   * Create the color Services that are missing and bring the action's own back in step with the
   * service, each write guarded (a create that meets an existing Service, or a patch that meets
   * a newer version, plans again). A Service of that name the action did not create is never
   * overwritten: the plan's error says what to do.
   */
  async ensureColors(colorLabel: string): Promise<string[]> {
    const lines: string[] = []
    for (const color of COLORS) {
      const line = await this.ensureColor(colorLabel, color)
      if (line) lines.push(line)
    }
    return lines
  }

  private async ensureColor(colorLabel: string, color: Color): Promise<string | undefined> {
    const name = colorServiceName(this.service.name, color)
    for (let conflicts = 0; ; conflicts++) {
      const [service, existing] = await Promise.all([
        this.readService(this.service.name),
        this.readService(name)
      ])
      if (!service) {
        throw new Error(
          `Service ${this.service.name} not found in namespace ${this.namespace}; check inputs "service" and "namespace"`
        )
      }
      const plan = colorServicePlan(service, existing, colorLabel, color)
      if ('error' in plan) throw new Error(plan.error)
      if (plan.action === 'none') return undefined
      try {
        if (plan.action === 'create') {
          await this.kube.create(SERVICES, this.namespace, plan.body as unknown as KubeObject)
          await this.waitUntilReadable(name)
        } else {
          await this.kube.patch(SERVICES, this.namespace, name, plan.ops)
        }
        return colorServiceLine(plan, this.service.name, color)
      } catch (error) {
        // Created or changed by someone else since the read: read both again and plan again.
        const raced = error instanceof KubeError && (error.conflict || error.code === 409)
        if (raced && conflicts < DEFAULT_RETRY.conflicts) {
          continue
        }
        throw error
      }
    }
  }

  /** Wait until a Service just created can be read back, so no backendRef names it before. */
  private async waitUntilReadable(name: string): Promise<void> {
    const deadline = this.clock.now() + CREATED_WAIT_MS
    while (!(await this.readService(name))) {
      if (this.clock.now() > deadline) {
        throw new Error(
          `Service ${name} was created in namespace ${this.namespace} but cannot be read back after ${CREATED_WAIT_MS / 1000}s; check the API server, then run the release again`
        )
      }
      await this.clock.sleep(200)
    }
  }

  async inspect(colorLabel: string, testHeader?: TestHeader): Promise<RouterInspection> {
    const found = await Promise.all(this.objects.map((name) => this.readRoute(name)))
    const states = this.objects.map((name, i) => this.stateOf(name, found[i], 'blue'))
    const routes: RouteWeights[] = []
    let bare = false
    for (const [i, state] of states.entries()) {
      if (!state.found) {
        return {
          ok: false,
          message: `HTTPRoute ${state.object} not found in namespace ${this.namespace}; create it, or set input "http-route"`
        }
      }
      if ('error' in state.routes) return { ok: false, message: state.routes.error }
      if (testHeader) {
        // Planned for either color: only whether it can be planned matters here.
        const ops = this.testRuleOps(state.object, found[i] as KubeObject, 'green', testHeader)
        if (typeof ops === 'string') return { ok: false, message: ops }
      }
      bare ||= state.bare
      const prefix = this.objects.length > 1 ? `${state.object}/` : ''
      routes.push(...state.routes.map((r) => ({ ...r, name: `${prefix}${r.name}` })))
    }
    const service = await this.readService(this.service.name)
    if (!service) {
      return {
        ok: false,
        message: `Service ${this.service.name} not found in namespace ${this.namespace}; check inputs "service" and "namespace"`
      }
    }
    for (const color of COLORS) {
      const existing = await this.readService(colorServiceName(this.service.name, color))
      const plan = colorServicePlan(service, existing, colorLabel, color)
      if ('error' in plan) return { ok: false, message: plan.error }
    }
    return { ok: true, routes, bare }
  }
}
