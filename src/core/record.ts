/** The rollout record: what a run is doing, kept in the cluster so any later run can see it. */
import type { Color, ColorWeights } from './color.js'
import { DEFAULT_JUDGE, type JudgeSettings, type JudgeState } from './judge.js'
import { builtinMetrics, type LatencyBuckets, type MetricSpec } from './metrics.js'
import type { Reporter } from './queries.js'

/** One check at a glance: a regression, a check that lacked data, or neither. */
export type CheckVerdict = 'pass' | 'fail' | 'inconclusive'

/**
 * `deploying → shifting ⇄ paused → promoted | rolled-back | failed`. `failed`: the action could
 * not bring traffic to a safe state by itself; the record's reason says what a person must do.
 */
export type Phase = 'deploying' | 'shifting' | 'paused' | 'promoted' | 'rolled-back' | 'failed'

/** Phases in which a rollout holds traffic between colors or is about to. */
export const IN_FLIGHT: readonly Phase[] = ['deploying', 'shifting', 'paused']

/**
 * How the rollout routes and analyses, fixed when it starts: a later promote or resume continues
 * with the same plan and thresholds, whatever inputs the operator's workflow passes.
 */
export interface RolloutConfig {
  virtualService: string
  destinationRule: string
  routes: string[]
  colorLabel: string
  istioVersion: string
  stepDurationMs: number
  checkIntervalMs: number
  readyTimeoutMs: number
  prometheusUrl: string
  maxErrorRate: number
  maxP99Ms?: number
  analysisWindowMs: number
  maxInconclusive: number
  /** 1 − α (and 1 − β) of the judge; absent in records written before the judge. */
  confidence?: number
  tolerance?: number
  maxRegression?: number
  negligibleRate?: number
  onInconclusive?: 'pause' | 'rollback'
  /**
   * Every metric the rollout judges, built-in and the user's, with its PromQL; absent in records
   * written before the judge, which are judged on 5xx alone.
   */
  metrics?: MetricSpec[]
  /** The latency histogram buckets chosen from the stable when the rollout started. */
  buckets?: LatencyBuckets
  reporter: Reporter
  previousColor: 'keep' | 'scale-down'
  /** Candidate weight at which the rollout pauses once that step passes. */
  pauseAt?: number
  /** What to do when the weights changed behind the rollout's back. */
  onDrift?: 'pause' | 'rollback'
}

export interface Owner {
  repository?: string
  runId?: string
  runUrl?: string
  actor?: string
  sha?: string
}

/** One metric at one check: its counts since the previous check and how far its tests are. */
export interface MetricEntry {
  /** Candidate's [bad, total] since the previous check (ratio metrics). */
  c?: [number, number]
  /** Stable's [bad, total] since the previous check. */
  s?: [number, number]
  /** The gauge's value. */
  v?: number
  /** Share of the way to a rollback, 0..1 (the nearer of the relative and limit tests). */
  r?: number
  /** Share of the way to shown safe for 100%, 0..1. */
  ok?: number
  /** Why the check had no data for it. */
  none?: string
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
  /** Every judged metric, by name (records written before the judge have none). */
  metrics?: Record<string, MetricEntry>
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
  config: RolloutConfig
  /** Index into steps of the step reached; -1 before the first weight is written. */
  step: number
  /** The color weights the action last wrote. */
  weights: ColorWeights
  /** resourceVersion of the VirtualService after the action's last write. */
  virtualServiceVersion?: string
  startedAt: string
  heartbeatAt: string
  finishedAt?: string
  /** Who started the rollout. */
  owner: Owner
  /** The run that holds (or last held) its lock: the owner's, or one that took it over. */
  heldBy?: { id: string; runUrl?: string }
  /** Why the rollout ended as it did (rolled back, failed). */
  reason?: string
  /**
   * Who stopped it by hand, when a person's command ended it: the command, the actor, and the run
   * that took the rollout over (its lock, live holder or not) to do it.
   */
  stoppedBy?: { command: 'rollback' | 'abort'; actor?: string; runUrl?: string; at: string }
  /** A rollback right after promotion, switching back to the color that still ran. */
  instant?: boolean
  /** The GitHub deployment that tracks this rollout, and the one it replaces. */
  github?: { deploymentId?: number; replacesDeploymentId?: number }
  checks: CheckEntry[]
  /** The judge's evidence so far, carried across steps and the runs that continue the rollout. */
  evidence?: JudgeState
}

/** Checks kept in the record; older ones are dropped so the annotation stays small. */
export const MAX_RECORDED_CHECKS = 200

/** Append a check, keeping the newest MAX_RECORDED_CHECKS. */
export function withCheck(record: RolloutRecord, entry: CheckEntry): RolloutRecord {
  return { ...record, checks: [...record.checks, entry].slice(-MAX_RECORDED_CHECKS) }
}

/**
 * The metrics a rollout judges. A record written before the judge has none recorded: it is
 * judged on its 5xx share alone, with the limit it recorded.
 */
export function metricSpecsOf(config: RolloutConfig): MetricSpec[] {
  return (
    config.metrics ??
    builtinMetrics({
      reporter: config.reporter,
      maxErrorRate: config.maxErrorRate,
      buckets: config.buckets ?? {}
    })
  )
}

/** The judge's settings of a rollout (defaults for a record written before the judge). */
export function judgeSettingsOf(config: RolloutConfig): JudgeSettings {
  const confidence = config.confidence ?? 0.99
  return {
    alpha: 1 - confidence,
    beta: 1 - confidence,
    tolerance: config.tolerance ?? DEFAULT_JUDGE.tolerance,
    maxRegression: config.maxRegression ?? DEFAULT_JUDGE.maxRegression,
    ...(config.negligibleRate === undefined ? {} : { negligibleRate: config.negligibleRate })
  }
}
