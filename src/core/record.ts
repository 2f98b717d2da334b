/** The rollout record: what a run is doing, kept in the cluster so any later run can see it. */
import type { Color, ColorWeights } from './color.js'
import type { CheckVerdict } from './analysis.js'

export type Phase = 'deploying' | 'shifting' | 'promoted' | 'rolled-back' | 'failed'

export interface Owner {
  repository?: string
  runId?: string
  runUrl?: string
  actor?: string
  sha?: string
}

/** One check as the report shows it. */
export interface CheckEntry {
  at: string
  /** Index into `steps`. */
  step: number
  /** Candidate weight during the check, percent. */
  weight: number
  verdict: CheckVerdict
  requests?: number
  errorRate?: number
  p99Ms?: number
  stable?: { requests?: number; errorRate?: number; p99Ms?: number }
  reasons: string[]
}

export interface RolloutRecord {
  id: string
  phase: Phase
  service: string
  namespace: string
  stable: { color: Color; image?: string }
  candidate: { color: Color; image?: string }
  steps: number[]
  /** Index of the step reached; -1 before the first weight is written. */
  step: number
  /** The color weights the action last wrote. */
  weights: ColorWeights
  /** resourceVersion of the VirtualService after the action's last write. */
  virtualServiceVersion?: string
  startedAt: string
  heartbeatAt: string
  finishedAt?: string
  owner: Owner
  /** Why the rollout ended as it did (rolled back, failed). */
  reason?: string
  checks: CheckEntry[]
}

/** Checks kept in the record; older ones are dropped so the annotation stays small. */
export const MAX_RECORDED_CHECKS = 200

/** Append a check, keeping the newest MAX_RECORDED_CHECKS. */
export function withCheck(record: RolloutRecord, entry: CheckEntry): RolloutRecord {
  return { ...record, checks: [...record.checks, entry].slice(-MAX_RECORDED_CHECKS) }
}
