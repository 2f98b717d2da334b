/**
 * Reading and planning the color weights of a Gateway API HTTPRoute (`gateway.networking.k8s.io/v1`).
 * Pure functions over the HTTPRoute's JSON, as `routes.ts` is for VirtualServices: they decide,
 * the router adapter writes.
 *
 * Weights go to backendRefs, which are Services, so each color is its own Service
 * `<service>-<color>` (planned by `color-services.ts`). A backendRef to `<service>` itself is the
 * first release, not adopted yet: it counts as the stable color until a weight write replaces it.
 *
 * HTTPRoute weights are relative (each backendRef gets weight / sum of the rule's weights, default
 * 1, 0 allowed, at most 1000000), not percentages. How percentages map to integer weights:
 * - The colors share what the other backendRefs leave, and the others keep their weights exactly.
 *   So the colors' total weight is kept: the service keeps its share of the rule.
 * - A rule with no other backendRef has its colors written with a total of 100, so the weights
 *   read as percentages (the share of the rule does not depend on the total then).
 * - Beside other backendRefs the colors keep their total `C` and the candidate gets
 *   `round(C * percent / 100)` (half up), the stable color the rest. `selectRules` refuses a `C`
 *   under 100 there, so every whole percent is realised within half a percentage point, as with
 *   a VirtualService's percentages; the multiplier to fix it is in the message.
 */
import { type Color, type ColorWeights, COLORS, otherColor } from './color.js'
import type { JsonPatchOp, ServiceRef } from './routes.js'

/** Limits of the HTTPRoute CRD (standard channel, v1.6.1). */
export const HTTPROUTE_LIMITS = {
  /** `spec.rules` maxItems. */
  rules: 16,
  /** `spec.rules[].backendRefs` maxItems. */
  backendRefs: 16,
  /** `spec.rules[].matches` maxItems. */
  matchesPerRule: 64,
  /** CEL rule on `spec.rules`: matches across all rules. */
  matchesPerRoute: 128,
  /** `spec.rules[].matches[].headers` maxItems. */
  headersPerMatch: 16,
  /** `backendRefs[].weight` maximum. */
  weight: 1000000
} as const

export interface HttpBackendRef {
  group?: string
  kind?: string
  name: string
  namespace?: string
  port?: number
  weight?: number
  filters?: unknown[]
  [key: string]: unknown
}

export interface HttpHeaderMatch {
  type?: string
  name: string
  value: string
}

export interface HttpRouteMatch {
  path?: { type?: string; value?: string }
  headers?: HttpHeaderMatch[]
  queryParams?: unknown[]
  method?: string
  [key: string]: unknown
}

export interface HttpRouteRule {
  name?: string
  matches?: HttpRouteMatch[]
  filters?: unknown[]
  backendRefs?: HttpBackendRef[]
  [key: string]: unknown
}

export interface HttpRouteSpec {
  parentRefs?: unknown[]
  hostnames?: string[]
  rules?: HttpRouteRule[]
  [key: string]: unknown
}

/**
 * Name of the route (HTTPRoute rule) that sends the test header to the candidate (see `test-route.ts`). Rules named
 * this way, or with this prefix and a dash, are the action's own: selection never shifts them.
 */
export const TEST_ROUTE_NAME = 'istio-bluegreen-test'

export function isTestRouteName(name: string | undefined): boolean {
  return name === TEST_ROUTE_NAME || (name?.startsWith(`${TEST_ROUTE_NAME}-`) ?? false)
}

/** Name of the Service of one color, `<service>-<color>`: what a backendRef names. */
export function colorServiceName(service: string, color: Color): string {
  return `${service}-${color}`
}

/** What one backendRef is to the rollout. */
export type BackendRole = { color: Color } | 'bare' | 'other'

/**
 * Whether a backendRef is one of the service's colors, the service itself (`bare`, the first
 * release) or something else. Only a core Service in the route's namespace (the service's: the
 * action reads the HTTPRoute there) counts; a backendRef of another kind or namespace is "other".
 */
export function backendRole(ref: HttpBackendRef, service: ServiceRef): BackendRole {
  const isService = (ref.group ?? '') === '' && (ref.kind ?? 'Service') === 'Service'
  if (!isService) return 'other'
  if (ref.namespace !== undefined && ref.namespace !== service.namespace) return 'other'
  if (ref.name === service.name) return 'bare'
  for (const color of COLORS) {
    if (ref.name === colorServiceName(service.name, color)) return { color }
  }
  return 'other'
}

/** Weight of a backendRef as the data plane reads it: 1 when absent. */
export function backendWeight(ref: HttpBackendRef): number {
  return ref.weight ?? 1
}

/** How one rule sends traffic to the service, by backendRef index. */
export interface RuleShape {
  /** Index of the rule in `spec.rules`. */
  index: number
  /** The rule's name, or `#<index>` for an unnamed rule. */
  name: string
  /** backendRef index per color, when the rule has one. */
  colors: Partial<Record<Color, number>>
  /** Index of a backendRef to the service itself (a rule not adopted yet). */
  bare?: number
  /** Sum of the colors' (and the bare backendRef's) weights: the service's part of the rule. */
  serviceWeight: number
  /** Sum of the weights of the other backendRefs (they keep their weights). */
  otherWeight: number
}

function ruleLabel(rule: HttpRouteRule, index: number): string {
  return rule.name ? `"${rule.name}"` : `#${index}`
}

/** Whether any backendRef of the rule is the service or one of its colors. */
export function ruleRoutesToService(rule: HttpRouteRule, service: ServiceRef): boolean {
  return (rule.backendRefs ?? []).some((ref) => backendRole(ref, service) !== 'other')
}

/**
 * Shape of one rule, or an error naming what cannot be managed as blue/green: the service named
 * twice, a bare backendRef beside color ones, a share too small to express percentages, or no
 * room for the candidate's backendRef.
 */
export function ruleShapeOf(
  rule: HttpRouteRule,
  index: number,
  service: ServiceRef
): RuleShape | { error: string } {
  const label = `HTTPRoute rule ${ruleLabel(rule, index)}`
  const refs = rule.backendRefs ?? []
  const shape: RuleShape = {
    index,
    name: rule.name ?? `#${index}`,
    colors: {},
    serviceWeight: 0,
    otherWeight: 0
  }
  for (const [i, ref] of refs.entries()) {
    const role = backendRole(ref, service)
    const weight = backendWeight(ref)
    if (role === 'other') {
      shape.otherWeight += weight
      continue
    }
    shape.serviceWeight += weight
    if (role === 'bare') {
      if (shape.bare !== undefined) {
        return {
          error: `${label} has two backendRefs to ${service.name}; merge them into one`
        }
      }
      shape.bare = i
    } else {
      if (shape.colors[role.color] !== undefined) {
        return {
          error: `${label} has two backendRefs to ${colorServiceName(service.name, role.color)}; merge them into one`
        }
      }
      shape.colors[role.color] = i
    }
  }
  if (
    shape.bare !== undefined &&
    (shape.colors.blue !== undefined || shape.colors.green !== undefined)
  ) {
    return {
      error: `${label} has a backendRef to ${service.name} beside one to a color Service (${service.name}-blue or ${service.name}-green); move the weight of ${service.name} to the color Service of the stable color`
    }
  }
  const weights = refs.map((r) => `${r.name}=${backendWeight(r)}`).join(', ')
  if (shape.serviceWeight === 0) {
    return {
      error: `${label} gives ${service.name} weight 0 (${weights}), so it has no share to shift; give ${service.name}'s backendRef the weight it should have`
    }
  }
  if (shape.otherWeight > 0 && shape.serviceWeight < 100) {
    const factor = Math.ceil(100 / shape.serviceWeight)
    return {
      error: `${label} gives ${service.name} weight ${shape.serviceWeight} beside other backendRefs (${weights}); with a total under 100 the candidate's percentages cannot be set to the nearest percent: multiply every weight of the rule by ${factor}`
    }
  }
  if (shape.serviceWeight > HTTPROUTE_LIMITS.weight) {
    return {
      error: `${label} gives ${service.name} a total weight of ${shape.serviceWeight} (${weights}), more than one backendRef can hold (${HTTPROUTE_LIMITS.weight}) once a color takes all of it; scale the rule's weights down`
    }
  }
  const added =
    shape.bare !== undefined ? 1 : COLORS.filter((c) => shape.colors[c] === undefined).length
  if (refs.length + added > HTTPROUTE_LIMITS.backendRefs) {
    return {
      error: `${label} has ${refs.length} backendRefs; adding the color Service would exceed the ${HTTPROUTE_LIMITS.backendRefs} an HTTPRoute rule may hold: move other backendRefs to another rule`
    }
  }
  return shape
}

/**
 * The rules a rollout shifts: those named in input "routes" (each rule once), or by default every
 * rule with a backendRef to the service or its colors. The action's own test rules are never
 * selected. Errors name what is wrong and what to do.
 */
export function selectRules(
  spec: HttpRouteSpec,
  service: ServiceRef,
  ruleNames: readonly string[],
  routeName: string
): { rules: RuleShape[] } | { error: string } {
  const rules = spec.rules ?? []
  const candidates = rules.flatMap((r, i) => (isTestRouteName(r.name) ? [] : [i]))
  let picked: number[]
  if (ruleNames.length > 0) {
    picked = []
    for (const name of ruleNames) {
      if (isTestRouteName(name)) {
        return {
          error: `input "routes": rule "${name}" is istio-bluegreen's own test-header rule; name the rules that carry the service's traffic`
        }
      }
      const index = rules.findIndex((r) => r.name === name)
      if (index < 0) {
        const known =
          candidates.map((i) => rules[i]?.name ?? `#${i} (unnamed)`).join(', ') || 'none'
        return {
          error: `input "routes": HTTPRoute ${routeName} has no rule named "${name}"; its rules are: ${known}`
        }
      }
      if (!ruleRoutesToService(rules[index] as HttpRouteRule, service)) {
        return {
          error: `input "routes": rule "${name}" of HTTPRoute ${routeName} has no backendRef to ${service.name}; name rules that send traffic to the service`
        }
      }
      if (!picked.includes(index)) picked.push(index)
    }
  } else {
    picked = candidates.filter((i) => ruleRoutesToService(rules[i] as HttpRouteRule, service))
    if (picked.length === 0) {
      const backends = [
        ...new Set(candidates.flatMap((i) => (rules[i]?.backendRefs ?? []).map((b) => b.name)))
      ].join(', ')
      return {
        error: `no rule of HTTPRoute ${routeName} has a backendRef to the Service ${service.name} in namespace ${service.namespace} (backendRefs: ${backends || 'none'}); check inputs "service" and "http-route"`
      }
    }
  }
  const shapes: RuleShape[] = []
  for (const index of picked) {
    const shape = ruleShapeOf(rules[index] as HttpRouteRule, index, service)
    if ('error' in shape) return shape
    shapes.push(shape)
  }
  return { rules: shapes }
}

/**
 * Share of each color on one rule, in percent of the service's traffic on it (the other
 * backendRefs' share left out). A bare backendRef (not adopted yet) counts as `bareColor`.
 * Rounded to whole percents, blue first; green takes the rest so the two sum to 100.
 */
export function ruleColorWeights(
  rule: HttpRouteRule,
  shape: RuleShape,
  bareColor: Color
): ColorWeights {
  const refs = rule.backendRefs ?? []
  const raw: ColorWeights = { blue: 0, green: 0 }
  for (const color of COLORS) {
    const i = shape.colors[color]
    if (i !== undefined) raw[color] = backendWeight(refs[i] as HttpBackendRef)
  }
  if (shape.bare !== undefined) raw[bareColor] = backendWeight(refs[shape.bare] as HttpBackendRef)
  const total = raw.blue + raw.green
  if (total === 0) return raw
  const blue = Math.round((raw.blue * 100) / total)
  return { blue, green: 100 - blue }
}

/** The weights found on one selected rule, for drift detection and status. */
export interface RuleWeights {
  rule: string
  /** Each color's share of the service's traffic on the rule, in percent. */
  weights: ColorWeights
  /** The other backendRefs' weights, as found (they are never changed). */
  others: { name: string; weight: number }[]
}

/** The weights found on each selected rule (see `ruleColorWeights`). */
export function httpRouteColorWeights(
  spec: HttpRouteSpec,
  shapes: readonly RuleShape[],
  bareColor: Color,
  service: ServiceRef
): RuleWeights[] {
  return shapes.map((shape) => {
    const rule = (spec.rules ?? [])[shape.index] as HttpRouteRule
    return {
      rule: shape.name,
      weights: ruleColorWeights(rule, shape, bareColor),
      others: (rule.backendRefs ?? [])
        .filter((ref) => backendRole(ref, service) === 'other')
        .map((ref) => ({ name: ref.name, weight: backendWeight(ref) }))
    }
  })
}

/**
 * Integer weights for the two colors on one rule when the candidate takes `percent` of the
 * service's traffic (see the module comment): a total of 100 when the rule has no other
 * backendRef, otherwise the colors' current total, with the candidate's part rounded half up.
 */
export function splitRuleWeight(
  shape: Pick<RuleShape, 'serviceWeight' | 'otherWeight'>,
  candidate: Color,
  percent: number
): ColorWeights {
  const total = shape.otherWeight === 0 ? 100 : shape.serviceWeight
  const candidateWeight = Math.round((total * percent) / 100)
  return {
    [candidate]: candidateWeight,
    [otherColor(candidate)]: total - candidateWeight
  } as ColorWeights
}

/**
 * JSON Patch that gives the candidate `percent` of the service's traffic on each selected rule,
 * guarded by `resourceVersion` as `weightPatch` is (a `replace` of it, so a write since the read
 * answers 409 Conflict and the adapter reads and plans again; a failed `test` would be a 422 it
 * could not tell from a bad request). Before each change a `test` checks that the backendRef at
 * that index still names what was read, so the patch fails rather than lands on another
 * backendRef even if it were sent without the version.
 *
 * The first release is adopted in the same patch, so no state between exists for the data plane:
 * the bare `<service>` backendRef is renamed in place to `<service>-<stable>` (its port, filters
 * and every other field stay) and `<service>-<candidate>` is appended, a copy of it with the
 * candidate's weight (0 for a 0% step). No request is dropped as long as `<service>-<stable>`
 * exists and selects the stable pods before this patch is sent: the adapter applies the
 * per-color Service plan (`colorServicePlan`) first.
 *
 * Other backendRefs and rules are not touched. `shapes` come from `selectRules` on the same
 * `spec`, which has already refused a rule without room for the candidate's backendRef.
 */
export function httpRouteWeightPatch(
  spec: HttpRouteSpec,
  resourceVersion: string,
  shapes: readonly RuleShape[],
  candidate: Color,
  percent: number,
  stableColor: Color
): JsonPatchOp[] {
  if (stableColor === candidate) {
    throw new Error(
      `httpRouteWeightPatch: the stable color and the candidate are both ${candidate}`
    )
  }
  const ops: JsonPatchOp[] = [
    { op: 'replace', path: '/metadata/resourceVersion', value: resourceVersion }
  ]
  for (const shape of shapes) {
    const rule = (spec.rules ?? [])[shape.index] as HttpRouteRule
    const refs = rule.backendRefs ?? []
    const base = `/spec/rules/${shape.index}/backendRefs`
    const weights = splitRuleWeight(shape, candidate, percent)
    const setWeight = (i: number, weight: number): void => {
      const ref = refs[i] as HttpBackendRef
      ops.push({ op: 'test', path: `${base}/${i}/name`, value: ref.name })
      ops.push({
        op: ref.weight === undefined ? 'add' : 'replace',
        path: `${base}/${i}/weight`,
        value: weight
      })
    }
    let stableIndex = shape.colors[stableColor]
    if (shape.bare !== undefined) {
      const name = colorServiceName((refs[shape.bare] as HttpBackendRef).name, stableColor)
      ops.push({ op: 'test', path: `${base}/${shape.bare}/name`, value: refs[shape.bare]?.name })
      ops.push({ op: 'replace', path: `${base}/${shape.bare}/name`, value: name })
      ops.push({
        op: refs[shape.bare]?.weight === undefined ? 'add' : 'replace',
        path: `${base}/${shape.bare}/weight`,
        value: weights[stableColor]
      })
      stableIndex = shape.bare
    } else if (stableIndex !== undefined) {
      setWeight(stableIndex, weights[stableColor])
    }
    const candidateIndex = shape.colors[candidate]
    if (candidateIndex !== undefined) setWeight(candidateIndex, weights[candidate])
    // A missing color is appended, a copy of the other color's backendRef (or of the bare one).
    const templateColor = stableIndex !== undefined ? stableColor : candidate
    const template = refs[(stableIndex ?? candidateIndex) as number] as HttpBackendRef
    const serviceName =
      shape.bare !== undefined ? template.name : template.name.slice(0, -`-${templateColor}`.length)
    for (const color of [stableColor, candidate]) {
      const present = color === stableColor ? stableIndex : candidateIndex
      if (present !== undefined) continue
      ops.push({
        op: 'add',
        path: `${base}/-`,
        value: { ...template, name: colorServiceName(serviceName, color), weight: weights[color] }
      })
    }
  }
  return ops
}
