/**
 * What the sandbox knows about each resource it serves: where it lives in the API, its kind,
 * scope, subresources, and the per-resource rules kube-apiserver applies (registry strategies).
 */
import type { ResourceName } from '../types.js'

/** How metadata.generation moves, as the resource's registry strategy decides. */
export type GenerationPolicy =
  /** No generation at all (Services, Pods, Namespaces, Leases in v1.32). */
  | 'none'
  /** apps/v1 Deployments: spec or annotations changed (annotations are copied to ReplicaSets). */
  | 'spec-or-annotations'
  /** Custom resources: anything outside metadata and status changed. */
  | 'all-but-metadata-and-status'

export interface ResourceInfo {
  name: ResourceName
  /** API group; '' for the core group. */
  group: string
  /** Served versions, preferred (and storage) first. */
  versions: string[]
  kind: string
  listKind: string
  singular: string
  namespaced: boolean
  shortNames: string[]
  categories: string[]
  verbs: string[]
  /** Has the status subresource: main-resource writes keep status, status writes keep the rest. */
  hasStatus: boolean
  hasScale: boolean
  /** PUT without metadata.resourceVersion is allowed (false for custom resources and Leases). */
  allowUnconditionalUpdate: boolean
  /** PUT of a missing object creates it (Services and Leases). */
  allowCreateOnUpdate: boolean
  generation: GenerationPolicy
  /** Custom resource: schema-validated, unstructured (list items keep apiVersion/kind), no SMP. */
  custom: boolean
  /** What DELETE answers: the deleted object or a Success Status. */
  deleteAnswer: 'object' | 'status'
}

const ALL_VERBS = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch'
]

export const ISTIO_GROUP = 'networking.istio.io'
/** Served Istio versions in kube-apiserver's version-priority order (v1 is the storage version). */
export const ISTIO_VERSIONS = ['v1', 'v1beta1', 'v1alpha3']

export const GATEWAY_GROUP = 'gateway.networking.k8s.io'
/** Served Gateway API versions (standard channel): v1 is the storage version. */
export const GATEWAY_VERSIONS = ['v1', 'v1beta1']

export const RESOURCES: Readonly<Record<ResourceName, ResourceInfo>> = {
  namespaces: {
    name: 'namespaces',
    group: '',
    versions: ['v1'],
    kind: 'Namespace',
    listKind: 'NamespaceList',
    singular: 'namespace',
    namespaced: false,
    shortNames: ['ns'],
    categories: [],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    hasStatus: true,
    hasScale: false,
    allowUnconditionalUpdate: true,
    allowCreateOnUpdate: false,
    generation: 'none',
    custom: false,
    deleteAnswer: 'object'
  },
  services: {
    name: 'services',
    group: '',
    versions: ['v1'],
    kind: 'Service',
    listKind: 'ServiceList',
    singular: 'service',
    namespaced: true,
    shortNames: ['svc'],
    categories: ['all'],
    verbs: ALL_VERBS,
    hasStatus: true,
    hasScale: false,
    allowUnconditionalUpdate: true,
    allowCreateOnUpdate: true,
    generation: 'none',
    custom: false,
    deleteAnswer: 'object'
  },
  pods: {
    name: 'pods',
    group: '',
    versions: ['v1'],
    kind: 'Pod',
    listKind: 'PodList',
    singular: 'pod',
    namespaced: true,
    shortNames: ['po'],
    categories: ['all'],
    verbs: ALL_VERBS,
    hasStatus: true,
    hasScale: false,
    allowUnconditionalUpdate: true,
    allowCreateOnUpdate: false,
    generation: 'none',
    custom: false,
    deleteAnswer: 'object'
  },
  deployments: {
    name: 'deployments',
    group: 'apps',
    versions: ['v1'],
    kind: 'Deployment',
    listKind: 'DeploymentList',
    singular: 'deployment',
    namespaced: true,
    shortNames: ['deploy'],
    categories: ['all'],
    verbs: ALL_VERBS,
    hasStatus: true,
    hasScale: true,
    allowUnconditionalUpdate: true,
    allowCreateOnUpdate: false,
    generation: 'spec-or-annotations',
    custom: false,
    deleteAnswer: 'status'
  },
  leases: {
    name: 'leases',
    group: 'coordination.k8s.io',
    versions: ['v1'],
    kind: 'Lease',
    listKind: 'LeaseList',
    singular: 'lease',
    namespaced: true,
    shortNames: [],
    categories: [],
    verbs: ALL_VERBS,
    hasStatus: false,
    hasScale: false,
    // leaseStrategy.AllowUnconditionalUpdate is false: a Lease PUT must name its version.
    allowUnconditionalUpdate: false,
    allowCreateOnUpdate: true,
    generation: 'none',
    custom: false,
    deleteAnswer: 'status'
  },
  virtualservices: {
    name: 'virtualservices',
    group: ISTIO_GROUP,
    versions: ISTIO_VERSIONS,
    kind: 'VirtualService',
    listKind: 'VirtualServiceList',
    singular: 'virtualservice',
    namespaced: true,
    shortNames: ['vs'],
    categories: ['istio-io', 'networking-istio-io'],
    verbs: ALL_VERBS,
    hasStatus: true,
    hasScale: false,
    allowUnconditionalUpdate: false,
    allowCreateOnUpdate: false,
    generation: 'all-but-metadata-and-status',
    custom: true,
    deleteAnswer: 'object'
  },
  destinationrules: {
    name: 'destinationrules',
    group: ISTIO_GROUP,
    versions: ISTIO_VERSIONS,
    kind: 'DestinationRule',
    listKind: 'DestinationRuleList',
    singular: 'destinationrule',
    namespaced: true,
    shortNames: ['dr'],
    categories: ['istio-io', 'networking-istio-io'],
    verbs: ALL_VERBS,
    hasStatus: true,
    hasScale: false,
    allowUnconditionalUpdate: false,
    allowCreateOnUpdate: false,
    generation: 'all-but-metadata-and-status',
    custom: true,
    deleteAnswer: 'object'
  },
  httproutes: {
    name: 'httproutes',
    group: GATEWAY_GROUP,
    versions: GATEWAY_VERSIONS,
    kind: 'HTTPRoute',
    listKind: 'HTTPRouteList',
    singular: 'httproute',
    namespaced: true,
    shortNames: [],
    categories: ['gateway-api'],
    verbs: ALL_VERBS,
    hasStatus: true,
    hasScale: false,
    allowUnconditionalUpdate: false,
    allowCreateOnUpdate: false,
    generation: 'all-but-metadata-and-status',
    custom: true,
    deleteAnswer: 'object'
  }
}

export const RESOURCE_LIST: readonly ResourceInfo[] = Object.values(RESOURCES)

/** The resource served at group/version/plural, if any. */
export function findResource(
  group: string,
  version: string,
  plural: string
): ResourceInfo | undefined {
  return RESOURCE_LIST.find(
    (r) => r.group === group && r.name === plural && r.versions.includes(version)
  )
}

/** `deployments.apps`, `pods`: how kube-apiserver names a group-resource in messages. */
export function qualifiedResource(info: { group: string; name: string }): string {
  return info.group ? `${info.name}.${info.group}` : info.name
}

/** `Deployment.apps`, `Service`: how kube-apiserver names a group-kind in Invalid messages. */
export function qualifiedKind(info: Pick<ResourceInfo, 'group' | 'kind'>): string {
  return info.group ? `${info.kind}.${info.group}` : info.kind
}

export function apiVersionOf(group: string, version: string): string {
  return group ? `${group}/${version}` : version
}

/** The apiVersion objects are stored under (the preferred/storage version). */
export function storageApiVersion(info: ResourceInfo): string {
  return apiVersionOf(info.group, info.versions[0] ?? 'v1')
}
