/**
 * Legacy (unaggregated) discovery documents, the shape kubectl and client-node fall back to when
 * the server does not offer aggregated discovery: /version, /api, /api/v1, /apis, /apis/<g>,
 * /apis/<g>/<v>.
 */
import { RESOURCE_LIST, apiVersionOf, type ResourceInfo } from './resources.js'

export const AUTHORIZATION_GROUP = 'authorization.k8s.io'

export function versionInfo(): Record<string, string> {
  return {
    major: '1',
    minor: '32',
    gitVersion: 'v1.32.0',
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2024-12-11T00:00:00Z',
    goVersion: 'go1.23.4',
    compiler: 'gc',
    platform: 'linux/amd64'
  }
}

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }]
  }
}

interface GroupVersions {
  name: string
  versions: string[]
}

function groups(): GroupVersions[] {
  const out: GroupVersions[] = []
  for (const r of RESOURCE_LIST) {
    if (r.group === '') continue
    const g = out.find((x) => x.name === r.group)
    if (!g) out.push({ name: r.group, versions: [...r.versions] })
  }
  out.push({ name: AUTHORIZATION_GROUP, versions: ['v1'] })
  return out
}

function apiGroup(g: GroupVersions): Record<string, unknown> {
  const versions = g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v }))
  return { name: g.name, versions, preferredVersion: versions[0] }
}

export function apiGroupList(): Record<string, unknown> {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups().map(apiGroup) }
}

export function apiGroupDoc(group: string): Record<string, unknown> | undefined {
  const g = groups().find((x) => x.name === group)
  return g && { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(g) }
}

function resourceEntries(r: ResourceInfo): Array<Record<string, unknown>> {
  const main: Record<string, unknown> = {
    name: r.name,
    singularName: r.singular,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: r.verbs
  }
  if (r.shortNames.length > 0) main.shortNames = r.shortNames
  if (r.categories.length > 0) main.categories = r.categories
  const out = [main]
  if (r.hasScale) {
    out.push({
      name: `${r.name}/scale`,
      singularName: '',
      namespaced: r.namespaced,
      group: 'autoscaling',
      version: 'v1',
      kind: 'Scale',
      verbs: ['get', 'patch', 'update']
    })
  }
  if (r.hasStatus) {
    out.push({
      name: `${r.name}/status`,
      singularName: '',
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: ['get', 'patch', 'update']
    })
  }
  return out
}

export function apiResourceList(
  group: string,
  version: string
): Record<string, unknown> | undefined {
  const groupVersion = apiVersionOf(group, version)
  if (group === AUTHORIZATION_GROUP && version === 'v1') {
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion,
      resources: [
        {
          name: 'selfsubjectaccessreviews',
          singularName: 'selfsubjectaccessreview',
          namespaced: false,
          kind: 'SelfSubjectAccessReview',
          verbs: ['create']
        }
      ]
    }
  }
  const served = RESOURCE_LIST.filter((r) => r.group === group && r.versions.includes(version))
  if (served.length === 0) return undefined
  return {
    kind: 'APIResourceList',
    ...(group === '' ? {} : { apiVersion: 'v1' }),
    groupVersion,
    resources: served.flatMap(resourceEntries)
  }
}
