/**
 * The test-header route (input `test-header: "x-canary: true"`): while a rollout runs, requests
 * that carry the header go to the candidate, whatever the weights, so smoke tests can reach it
 * before any user does (`pause-at: 0`). Pure planning for VirtualServices and HTTPRoutes.
 *
 * Where the test route goes, and what it matches. A route that matched only the header, first
 * in the list, would also take matching requests that another route sends elsewhere (a
 * `/ratings` route to the ratings service, say): wrong, not only noisy. So there is one test
 * route per selected route, a copy of it (its matches, rewrites, timeouts, filters; for a
 * VirtualService also the match-level `gateways`, so it applies to exactly the gateways and mesh
 * the selected route does) that also requires the header and sends to the candidate alone,
 * placed just before it. A request with the header then goes to the candidate exactly when,
 * without the test route, it would have reached that selected route:
 * - VirtualService: routes are tried in order, first match wins. The test route sits at the
 *   selected route's place and matches a subset of what it matches, so every route before is
 *   tried first as before, and a request the test route does not take falls through to the
 *   selected route unchanged.
 * - HTTPRoute: order decides only ties. Gateway API gives precedence, across every rule, to an
 *   Exact path, then the longest PathPrefix, then a method match, then the most header matches,
 *   then the most query-param matches; then the oldest Route, then the first rule. A copy of the
 *   winning match with one more header ties it on path and method and beats it on headers, so it
 *   beats everything the original beat (a more specific path elsewhere still wins, as it did).
 *   Placed before the original and after the rules before it, it keeps their ties too. One case
 *   is left to the implementation: a rule of an older Route with the same path and method and
 *   exactly one more header match than the selected one. RegularExpression paths have
 *   implementation-specific precedence.
 *
 * A selected route that already matches the test header's name is an error: the copy would
 * ask for two values of one header (Gateway API ignores the second entry; Istio's map has one key).
 */
import { type Color } from './color.js'
import {
  backendRole,
  colorServiceName,
  HTTPROUTE_LIMITS,
  type HttpRouteMatch,
  type HttpRouteRule,
  type HttpRouteSpec,
  isTestRouteName,
  selectRules,
  TEST_ROUTE_NAME
} from './httproute.js'
import {
  hostIsService,
  type HttpRoute,
  type JsonPatchOp,
  type RouteShape,
  selectRoutes,
  type ServiceRef,
  type VirtualServiceSpec
} from './routes.js'

export interface TestHeader {
  /** Lowercase: both Envoy and Gateway API compare header names case-insensitively, and Istio asks for lowercase keys. */
  name: string
  value: string
}

const EXAMPLE = 'e.g. "x-canary: true"'
/** RFC 7230 token characters, the pattern the HTTPRoute CRD gives header names. */
const TOKEN = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/
/** Whether the value holds a control character other than a tab (RFC 7230 field-value). */
function hasControl(value: string): boolean {
  return [...value].some((c) => {
    const code = c.charCodeAt(0)
    return (code < 0x20 && c !== '\t') || code === 0x7f
  })
}

/** Headers a test route cannot usefully match, and why. */
const RESERVED: Record<string, string> = {
  host: 'Envoy matches the host as the :authority pseudo-header, not as a header; the route hosts select it',
  connection: 'it is hop-by-hop: proxies remove it before routing',
  'keep-alive': 'it is hop-by-hop: proxies remove it before routing',
  'proxy-connection': 'it is hop-by-hop: proxies remove it before routing',
  'transfer-encoding': 'it is hop-by-hop: proxies remove it before routing',
  te: 'it is hop-by-hop: proxies remove it before routing',
  trailer: 'it is hop-by-hop: proxies remove it before routing',
  upgrade: 'it is hop-by-hop: proxies remove it before routing',
  'content-length': 'it describes the body, not the request',
  uri: 'Istio ignores the header keys uri, scheme, method and authority in a VirtualService match',
  scheme:
    'Istio ignores the header keys uri, scheme, method and authority in a VirtualService match',
  method:
    'Istio ignores the header keys uri, scheme, method and authority in a VirtualService match',
  authority:
    'Istio ignores the header keys uri, scheme, method and authority in a VirtualService match',
  'x-request-id': 'Envoy sets it at the edge, replacing what a client sends'
}

function reservedReason(name: string): string | undefined {
  if (name.startsWith('x-envoy-')) {
    return 'Envoy owns the x-envoy- headers and removes them from requests of untrusted clients'
  }
  if (name.startsWith('x-forwarded-')) {
    return 'Envoy sets or appends the x-forwarded- headers'
  }
  return RESERVED[name]
}

/** Input `test-header`, `Name: value`, as an exact header match. */
export function parseTestHeader(text: string): TestHeader | { error: string } {
  const input = text.trim()
  const say = (what: string): { error: string } => ({
    error: `input "test-header": ${what}; write it as "Name: value", ${EXAMPLE}`
  })
  if (input.startsWith(':')) {
    return say(`"${input}" is a pseudo-header, which routes cannot match as a header`)
  }
  const colon = input.indexOf(':')
  if (colon < 0) return say(`"${input}" has no ":" between the name and the value`)
  const name = input.slice(0, colon).trim().toLowerCase()
  const value = input.slice(colon + 1).trim()
  if (name === '') return say('the header name is empty')
  if (!TOKEN.test(name)) {
    return say(
      `"${name}" is not a valid header name (letters, digits and !#$%&'*+-.^_\`|~ only, no spaces)`
    )
  }
  if (name.length > 256) return say(`the header name is ${name.length} characters, more than 256`)
  const reserved = reservedReason(name)
  if (reserved) return say(`header "${name}" cannot select the test route: ${reserved}`)
  if (value === '') return say(`header "${name}" has no value`)
  if (hasControl(value)) return say(`the value of "${name}" holds a control character`)
  if (value.length > 4096) {
    return say(`the value of "${name}" is ${value.length} characters, more than 4096`)
  }
  return { name, value }
}

/** Whether two JSON values are equal, object keys in any order (what the API server stores is JSON). */
function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((x, i) => sameJson(x, b[i]))
    )
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined)
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined)
    return (
      ka.length === kb.length &&
      ka.every((k) =>
        sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
      )
    )
  }
  return a === b
}

/** Name of the k-th test route: `istio-bluegreen-test`, then `-2`, `-3`, ... */
export function testRouteName(k: number): string {
  return k === 0 ? TEST_ROUTE_NAME : `${TEST_ROUTE_NAME}-${k + 1}`
}

/** Indexes in `list` of the action's test routes, and a map from the others' indexes to `list`'s. */
function splitTest<T extends { name?: string }>(
  list: readonly T[]
): { test: number[]; base: T[]; original: number[] } {
  const test: number[] = []
  const base: T[] = []
  const original: number[] = []
  for (const [i, item] of list.entries()) {
    if (isTestRouteName(item.name)) test.push(i)
    else {
      base.push(item)
      original.push(i)
    }
  }
  return { test, base, original }
}

/**
 * Ops that make `list` (at `path`) equal `desired`, which is `list` without its test routes and
 * with `inserts` (base index → test route) placed: none when it already is. Otherwise every test
 * route is removed, each behind a `test` of its name so a concurrent reorder fails instead of
 * removing another route, then the new ones are added from the last position back, so each
 * index still means the base list's.
 */
function syncOps<T extends { name?: string }>(
  list: readonly T[],
  path: string,
  inserts: readonly [number, T][],
  resourceVersion: string
): JsonPatchOp[] {
  const { test, base } = splitTest(list)
  const desired: T[] = [...base]
  for (const [at, item] of [...inserts].sort((a, b) => b[0] - a[0])) desired.splice(at, 0, item)
  if (sameJson(desired, list)) return []
  const ops: JsonPatchOp[] = [
    { op: 'replace', path: '/metadata/resourceVersion', value: resourceVersion }
  ]
  for (const i of [...test].reverse()) {
    ops.push({ op: 'test', path: `${path}/${i}/name`, value: list[i]?.name })
    ops.push({ op: 'remove', path: `${path}/${i}` })
  }
  for (const [at, item] of [...inserts].sort((a, b) => b[0] - a[0])) {
    ops.push({ op: 'add', path: `${path}/${at}`, value: item })
  }
  return ops
}

/**
 * `selectRoutes` for a VirtualService that may hold test routes: they are never selected, and
 * the shapes' indexes are those of `spec.http` as it is, so `weightPatch` writes the right routes.
 */
export function selectRoutesBesideTest(
  spec: VirtualServiceSpec,
  service: ServiceRef,
  names: readonly string[]
): { routes: RouteShape[] } | { error: string } {
  const named = names.find((n) => isTestRouteName(n))
  if (named !== undefined) {
    return {
      error: `input "routes": route "${named}" is istio-bluegreen's own test-header route; name the routes that carry the service's traffic`
    }
  }
  const { base, original } = splitTest(spec.http ?? [])
  const r = selectRoutes({ ...spec, http: base }, service, names)
  if ('error' in r) return r
  return { routes: r.routes.map((s) => ({ ...s, index: original[s.index] as number })) }
}

/** The VirtualService test route for one selected route (see the module comment). */
function vsTestRoute(
  route: HttpRoute,
  name: string,
  header: TestHeader,
  candidate: Color,
  service: ServiceRef
): { route: HttpRoute } | { error: string } {
  const { name: routeName, match, route: destinations, ...rest } = route
  const label = routeName ? `"${routeName}"` : 'of the VirtualService'
  const matches = (match ?? [{}]) as Record<string, unknown>[]
  const copied: Record<string, unknown>[] = []
  for (const m of matches) {
    const headers = (m.headers ?? {}) as Record<string, unknown>
    if (Object.keys(headers).some((k) => k.toLowerCase() === header.name)) {
      return {
        error: `input "test-header": HTTP route ${label} already matches header "${header.name}"; choose another header name for the test route`
      }
    }
    copied.push({ ...m, headers: { ...headers, [header.name]: { exact: header.value } } })
  }
  const template = (destinations ?? []).find((d) => hostIsService(d.destination.host, service))
  const testRoute = {
    name,
    match: copied,
    ...rest,
    route: [{ destination: { ...template?.destination, subset: candidate } }]
  } as HttpRoute
  return { route: testRoute }
}

/**
 * Ops that put the test routes in the VirtualService, one just before each selected route
 * (`names` as input "routes"), sending requests with the header to the candidate subset; [] when
 * they are already there as planned, and otherwise the old ones are replaced. Every other route
 * stays as it is.
 */
export function addTestRoutePatch(
  spec: VirtualServiceSpec,
  resourceVersion: string,
  header: TestHeader,
  candidate: Color,
  service: ServiceRef,
  names: readonly string[]
): { ops: JsonPatchOp[] } | { error: string } {
  const http = spec.http ?? []
  const { base } = splitTest(http)
  const selected = selectRoutes({ ...spec, http: base }, service, names)
  if ('error' in selected) return selected
  const inserts: [number, HttpRoute][] = []
  for (const [k, shape] of selected.routes.entries()) {
    const route = vsTestRoute(
      base[shape.index] as HttpRoute,
      testRouteName(k),
      header,
      candidate,
      service
    )
    if ('error' in route) return route
    inserts.push([shape.index, route.route])
  }
  return { ops: syncOps(http, '/spec/http', inserts, resourceVersion) }
}

/** Ops that remove every test route from the VirtualService; [] when there is none. */
export function removeTestRoutePatch(
  spec: VirtualServiceSpec,
  resourceVersion: string
): JsonPatchOp[] {
  return syncOps(spec.http ?? [], '/spec/http', [], resourceVersion)
}

const EVERY_PATH: HttpRouteMatch = { path: { type: 'PathPrefix', value: '/' } }

/** The HTTPRoute test rule for one selected rule (see the module comment). */
function ruleTestRoute(
  rule: HttpRouteRule,
  name: string,
  header: TestHeader,
  candidate: Color,
  service: ServiceRef
): { rule: HttpRouteRule } | { error: string } {
  const { name: ruleName, matches, backendRefs, ...rest } = rule
  const label = ruleName ? `"${ruleName}"` : 'of the HTTPRoute'
  const copied: HttpRouteMatch[] = []
  for (const m of matches ?? [EVERY_PATH]) {
    const headers = m.headers ?? []
    if (headers.some((h) => h.name.toLowerCase() === header.name)) {
      return {
        error: `input "test-header": HTTPRoute rule ${label} already matches header "${header.name}"; choose another header name for the test route`
      }
    }
    if (headers.length + 1 > HTTPROUTE_LIMITS.headersPerMatch) {
      return {
        error: `input "test-header": a match of HTTPRoute rule ${label} has ${headers.length} header matches; the test route needs one more and a match may hold ${HTTPROUTE_LIMITS.headersPerMatch}: drop one, or name other rules in input "routes"`
      }
    }
    copied.push({ ...m, headers: [...headers, { type: 'Exact', ...header }] })
  }
  const template = (backendRefs ?? []).find((b) => backendRole(b, service) !== 'other')
  const testRule: HttpRouteRule = {
    name,
    matches: copied,
    ...rest,
    backendRefs: [{ ...template, name: colorServiceName(service.name, candidate), weight: 1 }]
  }
  return { rule: testRule }
}

/**
 * Ops that put the test rules in the HTTPRoute, one just before each selected rule, copying its
 * matches with the header added, with one backendRef to `<service>-<candidate>`; [] when they
 * are already there as planned. Errors when the rules or matches would exceed what the CRD
 * allows (16 rules, 128 matches in all).
 */
export function addTestRulePatch(
  spec: HttpRouteSpec,
  resourceVersion: string,
  header: TestHeader,
  candidate: Color,
  service: ServiceRef,
  names: readonly string[],
  routeName: string
): { ops: JsonPatchOp[] } | { error: string } {
  const rules = spec.rules ?? []
  const { base } = splitTest(rules)
  const selected = selectRules({ ...spec, rules: base }, service, names, routeName)
  if ('error' in selected) return selected
  const inserts: [number, HttpRouteRule][] = []
  for (const [k, shape] of selected.rules.entries()) {
    const rule = ruleTestRoute(
      base[shape.index] as HttpRouteRule,
      testRouteName(k),
      header,
      candidate,
      service
    )
    if ('error' in rule) return rule
    inserts.push([shape.index, rule.rule])
  }
  const ruleCount = base.length + inserts.length
  if (ruleCount > HTTPROUTE_LIMITS.rules) {
    return {
      error: `input "test-header": HTTPRoute ${routeName} has ${base.length} rules and needs ${inserts.length} more for the test route, over the ${HTTPROUTE_LIMITS.rules} an HTTPRoute may hold; merge rules, or name fewer in input "routes"`
    }
  }
  const count = (list: readonly HttpRouteRule[]): number =>
    list.reduce((n, r) => n + (r.matches ?? [EVERY_PATH]).length, 0)
  const matchCount = count(base) + count(inserts.map(([, r]) => r))
  if (matchCount > HTTPROUTE_LIMITS.matchesPerRoute) {
    return {
      error: `input "test-header": with the test route HTTPRoute ${routeName} would hold ${matchCount} matches, over the ${HTTPROUTE_LIMITS.matchesPerRoute} an HTTPRoute may hold; name fewer rules in input "routes"`
    }
  }
  return { ops: syncOps(rules, '/spec/rules', inserts, resourceVersion) }
}

/** Ops that remove every test rule from the HTTPRoute; [] when there is none. */
export function removeTestRulePatch(spec: HttpRouteSpec, resourceVersion: string): JsonPatchOp[] {
  return syncOps(spec.rules ?? [], '/spec/rules', [], resourceVersion)
}
