/**
 * How long a rollout needs to reach a decision at the stable's current traffic, for `plan`,
 * preflight and the judgement benchmark. Each log-likelihood statistic of the judge is a sum over
 * bad events, which arrive as Poisson processes, so its mean and variance grow linearly within a
 * step; a decision is "expected by" the first time the mean less Z standard deviations reaches the
 * threshold, so the estimate holds for about 99% of runs, not just the average one.
 */
import {
  absoluteGrid,
  candidateShare,
  CHECK_CAP,
  FIRST_STEP_WEIGHT,
  type JudgedMetric,
  type JudgeSettings,
  NEGLIGIBLE_GRID,
  negligibleRate,
  RELATIVE_GRID,
  type RatioMetric,
  thresholds
} from './judge.js'

/** One-sided 99% normal quantile. */
export const Z_99 = 2.326

/** The stable's traffic as Prometheus shows it now. */
export interface TrafficNow {
  /** Requests per second to the stable color (the whole service before a release). */
  rps: number
  /** Bad share of each ratio metric on the stable, by metric name. */
  badShare: Readonly<Record<string, number>>
}

export interface RolloutShape {
  steps: readonly number[]
  stepDurationMs: number
  maxExtensions: number
  /**
   * Time between checks: one check adds at most CHECK_CAP to the relative test, so at high
   * traffic its rollbacks come no sooner than a few checks. Undefined: no such limit.
   */
  checkIntervalMs?: number
}

/** How many tests a metric averages into its rollback e-value: each alone needs that much more. */
function tests(m: RatioMetric): number {
  const limit = m.maxRate !== undefined && m.maxRate > 0 && absoluteGrid(m.maxRate).length > 0
  return (m.relative ? 1 : 0) + (limit ? 1 : 0)
}

/** Mean and variance per second of one statistic at one weight. */
interface Drift {
  mean: number
  variance: number
}

/**
 * Drift of the relative statistic ln(π(r1)/π(r0)) per bad event when the candidate is really
 * `truth` × the stable, at candidate weight `weight` (percent) and `rps` to the service.
 */
function relativeDrift(
  rps: number,
  share: number,
  weight: number,
  truth: number,
  r1: number,
  r0: number
): Drift {
  if (weight <= 0 || weight >= 100) return { mean: 0, variance: 0 }
  const w = weight / (100 - weight)
  const fromCandidate = (rps * weight * truth * share) / 100
  const fromStable = (rps * (100 - weight) * share) / 100
  const a = Math.log(candidateShare(r1, w) / candidateShare(r0, w))
  const b = Math.log((1 - candidateShare(r1, w)) / (1 - candidateShare(r0, w)))
  return {
    mean: fromCandidate * a + fromStable * b,
    variance: fromCandidate * a * a + fromStable * b * b
  }
}

/** Drift of the absolute statistic of p1 against the limit p0, the candidate's share being `p`. */
function absoluteDrift(rps: number, weight: number, p: number, p1: number, p0: number): Drift {
  const n = (rps * weight) / 100
  const a = Math.log(p1 / p0)
  const b = Math.log((1 - p1) / (1 - p0))
  const mean = n * (p * a + (1 - p) * b)
  // Bad events are Poisson(n·p) and good ones Poisson(n·(1−p)).
  return { mean, variance: n * (p * a * a + (1 - p) * b * b) }
}

/** The weights of a rollout in time: each step's duration, the gate's step with its extensions. */
function phases(shape: RolloutShape, untilGate: boolean): Array<{ weight: number; ms: number }> {
  const gate = shape.steps.findIndex((w, i) => shape.steps[i + 1] === 100)
  const out: Array<{ weight: number; ms: number }> = []
  shape.steps.forEach((weight, i) => {
    if (untilGate && gate >= 0 && i > gate) return
    const ms =
      shape.stepDurationMs *
      (i === gate || i === shape.steps.length - 1 ? 1 + shape.maxExtensions : 1)
    out.push({ weight, ms })
  })
  return out
}

/** A drift slowed to at most `cap` log-evidence per check (the relative test's per-check cap). */
function capped(d: Drift, checkIntervalMs: number | undefined): Drift {
  if (checkIntervalMs === undefined) return d
  const perSecond = CHECK_CAP / (checkIntervalMs / 1000)
  if (d.mean <= perSecond) return d
  const scale = perSecond / d.mean
  return { mean: perSecond, variance: d.variance * scale * scale }
}

/** First time (ms from the start) at which mean − Z·sd of a statistic reaches `level`. */
function timeToReach(
  level: number,
  drift: (weight: number) => Drift,
  parts: Array<{ weight: number; ms: number }>,
  checkIntervalMs?: number
): number | undefined {
  let mean = 0
  let variance = 0
  let t = 0
  for (const { weight, ms } of parts) {
    const d = capped(drift(weight), checkIntervalMs)
    // Within a part, mean − Z·sd is concave in time: step through it a second at a time (at most
    // 3600 points a part), so a long part still gives a time as fine as a short one.
    const points = Math.min(3600, Math.max(10, Math.ceil(ms / 1000)))
    for (let k = 1; k <= points; k++) {
      const dt = ((ms / points) * k) / 1000
      const m = mean + d.mean * dt
      const v = variance + d.variance * dt
      if (m - Z_99 * Math.sqrt(v) >= level) return t + (ms * k) / points
    }
    mean += (d.mean * ms) / 1000
    variance += (d.variance * ms) / 1000
    t += ms
  }
  return undefined
}

export interface MetricEstimate {
  metric: string
  /** Compared with the stable, and so shown safe before 100%; a limit-only metric is not. */
  relative: boolean
  /** When a healthy candidate is shown safe (ms from the first weight); undefined: not in time. */
  safeByMs?: number
  /**
   * When a `maxRegression` × regression is rolled back; undefined: not before the step that puts
   * the candidate at 100%, where such a candidate pauses as inconclusive instead.
   */
  regressionByMs?: number
}

export interface DecisionEstimate {
  metrics: MetricEstimate[]
  /** Longest a rollout can bake, with every extension. */
  maxMs: number
  /** Until the end of the step before 100%, with its extensions. */
  gateMs: number
  /**
   * Whether a step below 100% comes before the step to 100%: without one (steps `100`) the
   * candidate is never compared with the stable, and only the limits judge it.
   */
  compared: boolean
}

/** Estimate, per ratio metric, when a healthy release and a regression would be decided. */
export function estimateDecisions(
  metrics: readonly JudgedMetric[],
  s: JudgeSettings,
  shape: RolloutShape,
  traffic: TrafficNow
): DecisionEstimate {
  const t = thresholds(metrics, s)
  const toGate = phases(shape, true)
  const all = phases(shape, false)
  const sum = (parts: Array<{ ms: number }>): number => parts.reduce((a, p) => a + p.ms, 0)
  const ratio = metrics.filter((m): m is RatioMetric => m.kind === 'ratio')
  const out: MetricEstimate[] = ratio.map((m) => {
    const share = traffic.badShare[m.name] ?? 0
    const estimate: MetricEstimate = { metric: m.name, relative: m.relative }
    if (m.relative) {
      const relative = timeToReach(
        t.safety,
        (w) => relativeDrift(traffic.rps, share, w, s.tolerance, s.tolerance, s.maxRegression),
        toGate
      )
      // Or shown below the negligible share, on the grid point that gets there fastest.
      const neg = negligibleRate(m, s)
      const p = Math.min(0.99, share * s.tolerance)
      const negligible =
        p < neg
          ? Math.min(
              ...NEGLIGIBLE_GRID.map(
                (g) =>
                  timeToReach(
                    t.negligible + Math.log(NEGLIGIBLE_GRID.length),
                    (w) => absoluteDrift(traffic.rps, w, p, g * neg, neg),
                    toGate
                  ) ?? Infinity
              )
            )
          : Infinity
      const safe = Math.min(relative ?? Infinity, negligible)
      if (Number.isFinite(safe)) estimate.safeByMs = safe
    }
    const bad = s.maxRegression
    // The mixture's weight on the grid point nearest the regression costs ln(grid size).
    const g = RELATIVE_GRID.reduce((best, x) =>
      Math.abs(x - bad / s.tolerance) < Math.abs(best - bad / s.tolerance) ? x : best
    )
    const relative = m.relative
      ? timeToReach(
          (t.rollback[m.name] ?? Infinity) + Math.log(RELATIVE_GRID.length) + Math.log(tests(m)),
          (w) => relativeDrift(traffic.rps, share, w, bad, g * s.tolerance, s.tolerance),
          toGate,
          shape.checkIntervalMs
        )
      : undefined
    let absolute: number | undefined
    if (m.maxRate !== undefined && m.maxRate > 0 && m.maxRate < 1) {
      const limit = m.maxRate
      const grid = absoluteGrid(limit)
      const p = Math.min(0.99, share * bad)
      if (p > limit && grid.length > 0) {
        const a = grid.reduce((best, x) =>
          Math.abs(x * limit - p) < Math.abs(best * limit - p) ? x : best
        )
        // A regression from the first step has FIRST_STEP_WEIGHT of the test when later steps
        // may start their own (LaterComponents).
        const first = shape.steps.length > 1 ? Math.log(1 / FIRST_STEP_WEIGHT) : 0
        absolute = timeToReach(
          (t.rollback[m.name] ?? Infinity) + Math.log(grid.length) + Math.log(tests(m)) + first,
          (w) => absoluteDrift(traffic.rps, w, p, a * limit, limit),
          toGate
        )
      }
    }
    const times = [relative, absolute].filter((x): x is number => x !== undefined)
    if (times.length > 0) estimate.regressionByMs = Math.min(...times)
    return estimate
  })
  const compared = shape.steps.some((w, i) => shape.steps[i + 1] === 100)
  return { metrics: out, maxMs: sum(all), gateMs: sum(toGate), compared }
}

/** For one step held at its weight: when each decision would come, from no evidence. */
export interface StepEstimate {
  weight: number
  /** Slowest metric's time to show a healthy candidate safe at this weight; undefined: within an hour, never. */
  safeMs?: number
  /** Slowest metric's time to roll a `maxRegression` × regression back at this weight. */
  regressionMs?: number
}

const HOUR_MS = 3_600_000

/** How long each step below 100% would need on its own to reach each decision. */
export function stepEstimates(
  metrics: readonly JudgedMetric[],
  s: JudgeSettings,
  steps: readonly number[],
  traffic: TrafficNow
): StepEstimate[] {
  return steps
    .filter((w) => w < 100)
    .map((weight) => {
      const one = estimateDecisions(
        metrics,
        s,
        { steps: [weight, 100], stepDurationMs: HOUR_MS, maxExtensions: 0 },
        traffic
      )
      const relative = one.metrics.filter((m) =>
        metrics.some((x) => x.name === m.metric && x.kind === 'ratio' && x.relative)
      )
      const slowest = (pick: (m: MetricEstimate) => number | undefined): number | undefined => {
        const times = relative.map(pick)
        return times.some((t) => t === undefined) ? undefined : Math.max(0, ...(times as number[]))
      }
      const e: StepEstimate = { weight }
      const safe = slowest((m) => m.safeByMs)
      const regression = slowest((m) => m.regressionByMs)
      if (safe !== undefined) e.safeMs = safe
      if (regression !== undefined) e.regressionMs = regression
      return e
    })
}
