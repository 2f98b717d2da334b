/**
 * The Kubernetes permissions the action needs in the service's namespace: the single source for
 * preflight's SelfSubjectAccessReviews and for the Role printed in the README.
 */
export interface Permission {
  /** API group; '' is the core group. */
  group: string
  resource: string
  verbs: readonly string[]
  why: string
}

export const REQUIRED_PERMISSIONS: readonly Permission[] = [
  {
    group: 'apps',
    resource: 'deployments',
    verbs: ['get', 'list', 'create', 'update', 'patch'],
    why: 'create or update the candidate, scale colors'
  },
  { group: '', resource: 'pods', verbs: ['list'], why: 'explain why a candidate is not ready' },
  { group: '', resource: 'services', verbs: ['get'], why: 'find the service' },
  {
    group: 'networking.istio.io',
    resource: 'virtualservices',
    verbs: ['get', 'patch'],
    why: 'shift route weights'
  },
  {
    group: 'networking.istio.io',
    resource: 'destinationrules',
    verbs: ['get', 'patch'],
    why: 'add the color subsets'
  },
  {
    group: 'coordination.k8s.io',
    resource: 'leases',
    verbs: ['get', 'create', 'update'],
    why: 'lock the service and keep the rollout record'
  }
]

/** The Role that grants exactly REQUIRED_PERMISSIONS, as printed in the README. */
export function roleManifest(namespace: string): object {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'istio-bluegreen', namespace },
    rules: REQUIRED_PERMISSIONS.map((p) => ({
      apiGroups: [p.group],
      resources: [p.resource],
      verbs: [...p.verbs]
    }))
  }
}
