/** The rollout record: what a run is doing, kept in the cluster so any later run can see it. */
import type { Color, ColorWeights } from './color.js'
import { DEFAULT_JUDGE, type JudgeSettings, type JudgeState } from './judge.js'
import { builtinMetrics, type LatencyBuckets, type MetricSpec } from './metrics.js'
import { MAX_ANNOTATIONS_BYTES, utf8Bytes } from './limits.js'
import type { Reporter } from './queries.js'
import type { TestHeader } from './test-route.js'

/** One check at a glance: a regression, a check that lacked data, or neither. */
export type CheckVerdict = 'pass' | 'fail' | 'inconclusive'

/**
 * `deploying → shifting ⇄ paused → promoted | rolled-back | failed`. `failed`: the action could
 * not bring traffic to a safe state by itself; the record's reason says what a person must do.
 */
export type Phase = 'deploying' | 'shifting' | 'paused' | 'promoted' | 'rolled-back' | 'failed'

/** What the rollout record keeps of an adoption. */
export interface Adoption {
  /** The original Deployment copied into `<service>-blue`. */
  deployment: string
  /** When the original was found at (or scaled to) zero replicas; it is not touched again. */
  scaledDownAt?: string
}

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
 * The settings a rollout keeps for its whole life, as inputs.ts reads them: `Settings` extends
 * this, and a rollout's config is picked from it (pickRolloutSettings), never copied by hand.
 */
export interface RolloutSettings {
  colorLabel: string
  stepDurationMs: number
  checkIntervalMs: number
  readyTimeoutMs: number
  maxErrorRate: number
  maxP99Ms?: number
  /** Range of `{{ window }}` in custom metrics, and of preflight's look at the stable's traffic. */
  analysisWindowMs: number
  /** How many extra step durations a step may bake while its evidence is not enough. */
  maxInconclusive: number
  /** 1 − α: how sure the judge must be before it rolls back (and, as 1 − β, before 100%). */
  confidence: number
  /** r0: how many times the stable's bad share the candidate may have and still count as no worse. */
  tolerance: number
  /** r_bad: the regression that must be ruled out before the candidate takes 100%. */
  maxRegression: number
  /** A bad share too small to matter; undefined: a quarter of each metric's limit (≤ 0.25%). */
  negligibleRate?: number
  /** What a step whose evidence stays short after every extension does. */
  onInconclusive: 'pause' | 'rollback'
  reporter: Reporter
  previousColor: 'keep' | 'scale-down'
  /**
   * Candidate weight at which the rollout pauses: one of steps, once that step passes; or 0,
   * before the first step, with the candidate ready and only the test route reaching it.
   */
  pauseAt?: number
  /**
   * Input `test-header`: while the rollout runs, requests with this header go to the candidate
   * whatever the weights (the test route); every way the rollout ends removes it.
   */
  testHeader?: TestHeader
  /** What a run does when the weights changed behind its back. */
  onDrift: 'pause' | 'rollback'
}

/** Every key of RolloutSettings, once: what pickRolloutSettings copies. */
export const ROLLOUT_SETTINGS = [
  'colorLabel',
  'stepDurationMs',
  'checkIntervalMs',
  'readyTimeoutMs',
  'maxErrorRate',
  'maxP99Ms',
  'analysisWindowMs',
  'maxInconclusive',
  'confidence',
  'tolerance',
  'maxRegression',
  'negligibleRate',
  'onInconclusive',
  'reporter',
  'previousColor',
  'pauseAt',
  'testHeader',
  'onDrift'
] as const satisfies readonly (keyof RolloutSettings)[]

// A key added to RolloutSettings but not to ROLLOUT_SETTINGS fails to compile here.
const everySetting: Exclude<keyof RolloutSettings, (typeof ROLLOUT_SETTINGS)[number]> extends never
  ? true
  : never = true
void everySetting

/** The rollout's own settings out of the run's (which hold credentials and more). */
export function pickRolloutSettings(s: Readonly<RolloutSettings>): RolloutSettings {
  const picked: Record<string, unknown> = {}
  for (const key of ROLLOUT_SETTINGS) if (s[key] !== undefined) picked[key] = s[key]
  return picked as unknown as RolloutSettings
}

/**
 * The traffic router a rollout shifts, in router-neutral terms: its kind, the API version it
 * talks, the objects it writes the weights of (each alike), and which of their routes. A router
 * of another kind (Gateway API HTTPRoutes, with a per-color Service each) is one more member.
 */
export type RouterConfig = IstioRouterConfig | GatewayRouterConfig

export interface IstioRouterConfig {
  kind: 'istio'
  /** networking.istio.io version the rollout talks (v1, v1beta1, v1alpha3). */
  apiVersion: string
  /** The VirtualServices whose weights the rollout shifts, every one alike, in this order. */
  objects: string[]
  /** Names of the HTTP routes to shift in each; empty: every route to the service. */
  routes: string[]
  /** The DestinationRule that holds the color subsets. */
  destinationRule: string
}

/**
 * Gateway API HTTPRoutes (input `router: gateway-api`): each color is its own Service
 * `<service>-<color>`, which the router creates; no object beside the HTTPRoutes is named.
 */
export interface GatewayRouterConfig {
  kind: 'gateway-api'
  /** gateway.networking.k8s.io version the rollout talks (v1, v1beta1). */
  apiVersion: string
  /** The HTTPRoutes whose weights the rollout shifts, every one alike, in this order. */
  objects: string[]
  /** Names of the rules to shift in each; empty: every rule with a backendRef to the service. */
  routes: string[]
}

/** Settings a record written before the judge (or before on-drift) may lack. */
type LaterSettings = 'confidence' | 'tolerance' | 'maxRegression' | 'onInconclusive' | 'onDrift'

/**
 * How the rollout routes and analyses, fixed when it starts: a later promote or resume continues
 * with the same plan and thresholds, whatever inputs the operator's workflow passes.
 */
export type RolloutConfig = Omit<RolloutSettings, LaterSettings> &
  Partial<Pick<RolloutSettings, LaterSettings>> & {
    router: RouterConfig
    /** Without credentials: a later run brings its own. */
    prometheusUrl: string
    /**
     * Every metric the rollout judges, built-in and the user's, with its PromQL; absent in
     * records written before the judge, which are judged on 5xx alone.
     */
    metrics?: MetricSpec[]
    /** The latency histogram buckets chosen from the stable when the rollout started. */
    buckets?: LatencyBuckets
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

/** The record format this code writes; see core/schema.ts for reading older ones. */
export const RECORD_SCHEMA = 2

export interface RolloutRecord {
  /** Format of the record; records of the first release have none (see core/schema.ts). */
  schema: typeof RECORD_SCHEMA
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
  /** resourceVersion of each router object after the action's last write, by object name. */
  routerVersions?: Record<string, string>
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
