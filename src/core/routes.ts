/**
 * Reading and planning the weights of a VirtualService's HTTP routes. Pure functions over the
 * VirtualService's JSON: they decide, the traffic adapter writes.
 */
import { type Color, type ColorWeights, COLORS, otherColor } from './color.js'

export interface Destination {
  host: string
  subset?: string
  port?: { number?: number }
  [key: string]: unknown
}

export interface RouteDestination {
  destination: Destination
  weight?: number
  [key: string]: unknown
}

export interface HttpRoute {
  name?: string
  match?: unknown[]
  route?: RouteDestination[]
  [key: string]: unknown
}

export interface VirtualServiceSpec {
  hosts?: string[]
  gateways?: string[]
  http?: HttpRoute[]
  tcp?: unknown[]
  tls?: unknown[]
  [key: string]: unknown
}

/** The service a rollout acts on, as Istio destinations name it. */
export interface ServiceRef {
  name: string
  namespace: string
}

/**
 * Whether a destination host means the service: `reviews`, `reviews.demo`, `reviews.demo.svc`
 * and `reviews.demo.svc.<cluster domain>` all do (short names resolve in the VirtualService's
 * namespace, which is the service's).
 */
export function hostIsService(host: string, service: ServiceRef): boolean {
  const { name, namespace } = service
  return (
    host === name ||
    host === `${name}.${namespace}` ||
    host === `${name}.${namespace}.svc` ||
    host.startsWith(`${name}.${namespace}.svc.`)
  )
}

/** How one HTTP route sends traffic to the service, by destination index. */
export interface RouteShape {
  /** Index of the route in `spec.http`. */
  index: number
  name: string
  /** Destination index per color, when the route has one. */
  colors: Partial<Record<Color, number>>
  /** Index of a destination to the service without a subset (a route not yet adopted). */
  bare?: number
  /** Sum of the weights of destinations that are not the service's (they keep their weights). */
  otherWeight: number
}

/** Weight of destination `i` as Istio reads it: a lone destination without weight takes 100. */
export function effectiveWeight(route: HttpRoute, i: number): number {
  const destinations = route.route ?? []
  const weight = destinations[i]?.weight
  if (weight !== undefined) return weight
  return destinations.length === 1 ? 100 : 0
}

function routeLabel(route: HttpRoute, index: number): string {
  return route.name ? `"${route.name}"` : `#${index}`
}

/** Whether any destination of the route goes to the service. */
export function routesToService(route: HttpRoute, service: ServiceRef): boolean {
  return (route.route ?? []).some((d) => hostIsService(d.destination.host, service))
}

/**
 * Shape of one route, or an error message when the route's destinations to the service cannot be
 * managed as blue/green (a subset of another name, two bare destinations, duplicate colors).
 */
export function shapeOf(
  route: HttpRoute,
  index: number,
  service: ServiceRef
): RouteShape | { error: string } {
  const shape: RouteShape = {
    index,
    name: route.name ?? `#${index}`,
    colors: {},
    otherWeight: 0
  }
  const destinations = route.route ?? []
  const total = destinations.reduce((sum, _, i) => sum + effectiveWeight(route, i), 0)
  if (total !== 100) {
    const weights = destinations
      .map((d, i) => `${d.destination.subset ?? d.destination.host}=${effectiveWeight(route, i)}`)
      .join(', ')
    return {
      error: `HTTP route ${routeLabel(route, index)} has weights that sum to ${total}, not 100 (${weights}); correct them so that they sum to 100`
    }
  }
  for (const [i, d] of destinations.entries()) {
    if (!hostIsService(d.destination.host, service)) {
      shape.otherWeight += effectiveWeight(route, i)
      continue
    }
    const subset = d.destination.subset
    if (subset === undefined) {
      if (shape.bare !== undefined) {
        return {
          error: `HTTP route ${routeLabel(route, index)} has two destinations to ${service.name} without a subset; merge them into one`
        }
      }
      shape.bare = i
    } else if (subset === 'blue' || subset === 'green') {
      if (shape.colors[subset] !== undefined) {
        return {
          error: `HTTP route ${routeLabel(route, index)} has two destinations to subset ${subset}; merge them into one`
        }
      }
      shape.colors[subset] = i
    } else {
      return {
        error: `HTTP route ${routeLabel(route, index)} sends traffic to subset "${subset}" of ${service.name}; istio-bluegreen manages only the subsets blue and green: route that subset's share to blue or green first`
      }
    }
  }
  if (
    shape.bare !== undefined &&
    (shape.colors.blue !== undefined || shape.colors.green !== undefined)
  ) {
    return {
      error: `HTTP route ${routeLabel(route, index)} mixes a destination to ${service.name} without a subset and one with a color subset; give every destination to ${service.name} a subset`
    }
  }
  return shape
}

/**
 * The HTTP routes a rollout shifts: the named ones, or by default every HTTP route with a
 * destination to the service. Errors name what is wrong and what to do.
 */
export function selectRoutes(
  spec: VirtualServiceSpec,
  service: ServiceRef,
  names: readonly string[]
): { routes: RouteShape[] } | { error: string } {
  const http = spec.http ?? []
  if (http.length === 0) {
    const other =
      (spec.tcp?.length ?? 0) + (spec.tls?.length ?? 0) > 0 ? ' (only TCP/TLS routes)' : ''
    return {
      error: `the VirtualService has no HTTP routes${other}; istio-bluegreen shifts HTTP route weights only`
    }
  }
  let picked: number[]
  if (names.length > 0) {
    picked = []
    for (const name of names) {
      const index = http.findIndex((r) => r.name === name)
      if (index < 0) {
        const known = http.map((r, i) => r.name ?? `#${i} (unnamed)`).join(', ')
        return { error: `input "routes": no HTTP route named "${name}"; the routes are: ${known}` }
      }
      if (!routesToService(http[index] as HttpRoute, service)) {
        return {
          error: `input "routes": HTTP route "${name}" has no destination to ${service.name}; name routes that send traffic to the service`
        }
      }
      picked.push(index)
    }
  } else {
    picked = http.flatMap((r, i) => (routesToService(r, service) ? [i] : []))
    if (picked.length === 0) {
      const hosts = [
        ...new Set(http.flatMap((r) => (r.route ?? []).map((d) => d.destination.host)))
      ].join(', ')
      return {
        error: `no HTTP route of the VirtualService has a destination to ${service.name} (destinations: ${hosts || 'none'}); check inputs "service" and "virtual-service"`
      }
    }
  }
  const routes: RouteShape[] = []
  for (const index of picked) {
    const shape = shapeOf(http[index] as HttpRoute, index, service)
    if ('error' in shape) return shape
    routes.push(shape)
  }
  return { routes }
}

/**
 * Share of each color in the route, in percent of the service's traffic on it. A bare
 * destination (not adopted yet) counts as `bareColor`.
 */
export function routeColorWeights(
  route: HttpRoute,
  shape: RouteShape,
  bareColor: Color
): ColorWeights {
  const serviceShare = 100 - shape.otherWeight
  const raw: ColorWeights = { blue: 0, green: 0 }
  for (const color of COLORS) {
    const i = shape.colors[color]
    if (i !== undefined) raw[color] = effectiveWeight(route, i)
  }
  if (shape.bare !== undefined) raw[bareColor] = effectiveWeight(route, shape.bare)
  if (serviceShare <= 0) return raw
  const blue = Math.round((raw.blue * 100) / serviceShare)
  return { blue, green: 100 - blue }
}

/**
 * Destination weights for the two colors on one route when the candidate should take
 * `candidatePercent` of the service's traffic. Other destinations keep their weights, so the
 * colors share what they leave (`100 - otherWeight`); rounding goes to the stable color.
 */
export function splitServiceShare(
  otherWeight: number,
  candidate: Color,
  candidatePercent: number
): ColorWeights {
  const share = 100 - otherWeight
  const candidateWeight = Math.round((share * candidatePercent) / 100)
  return {
    [candidate]: candidateWeight,
    [otherColor(candidate)]: share - candidateWeight
  } as ColorWeights
}

/** One RFC 6902 operation. */
export type JsonPatchOp =
  { op: 'replace' | 'add' | 'test'; path: string; value: unknown } | { op: 'remove'; path: string }

/**
 * JSON Patch that sets the color weights of the selected routes so the candidate takes
 * `candidatePercent`, guarded by `resourceVersion` (the API server answers 409 when the object
 * changed since it was read). A bare destination becomes the stable color's subset; a missing
 * color destination is added beside the other, with the same host and port. Nothing else changes.
 */
export function weightPatch(
  spec: VirtualServiceSpec,
  resourceVersion: string,
  routes: readonly RouteShape[],
  candidate: Color,
  candidatePercent: number
): JsonPatchOp[] {
  const stable = otherColor(candidate)
  const ops: JsonPatchOp[] = [
    { op: 'replace', path: '/metadata/resourceVersion', value: resourceVersion }
  ]
  for (const shape of routes) {
    const route = (spec.http ?? [])[shape.index] as HttpRoute
    const base = `/spec/http/${shape.index}/route`
    const weights = splitServiceShare(shape.otherWeight, candidate, candidatePercent)
    const destinations = route.route ?? []
    let stableIndex = shape.colors[stable]
    if (shape.bare !== undefined) {
      const bare = destinations[shape.bare] as RouteDestination
      ops.push({
        op: 'replace',
        path: `${base}/${shape.bare}/destination`,
        value: { ...bare.destination, subset: stable }
      })
      stableIndex = shape.bare
    }
    for (const color of [stable, candidate]) {
      const index = color === stable ? stableIndex : shape.colors[candidate]
      if (index !== undefined) {
        const has = destinations[index]?.weight !== undefined
        ops.push({
          op: has ? 'replace' : 'add',
          path: `${base}/${index}/weight`,
          value: weights[color]
        })
      } else {
        const template = destinations[
          (stableIndex ?? shape.colors[candidate]) as number
        ] as RouteDestination
        ops.push({
          op: 'add',
          path: `${base}/-`,
          value: { destination: { ...template.destination, subset: color }, weight: weights[color] }
        })
      }
    }
  }
  return ops
}
