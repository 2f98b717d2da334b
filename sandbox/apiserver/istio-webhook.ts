/**
 * Istio's validating admission webhook (`validation.istio.io`, istiod's
 * pkg/config/validation), the rules of it that the action could trip when it writes
 * VirtualServices and DestinationRules: route weights, destinations (host, subset, port), hosts,
 * routes without a target, and DestinationRule subsets. kube-apiserver calls it after schema
 * validation and answers its denial with 400:
 * `admission webhook "validation.istio.io" denied the request: configuration is invalid: weight -10 < 0`.
 *
 * Deliberately not here (the action never writes them): traffic policies, matches, headers,
 * retries, fault injection, CORS, gateways, exportTo, workload selectors, delegate VirtualServices
 * beyond their route rule.
 */
import type { KubeObject, ResourceName } from '../types.js'
import { isObject, type JsonObject } from './json.js'

export const ISTIO_WEBHOOK = 'validation.istio.io'

const DNS1123_LABEL = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/
const WILDCARD_LABEL = /^(?:\*|(?:\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$/
const QUALIFIED_NAME = '(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'
const DNS_PREFIX =
  '[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)*/'
const TAG_KEY = new RegExp(`^(${DNS_PREFIX})?(${QUALIFIED_NAME})$`)
const LABEL_VALUE = new RegExp(`^(${QUALIFIED_NAME})?$`)
const MAX_LABEL = 63

const q = (s: string): string => JSON.stringify(s)
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const obj = (v: unknown): JsonObject => (isObject(v) ? v : {})
const str = (v: unknown): string => (typeof v === 'string' ? v : '')
const num = (v: unknown): number => (typeof v === 'number' ? v : 0)

const isLabel = (s: string): boolean => s.length <= MAX_LABEL && DNS1123_LABEL.test(s)

/** ValidateDNS1123Labels: labels of a domain (the last may be empty), TLD not all digits. */
function dnsLabels(domain: string): string | undefined {
  const parts = domain.split('.')
  const tld = parts[parts.length - 1] ?? ''
  if (/^[+-]?\d+$/.test(tld)) {
    return `domain name ${q(domain)} invalid (top level domain ${q(tld)} cannot be all-numeric)`
  }
  for (const [i, label] of parts.entries()) {
    if (i === parts.length - 1 && label === '') return undefined
    if (!isLabel(label)) return `domain name ${q(domain)} invalid (label ${q(label)} invalid)`
  }
  return undefined
}

/** ValidateWildcardDomain: a DNS name whose first label may be a wildcard. */
function wildcardDomain(domain: string): string | undefined {
  if (domain.length > 255) return `domain name ${q(domain)} too long (max 255)`
  if (domain.length === 0) return 'empty domain name not allowed'
  const dot = domain.indexOf('.')
  const first = dot < 0 ? domain : domain.slice(0, dot)
  if (first.length > MAX_LABEL || !WILDCARD_LABEL.test(first)) {
    return `domain name ${q(domain)} invalid (label ${q(first)} invalid)`
  }
  return dot < 0 ? undefined : dnsLabels(domain.slice(dot + 1))
}

function subsetName(name: string): string | undefined {
  if (name.length === 0) return 'subset name cannot be empty'
  return isLabel(name) ? undefined : `subset name is invalid: ${name}`
}

function destination(d: unknown): string[] {
  if (!isObject(d)) return []
  const errs: string[] = []
  const host = str(d.host)
  const hostError = host === '*' ? `invalid destination host ${host}` : wildcardDomain(host)
  if (hostError) errs.push(hostError)
  const subset = str(d.subset)
  if (subset !== '') {
    const e = subsetName(subset)
    if (e) errs.push(e)
  }
  if (isObject(d.port)) {
    const port = num(d.port.number)
    if (port < 1 || port > 65535) errs.push(`port number ${port} must be in the range 1..65535`)
  }
  return errs
}

/** validateHTTPRouteDestinations / validateRouteDestinations. */
function routeDestinations(routes: unknown[]): string[] {
  const errs: string[] = []
  let total = 0
  for (const r of routes) {
    if (r === null) {
      errs.push('weight may not be nil')
      continue
    }
    const route = obj(r)
    if (!isObject(route.destination)) errs.push('destination is required')
    errs.push(...destination(route.destination))
    const weight = num(route.weight)
    if (weight < 0) errs.push(`weight ${weight} < 0`)
    total += weight
  }
  if (routes.length > 1 && total === 0) errs.push('total destination weight = 0')
  return errs
}

/** validateHTTPRouteConflict: what an HTTP route sends requests to. */
function httpTarget(http: JsonObject): string[] {
  const routes = list(http.route)
  if (http.delegate !== undefined && http.delegate !== null) {
    const errs: string[] = []
    const name = str(http.name)
    if (http.redirect) errs.push(`root HTTP route ${name} must not specify redirect`)
    if (http.route) errs.push(`root HTTP route ${name} must not specify route`)
    return errs
  }
  if (http.redirect) {
    return routes.length > 0 ? ['HTTP route cannot contain both route and redirect'] : []
  }
  if (http.directResponse) {
    return routes.length > 0 ? ['HTTP route cannot contain both route and direct_response'] : []
  }
  return routes.length === 0 ? ['HTTP route, redirect or direct_response is required'] : []
}

/** host.Name.Matches: equal, or one wildcard covers the other. */
function hostsMatch(a: string, b: string): boolean {
  const aw = a.startsWith('*')
  const bw = b.startsWith('*')
  if (aw && bw)
    return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1))
  if (aw) return b.endsWith(a.slice(1))
  if (bw) return a.endsWith(b.slice(1))
  return a === b
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/

function virtualService(spec: JsonObject): string[] {
  const errs: string[] = []
  const hosts = list(spec.hosts).map(str)
  const gateways = list(spec.gateways).map(str)
  const appliesToMesh = gateways.length === 0 || gateways.includes('mesh')
  let hostsValid = true
  for (const host of hosts) {
    const e = wildcardDomain(host)
    if (e) {
      if (!IPV4.test(host) && !host.includes(':')) {
        errs.push(e)
        hostsValid = false
      }
    } else if (appliesToMesh && host === '*') {
      errs.push('wildcard host * is not allowed for virtual services bound to the mesh gateway')
      hostsValid = false
    }
  }
  if (hostsValid) {
    hosts.forEach((a, i) => {
      for (const b of hosts.slice(i + 1)) {
        if (hostsMatch(a, b)) errs.push(`duplicate hosts in virtual service: ${a} & ${b}`)
      }
    })
  }
  const http = list(spec.http)
  if (http.length === 0 && list(spec.tcp).length === 0 && list(spec.tls).length === 0) {
    errs.push('http, tcp or tls must be provided in virtual service')
  }
  for (const h of http) {
    if (!isObject(h)) {
      errs.push('http route may not be null')
      continue
    }
    errs.push(...httpTarget(h), ...destination(h.mirror), ...routeDestinations(list(h.route)))
  }
  for (const r of [...list(spec.tls), ...list(spec.tcp)]) {
    errs.push(...routeDestinations(list(obj(r).route)))
  }
  return errs
}

function destinationRule(spec: JsonObject): string[] {
  const errs: string[] = []
  const hostError = wildcardDomain(str(spec.host))
  if (hostError) errs.push(hostError)
  const seen = new Set<string>()
  for (const s of list(spec.subsets)) {
    if (!isObject(s)) {
      errs.push('subset may not be null')
      continue
    }
    const name = str(s.name)
    if (seen.has(name)) errs.push(`duplicate subset names: ${name}`)
    seen.add(name)
    const e = subsetName(name)
    if (e) errs.push(e)
    for (const [key, value] of Object.entries(obj(s.labels))) {
      const m = TAG_KEY.exec(key)
      if (!m) errs.push(`invalid tag key: ${q(key)}`)
      else if ((m[1]?.length ?? 0) - 1 > 253)
        errs.push(`invalid tag key: ${q(key)} (DNS prefix is too long)`)
      else if ((m[2]?.length ?? 0) > MAX_LABEL)
        errs.push(`invalid tag key: ${q(key)} (name is too long)`)
      if (!LABEL_VALUE.test(str(value))) errs.push(`invalid tag value: ${q(str(value))}`)
    }
  }
  return errs
}

/** hashicorp/go-multierror's default format, as Istio's validation errors print. */
function multiError(errs: string[]): string {
  if (errs.length === 1) return errs[0] ?? ''
  return `${errs.length} errors occurred:\n\t${errs.map((e) => `* ${e}`).join('\n\t')}\n\n`
}

/**
 * The webhook's denial message for an object, or undefined when it admits it:
 * `configuration is invalid: <errors>` (kube-apiserver prefixes the webhook's name).
 */
export function istioDenial(resource: ResourceName, o: KubeObject): string | undefined {
  const spec = obj(o.spec)
  const errs =
    resource === 'virtualservices'
      ? virtualService(spec)
      : resource === 'destinationrules'
        ? destinationRule(spec)
        : []
  return errs.length === 0 ? undefined : `configuration is invalid: ${multiError(errs)}`
}
