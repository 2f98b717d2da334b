/**
 * After the first release through an adopted Deployment: whether to scale the original to zero.
 * The original (e.g. `reviews`) was copied into `<service>-blue`; once routes name the color
 * subsets it gets no routed traffic but keeps its replicas, so when that release has ended it is
 * scaled to 0 (never deleted). Pure: the caller reads the cluster and does what this says.
 */
import type { Phase } from './record.js'

/** What the rollout record keeps of an adoption. */
export interface Adoption {
  /** The original Deployment copied into `<service>-blue`. */
  deployment: string
  /** When the original was found at (or scaled to) zero replicas; it is not touched again. */
  scaledDownAt?: string
}

export interface RetireInput {
  phase: Phase
  adopted?: Adoption
  /** The original Deployment's replicas now; undefined when it no longer exists. */
  originalReplicas?: number
  /** Whether a selected route still sends to the Service without subsets (original serves). */
  routesBare: boolean
  /** Whether the color now taking all traffic is available. */
  servingReady: boolean
}

export type RetireDecision =
  /** Nothing was adopted, or the original was already retired. */
  | { kind: 'none' }
  /** Not yet: the reason says why the original must keep its replicas for now. */
  | { kind: 'wait'; reason: string }
  /** Already at zero or gone (a person did it, or a run that crashed after scaling): record it. */
  | { kind: 'record'; deployment: string; note: string }
  | { kind: 'scale-down'; deployment: string; replicas: number }

const ENDED: readonly Phase[] = ['promoted', 'rolled-back']

export function retireDecision(input: RetireInput): RetireDecision {
  const { adopted } = input
  if (!adopted || adopted.scaledDownAt !== undefined) return { kind: 'none' }
  if (!ENDED.includes(input.phase)) {
    return { kind: 'wait', reason: `the release through it is ${input.phase}` }
  }
  if (input.routesBare) {
    return {
      kind: 'wait',
      reason: 'a route still sends to the Service without a color subset, so its pods still serve'
    }
  }
  if (!input.servingReady) {
    return { kind: 'wait', reason: 'the color that takes the traffic is not available' }
  }
  if (input.originalReplicas === undefined) {
    return { kind: 'record', deployment: adopted.deployment, note: 'it no longer exists' }
  }
  if (input.originalReplicas === 0) {
    return { kind: 'record', deployment: adopted.deployment, note: 'it is already at 0 replicas' }
  }
  return { kind: 'scale-down', deployment: adopted.deployment, replicas: input.originalReplicas }
}
