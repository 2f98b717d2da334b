/**
 * The Kubernetes permissions the action needs: the single source for preflight's
 * SelfSubjectAccessReviews and for the Role and ClusterRole printed in the README.
 */
import { GATEWAY_PERMISSIONS } from './adapters/gateway.js'
import { ISTIO_PERMISSIONS } from './adapters/istio.js'
import type { RouterKind } from './inputs.js'
import type { Permission } from './ports.js'

export type { Permission } from './ports.js'

/** The workloads and the service, which every rollout reads or writes whatever its router. */
const WORKLOAD_PERMISSIONS: readonly Permission[] = [
  {
    group: 'apps',
    resource: 'deployments',
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'],
    why: 'create or update the candidate, watch it become ready, scale colors'
  },
  { group: '', resource: 'pods', verbs: ['list'], why: 'explain why a candidate is not ready' },
  { group: '', resource: 'services', verbs: ['get'], why: 'find the service' }
]

/** The lock and the record (the Lease RecordStore). */
const RECORD_PERMISSIONS: readonly Permission[] = [
  {
    group: 'coordination.k8s.io',
    resource: 'leases',
    verbs: ['get', 'create', 'update'],
    why: 'lock the service and keep the rollout record'
  }
]

/**
 * Namespace-scoped permissions in the service's namespace that a rollout with a router needing
 * `router` (TrafficRouter.permissions) needs, in the order the Role lists them; preflight checks
 * each verb.
 */
export function rolloutPermissions(router: readonly Permission[]): Permission[] {
  const merged: Permission[] = []
  // A resource both lists name (the Gateway API router writes Services, which every rollout
  // reads) is one rule: its verbs in order, each once.
  for (const p of [...WORKLOAD_PERMISSIONS, ...router, ...RECORD_PERMISSIONS]) {
    const same = merged.findIndex((m) => m.group === p.group && m.resource === p.resource)
    const found = merged[same]
    if (!found) merged.push({ ...p, verbs: [...p.verbs] })
    else {
      merged[same] = {
        ...found,
        verbs: [...found.verbs, ...p.verbs.filter((v) => !found.verbs.includes(v))],
        why: `${found.why}; ${p.why}`
      }
    }
  }
  return merged
}

/** What each router (TrafficRouter.permissions) needs, by the value of input `router`. */
export const ROUTER_PERMISSIONS: Readonly<Record<RouterKind, readonly Permission[]>> = {
  istio: ISTIO_PERMISSIONS,
  'gateway-api': GATEWAY_PERMISSIONS
}

/** The permissions of a rollout with `router`: its Role. */
export function rolePermissions(router: RouterKind): Permission[] {
  return rolloutPermissions(ROUTER_PERMISSIONS[router])
}

/** The permissions of a rollout with the Istio router: the README's Role. */
export const REQUIRED_PERMISSIONS: readonly Permission[] = rolePermissions('istio')

/** The permissions of a rollout with the Gateway API router: the README's second Role. */
export const GATEWAY_REQUIRED_PERMISSIONS: readonly Permission[] = rolePermissions('gateway-api')

/**
 * The one cluster-scoped permission: asking the API server what this credential may do. Every
 * authenticated user has it through the built-in ClusterRole system:basic-user; preflight checks
 * it by using it.
 */
export const ACCESS_REVIEW_PERMISSION: Permission = {
  group: 'authorization.k8s.io',
  resource: 'selfsubjectaccessreviews',
  verbs: ['create'],
  why: 'check the permissions above before changing anything'
}

/** An RBAC rule, as rbac.authorization.k8s.io/v1 writes it. */
export interface PolicyRule {
  apiGroups: string[]
  resources: string[]
  verbs: string[]
}

interface RbacRole {
  apiVersion: 'rbac.authorization.k8s.io/v1'
  kind: 'Role' | 'ClusterRole'
  metadata: { name: string; namespace?: string }
  rules: PolicyRule[]
}

const rules = (permissions: readonly Permission[]): PolicyRule[] =>
  permissions.map((p) => ({ apiGroups: [p.group], resources: [p.resource], verbs: [...p.verbs] }))

/**
 * The Role that grants exactly the permissions of `router` in `namespace`, and the ClusterRole for
 * ACCESS_REVIEW_PERMISSION (needed only where system:basic-user was taken away), as printed in
 * the README.
 */
export function rbacManifests(
  namespace: string,
  router: RouterKind = 'istio'
): [role: RbacRole, clusterRole: RbacRole] {
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'istio-bluegreen', namespace },
      rules: rules(rolePermissions(router))
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'istio-bluegreen-access-review' },
      rules: rules([ACCESS_REVIEW_PERMISSION])
    }
  ]
}
