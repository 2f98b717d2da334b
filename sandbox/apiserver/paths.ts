/** URL paths of kube-apiserver, parsed into what a request addresses. No I/O. */

export type Route =
  | { type: 'version' }
  | { type: 'health' }
  | { type: 'apiVersions' }
  | { type: 'groupList' }
  | { type: 'group'; group: string }
  | { type: 'resourceList'; group: string; version: string }
  | {
      type: 'resource'
      group: string
      version: string
      resource: string
      namespace?: string
      name?: string
      subresource?: string
    }
  | { type: 'openapiV2' }
  | { type: 'openapiRoot' }
  | { type: 'openapiGroupVersion'; group: string; version: string }
  | { type: 'unknown' }

/** Subresources of a namespace itself (`/api/v1/namespaces/<name>/status`). */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize'])

export function parsePath(pathname: string): Route {
  const parts = pathname
    .split('/')
    .filter((p) => p.length > 0)
    .map(decodeURIComponent)
  const [root, ...rest] = parts
  if (root === 'version' && rest.length === 0) return { type: 'version' }
  if ((root === 'healthz' || root === 'livez' || root === 'readyz') && rest.length <= 1) {
    return { type: 'health' }
  }
  if (root === 'openapi' && rest[0] === 'v2' && rest.length === 1) return { type: 'openapiV2' }
  if (root === 'openapi' && rest[0] === 'v3') {
    if (rest.length === 1) return { type: 'openapiRoot' }
    if (rest[1] === 'api' && rest.length === 3)
      return { type: 'openapiGroupVersion', group: '', version: rest[2] ?? '' }
    if (rest[1] === 'apis' && rest.length === 4) {
      return { type: 'openapiGroupVersion', group: rest[2] ?? '', version: rest[3] ?? '' }
    }
    return { type: 'unknown' }
  }
  if (root === 'api') {
    if (rest.length === 0) return { type: 'apiVersions' }
    const [version, ...tail] = rest
    return resourcePath('', version ?? '', tail)
  }
  if (root === 'apis') {
    if (rest.length === 0) return { type: 'groupList' }
    const [group, version, ...tail] = rest
    if (version === undefined) return { type: 'group', group: group ?? '' }
    return resourcePath(group ?? '', version, tail)
  }
  return { type: 'unknown' }
}

function resourcePath(group: string, version: string, tail: string[]): Route {
  if (tail.length === 0) return { type: 'resourceList', group, version }
  const base = { type: 'resource' as const, group, version }
  if (group === '' && tail[0] === 'namespaces' && tail.length >= 3) {
    const [, ns, third, name, sub, ...extra] = tail
    if (tail.length === 3 && NAMESPACE_SUBRESOURCES.has(third ?? '')) {
      return { ...base, resource: 'namespaces', name: ns, subresource: third }
    }
    if (extra.length > 0) return { type: 'unknown' }
    return { ...base, resource: third ?? '', namespace: ns, name, subresource: sub }
  }
  if (group !== '' && tail[0] === 'namespaces' && tail.length >= 3) {
    const [, ns, resource, name, sub, ...extra] = tail
    if (extra.length > 0) return { type: 'unknown' }
    return { ...base, resource: resource ?? '', namespace: ns, name, subresource: sub }
  }
  const [resource, name, sub, ...extra] = tail
  if (extra.length > 0) return { type: 'unknown' }
  return { ...base, resource: resource ?? '', name, subresource: sub }
}
