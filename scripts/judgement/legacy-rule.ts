/**
 * Verdicts: one check (metrics against thresholds) and one step (the checks of a step against
 * the step's limits). "No data" and "too little data" are inconclusive, never a pass.
 */

/** What the metrics source measured for one workload over one analysis window. */
export interface Measurement {
  /** Requests in the window; undefined when Prometheus has no series for the workload. */
  requests?: number
  /** 5xx responses in the window; undefined when there is no series. */
  errors?: number
  /** 99th percentile latency in ms; undefined when there is no series or too few samples. */
  p99Ms?: number
  /** Why the measurement could not be taken (Prometheus down, query error). */
  failure?: string
}

/** The old fixed-threshold rule's limits, kept for the judgement benchmark; not the judge's `Thresholds`. */
export interface LegacyThresholds {
  /** Highest acceptable share of 5xx responses, 0..1. */
  maxErrorRate: number
  /** Highest acceptable p99 latency in ms, when set. */
  maxP99Ms?: number
  /** Fewest requests per window for a check to count. */
  minRequests: number
}

export type CheckVerdict = 'pass' | 'fail' | 'inconclusive'

export interface CheckResult {
  verdict: CheckVerdict
  requests?: number
  errorRate?: number
  p99Ms?: number
  /** Why the check did not pass, one clause per reason; empty on pass. */
  reasons: string[]
}

function percent(rate: number): string {
  return `${(rate * 100).toFixed(2).replace(/\.?0+$/, '')}%`
}

/** Judge one measurement against the thresholds. A failed metric outweighs a missing one. */
export function evaluateCheck(m: Measurement, t: LegacyThresholds): CheckResult {
  if (m.failure !== undefined) {
    return { verdict: 'inconclusive', reasons: [`metrics unavailable: ${m.failure}`] }
  }
  const result: CheckResult = { verdict: 'pass', reasons: [] }
  const failures: string[] = []
  const gaps: string[] = []
  if (m.requests === undefined) {
    gaps.push('no requests recorded for the candidate (no series)')
  } else {
    result.requests = m.requests
    if (m.requests < t.minRequests) {
      gaps.push(`only ${Math.round(m.requests)} requests in the window, need ${t.minRequests}`)
    }
    if (m.requests > 0) {
      const errorRate = (m.errors ?? 0) / m.requests
      result.errorRate = errorRate
      if (errorRate > t.maxErrorRate) {
        failures.push(`error rate ${percent(errorRate)} above ${percent(t.maxErrorRate)}`)
      }
    }
  }
  if (m.p99Ms !== undefined) result.p99Ms = m.p99Ms
  if (t.maxP99Ms !== undefined) {
    if (m.p99Ms === undefined) gaps.push('no latency data for the candidate')
    else if (m.p99Ms > t.maxP99Ms) {
      failures.push(`p99 latency ${Math.round(m.p99Ms)}ms above ${t.maxP99Ms}ms`)
    }
  }
  // Failing metrics count even on thin traffic only when they are unambiguous: with fewer
  // requests than the minimum, a single 5xx would swing the rate, so thin windows stay inconclusive.
  const thin = gaps.length > 0
  if (failures.length > 0 && !thin) return { ...result, verdict: 'fail', reasons: failures }
  if (thin) return { ...result, verdict: 'inconclusive', reasons: [...gaps, ...failures] }
  return result
}

export interface StepLimits {
  /** How long a step bakes, ms. */
  stepDurationMs: number
  /** Consecutive failed checks that end the rollout. */
  failureLimit: number
  /** How many extra step durations a step may bake while its last check is not a pass. */
  maxExtensions: number
}

/** What to do next within a step. */
export type StepVerdict =
  | { kind: 'bake' }
  | { kind: 'advance' }
  | { kind: 'extend'; extension: number; reason: string }
  | { kind: 'rollback'; reason: string }

/**
 * Decide after each check of a step. Fails fast: `failureLimit` consecutive failures roll back at
 * once. When the bake time (extended `extensions` times so far) is over, the step advances only if
 * its latest check passed; otherwise it is extended by one more step duration, up to
 * `maxExtensions` times, and then rolled back.
 */
export function stepVerdict(
  checks: readonly CheckResult[],
  elapsedMs: number,
  extensions: number,
  limits: StepLimits
): StepVerdict {
  let consecutive = 0
  for (let i = checks.length - 1; i >= 0 && checks[i]?.verdict === 'fail'; i--) consecutive++
  const last = checks.at(-1)
  if (last && consecutive >= limits.failureLimit) {
    return {
      kind: 'rollback',
      reason: `${consecutive} consecutive failed checks: ${last.reasons.join('; ')}`
    }
  }
  if (!last || elapsedMs < limits.stepDurationMs * (extensions + 1)) return { kind: 'bake' }
  if (last.verdict === 'pass') return { kind: 'advance' }
  const why = last.reasons.join('; ')
  if (extensions < limits.maxExtensions) {
    return { kind: 'extend', extension: extensions + 1, reason: why }
  }
  const what = last.verdict === 'inconclusive' ? 'still inconclusive' : 'still failing'
  return { kind: 'rollback', reason: `${what} after ${extensions + 1} step durations: ${why}` }
}
