/**
 * Deciding, without I/O, what an injected fault or an RBAC denial does to one request. The
 * server applies the decision.
 */
import type { DenyRule, FaultRule, RoleRule } from '../types.js'

/** What the request is, in authorization terms (verb as RBAC names it). */
export interface RequestFacts {
  verb: string
  /** API group ('' for core); absent for non-resource paths. */
  group?: string
  /** Plural resource; absent for discovery and other non-resource paths. */
  resource?: string
  subresource?: string
  namespace?: string
}

export type FaultAction = 'none' | 'drop' | 'error500' | 'error503' | 'conflict'

export interface FaultDecision {
  latencyMs: number
  action: FaultAction
}

/** The resource as RBAC names it: `deployments`, or `deployments/scale` for a subresource. */
export function rbacResource(req: { resource?: string; subresource?: string }): string {
  return req.subresource ? `${req.resource ?? ''}/${req.subresource}` : (req.resource ?? '')
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection'])

function ruleMatches(rule: FaultRule, req: RequestFacts): boolean {
  if (rule.verbs && !rule.verbs.includes(req.verb)) return false
  if (rule.resources) {
    if (!req.resource) return false
    if (!rule.resources.includes(req.resource) && !rule.resources.includes(rbacResource(req)))
      return false
  }
  return true
}

/**
 * Latency of all matching rules adds up; the first rule whose dice say so picks the action, in
 * the order drop, error, conflict (conflicts only for writes).
 */
export function decideFault(
  rules: readonly FaultRule[],
  req: RequestFacts,
  random: () => number = Math.random
): FaultDecision {
  let latencyMs = 0
  let action: FaultAction = 'none'
  for (const rule of rules) {
    if (!ruleMatches(rule, req)) continue
    latencyMs += Math.max(0, rule.latencyMs ?? 0)
    if (action !== 'none') continue
    if ((rule.dropRate ?? 0) > 0 && random() < (rule.dropRate ?? 0)) action = 'drop'
    else if ((rule.errorRate ?? 0) > 0 && random() < (rule.errorRate ?? 0)) {
      action = random() < 0.5 ? 'error500' : 'error503'
    } else if (
      WRITE_VERBS.has(req.verb) &&
      (rule.conflictRate ?? 0) > 0 &&
      random() < (rule.conflictRate ?? 0)
    ) {
      action = 'conflict'
    }
  }
  return { latencyMs, action }
}

/**
 * Whether a DenyRule forbids the request. Like RBAC, a rule for `deployments` says nothing about
 * `deployments/status`; `*` matches any verb or resource.
 */
export function isDenied(rules: readonly DenyRule[], req: RequestFacts): boolean {
  if (!req.resource) return false
  const full = rbacResource(req)
  return rules.some(
    (r) =>
      (r.verb === '*' || r.verb === req.verb) &&
      (r.resource === '*' || r.resource === full) &&
      (r.namespace === undefined || r.namespace === req.namespace)
  )
}

/** The authorization group and resource every authenticated user may create (system:basic-user). */
const ACCESS_REVIEW = { group: 'authorization.k8s.io', resource: 'selfsubjectaccessreviews' }

/**
 * Whether a Role grants the request, as RBAC does: a rule for `deployments` does not cover
 * `deployments/scale`. Without a Role (undefined) everything is granted. Creating a
 * SelfSubjectAccessReview is always granted, as the built-in ClusterRole system:basic-user does
 * for every authenticated user; non-resource paths (discovery) likewise.
 */
export function roleAllows(role: readonly RoleRule[] | undefined, req: RequestFacts): boolean {
  if (role === undefined || !req.resource) return true
  if (req.group === ACCESS_REVIEW.group && req.resource === ACCESS_REVIEW.resource) return true
  const full = rbacResource(req)
  return role.some(
    (r) =>
      (r.apiGroups.includes('*') || r.apiGroups.includes(req.group ?? '')) &&
      (r.resources.includes('*') || r.resources.includes(full)) &&
      (r.verbs.includes('*') || r.verbs.includes(req.verb))
  )
}

/** Whether the request is forbidden: denied by a rule, or not granted by the Role. */
export function isForbidden(
  denials: readonly DenyRule[],
  role: readonly RoleRule[] | undefined,
  req: RequestFacts
): boolean {
  return isDenied(denials, req) || !roleAllows(role, req)
}
