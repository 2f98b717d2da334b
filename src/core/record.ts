/** The rollout record: what a run is doing, kept in the cluster so any later run can see it. */
import type { Adoption } from './adoption.js'
import type { Color, ColorWeights } from './color.js'
import { DEFAULT_JUDGE, type JudgeSettings, type JudgeState } from './judge.js'
import { builtinMetrics, type LatencyBuckets, type MetricSpec } from './metrics.js'
import { MAX_ANNOTATIONS_BYTES, utf8Bytes } from './limits.js'
import type { Reporter } from './queries.js'

/** One check at a glance: a regression, a check that lacked data, or neither. */
export type CheckVerdict = 'pass' | 'fail' | 'inconclusive'

/**
 * `deploying → shifting ⇄ paused → promoted | rolled-back | failed`. `failed`: the action could
 * not bring traffic to a safe state by itself; the record's reason says what a person must do.
 */
export type Phase = 'deploying' | 'shifting' | 'paused' | 'promoted' | 'rolled-back' | 'failed'

/**
 * In flight: a rollout under way, holding traffic between colors or about to (deploying,
 * shifting, paused). Not `failed`: a failed rollout may hold traffic between colors too, but only
 * a person's rollback moves it. Undefined (no record) is not in flight.
 */
export function inFlight(phase: Phase | undefined): boolean {
  return phase === 'deploying' || phase === 'shifting' || phase === 'paused'
}

/**
 * Running: a run drives the rollout (deploying, shifting), as opposed to paused, where it waits
 * for a person. Found in a record whose run is gone, the rollout was interrupted.
 */
export function running(phase: Phase | undefined): boolean {
  return phase === 'deploying' || phase === 'shifting'
}

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
  /**
   * The service had no colors: this rollout's run copied `adopted.deployment` into
   * `<service>-blue`. Once the rollout ends, whichever run ends it scales the original to 0.
   */
  adopted?: Adoption
  /** The judge's evidence so far, carried across steps and the runs that continue the rollout. */
  evidence?: JudgeState
}

/** Checks kept in the record; older ones are dropped so the annotation stays small. */
export const MAX_RECORDED_CHECKS = 200

/**
 * Bytes the record's JSON may take in its annotation: half of what kube allows for all of an
 * object's annotations together (MAX_ANNOTATIONS_BYTES, 256 KiB), so whatever else a person or
 * a tool annotates the Lease with has the other half.
 */
export const RECORD_BUDGET_BYTES = MAX_ANNOTATIONS_BYTES / 2

/** Longest `reason` kept: a server's error message can quote a whole object. */
export const MAX_REASON_CHARS = 2000

/** The record cannot fit its budget even without checks (its config alone is too big). */
export class RecordTooLargeError extends Error {
  constructor(bytes: number, budget: number) {
    super(
      `the rollout record takes ${bytes} bytes without any check, more than the ${budget} it may take in its Lease annotation: shorten the queries in input "metrics"`
    )
    this.name = 'RecordTooLargeError'
  }
}

function clip(text: string | undefined): string | undefined {
  return text === undefined || text.length <= MAX_REASON_CHARS
    ? text
    : `${text.slice(0, MAX_REASON_CHARS - 1)}…`
}

/**
 * The record as it may be written: at most MAX_RECORDED_CHECKS checks, its reason clipped, and
 * its JSON within `budget` bytes (UTF-8, as kube counts), the oldest checks dropped first. The
 * checks are measured once each, so a full record costs one pass, not one per dropped check.
 * Throws RecordTooLargeError when even no checks do not fit.
 */
export function boundRecord(
  record: RolloutRecord,
  budget: number = RECORD_BUDGET_BYTES
): RolloutRecord {
  const reason = clip(record.reason)
  const checks = record.checks.slice(-MAX_RECORDED_CHECKS)
  const clipped = reason === record.reason ? record : { ...record, reason }
  const base = utf8Bytes(JSON.stringify({ ...clipped, checks: [] }))
  if (base > budget) throw new RecordTooLargeError(base, budget)
  const sizes = checks.map((c) => utf8Bytes(JSON.stringify(c)))
  // JSON of n checks: "[" + the checks joined by "," + "]"; base already counts "[]".
  let total = base + sizes.reduce((a, b) => a + b, 0) + Math.max(0, sizes.length - 1)
  let drop = 0
  while (total > budget && drop < sizes.length) {
    total -= (sizes[drop] as number) + (sizes.length - drop > 1 ? 1 : 0)
    drop++
  }
  if (drop === 0 && checks.length === record.checks.length && clipped === record) return record
  return { ...clipped, checks: checks.slice(drop) }
}

/** The annotation value that holds the record: its JSON, within RECORD_BUDGET_BYTES. */
export function recordAnnotation(record: RolloutRecord): string {
  return JSON.stringify(boundRecord(record))
}

/** Append a check, keeping the newest checks that fit (see boundRecord). */
export function withCheck(record: RolloutRecord, entry: CheckEntry): RolloutRecord {
  return boundRecord({ ...record, checks: [...record.checks, entry] })
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
