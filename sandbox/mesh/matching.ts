/**
 * Which route a simulated request takes: the match semantics of VirtualService `http[].match`
 * (first route in list order whose match list has a match that holds; a route without `match`
 * takes everything) and of HTTPRoute `rules[].matches` (the Gateway API's precedence across
 * every match of every route attached to a parent). Pure functions of the configuration and the
 * request's shape; no I/O.
 */

/** What the matchers see of a request. Header names are lower case, as Envoy sees them. */
export interface RequestShape {
  path: string
  method: string
  headers: Readonly<Record<string, string>>
}

/** The simulated clients' ordinary requests: `GET /` with no header a route could match on. */
export const BACKGROUND_REQUEST: RequestShape = Object.freeze({
  path: '/',
  method: 'GET',
  headers: Object.freeze({})
})

/** Lower-cases header names, as HTTP/2 and Envoy do. */
export function requestShape(o: {
  path?: string
  method?: string
  headers?: Record<string, string>
}): RequestShape {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(o.headers ?? {})) headers[k.toLowerCase()] = v
  return { path: o.path ?? '/', method: (o.method ?? 'GET').toUpperCase(), headers }
}

function rec(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : {}
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : []
}

/** RE2 regexes as Envoy applies them: the whole value must match. */
function fullMatch(pattern: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})$`, 'u').test(value)
  } catch {
    // A pattern JavaScript cannot read matches nothing, as a refused route would.
    return false
  }
}

/** Istio StringMatch (`exact`, `prefix`, `regex`) against a value that may be absent. */
function stringMatch(m: unknown, value: string | undefined, ignoreCase = false): boolean {
  const s = rec(m)
  if (value === undefined) return false
  const v = ignoreCase ? value.toLowerCase() : value
  const want = (x: unknown): string => (ignoreCase ? String(x).toLowerCase() : String(x))
  if (typeof s.exact === 'string') return v === want(s.exact)
  if (typeof s.prefix === 'string') return v.startsWith(want(s.prefix))
  if (typeof s.regex === 'string') return fullMatch(s.regex, value)
  // An empty StringMatch: Istio treats `headers: {x: {}}` as "present".
  return true
}

/** Conditions of an HTTPMatchRequest the simulator evaluates; any other one never holds. */
const VS_MODELLED = new Set(['name', 'uri', 'method', 'headers', 'withoutHeaders', 'ignoreUriCase'])

/** Whether one VirtualService HTTPMatchRequest holds for the request. */
export function virtualServiceMatch(match: unknown, r: RequestShape): boolean {
  const m = rec(match)
  // sourceLabels, gateways, port, queryParams, authority, ...: not modelled, so not matched:
  // the background traffic must never land on a route the simulator cannot judge.
  if (Object.keys(m).some((k) => !VS_MODELLED.has(k))) return false
  if (m.uri !== undefined && !stringMatch(m.uri, r.path, m.ignoreUriCase === true)) return false
  if (m.method !== undefined && !stringMatch(m.method, r.method)) return false
  for (const [name, cond] of Object.entries(rec(m.headers))) {
    if (!stringMatch(cond, r.headers[name.toLowerCase()])) return false
  }
  for (const [name, cond] of Object.entries(rec(m.withoutHeaders))) {
    const v = r.headers[name.toLowerCase()]
    if (v !== undefined && stringMatch(cond, v)) return false
  }
  return true
}

/** Index of the VirtualService HTTP route a request takes, or -1 (Envoy: 404 NR). */
export function virtualServiceRoute(http: readonly unknown[], r: RequestShape): number {
  return http.findIndex((route) => {
    const match = arr(rec(route).match)
    return match.length === 0 || match.some((m) => virtualServiceMatch(m, r))
  })
}

/** Gateway API path match, `PathPrefix` element-wise ("/foo" matches "/foo/bar", not "/foobar"). */
function pathMatch(path: unknown, value: string): boolean {
  const p = rec(path)
  const type = typeof p.type === 'string' ? p.type : 'PathPrefix'
  const want = typeof p.value === 'string' ? p.value : '/'
  if (type === 'Exact') return value === want
  if (type === 'RegularExpression') return fullMatch(want, value)
  const prefix = want.length > 1 && want.endsWith('/') ? want.slice(0, -1) : want
  if (prefix === '/') return true
  return value === prefix || value.startsWith(`${prefix}/`)
}

/** Whether one HTTPRouteMatch holds (path, headers, method; queryParams never: none are sent). */
export function httpRouteMatch(match: unknown, r: RequestShape): boolean {
  const m = rec(match)
  if (!pathMatch(m.path, r.path)) return false
  if (typeof m.method === 'string' && m.method !== r.method) return false
  for (const h of arr(m.headers).map(rec)) {
    const v = r.headers[String(h.name ?? '').toLowerCase()]
    if (v === undefined) return false
    if (h.type === 'RegularExpression') {
      if (!fullMatch(String(h.value ?? ''), v)) return false
    } else if (v !== h.value) return false
  }
  return arr(m.queryParams).length === 0
}

/** One HTTPRoute match (or a rule's implicit catch-all) in precedence order. */
export interface RankedMatch<T> {
  match: unknown
  /** The rule this match belongs to. */
  target: T
  route: { created: string; id: string }
  ruleIndex: number
  matchIndex: number
}

function precedence(match: unknown): [number, number, number, number, number] {
  const m = rec(match)
  const path = rec(m.path)
  const type = typeof path.type === 'string' ? path.type : 'PathPrefix'
  const value = typeof path.value === 'string' ? path.value : '/'
  return [
    type === 'Exact' ? 1 : 0,
    type === 'PathPrefix' ? value.length : 0,
    typeof m.method === 'string' ? 1 : 0,
    arr(m.headers).length,
    arr(m.queryParams).length
  ]
}

/**
 * Sorts matches by the Gateway API's precedence: Exact path, longest prefix, method, most header
 * matches, most query-param matches; then the oldest route, then `namespace/name`, then rule
 * and match order.
 */
export function rankMatches<T>(matches: readonly RankedMatch<T>[]): RankedMatch<T>[] {
  return [...matches].sort((a, b) => {
    const pa = precedence(a.match)
    const pb = precedence(b.match)
    for (let i = 0; i < pa.length; i++) {
      const d = (pb[i] ?? 0) - (pa[i] ?? 0)
      if (d !== 0) return d
    }
    if (a.route.created !== b.route.created) return a.route.created < b.route.created ? -1 : 1
    if (a.route.id !== b.route.id) return a.route.id < b.route.id ? -1 : 1
    return a.ruleIndex - b.ruleIndex || a.matchIndex - b.matchIndex
  })
}

/** The first ranked match that holds for the request, if any (none: 404). */
export function firstMatching<T>(
  ranked: readonly RankedMatch<T>[],
  r: RequestShape
): RankedMatch<T> | undefined {
  return ranked.find((m) => httpRouteMatch(m.match, r))
}
