/**
 * The judge: sequential tests over counts, so that a verdict carries a guarantee however many
 * checks, steps and extensions a rollout has.
 *
 * Each ratio metric (5xx share, share of slow requests, a user's bad/total counters) is judged
 * from the counts since the previous check:
 * - **relative**: given the bad events of both colors, which color they came from. If the
 *   candidate's bad share is `r` times the stable's and it served `w` requests per stable
 *   request, a bad event is the candidate's with probability `π(r) = r·w / (1 + r·w)`, whatever
 *   the stable's own rate: a downstream outage that hits both colors cancels out. A mixture of
 *   likelihood ratios over regressions `g·r0` is an e-process under "no worse than `r0` × stable":
 *   by Ville's inequality it ever reaches `1/α` with probability at most `α`.
 * - **absolute**: the candidate's own bad share against the user's limit, the same way, and
 *   also from the start of each later step (a mixture over those starts, see
 *   LaterComponents): a candidate that turns bad when its weight grows is judged on what it does
 *   since, not held back by the evidence of the healthy steps before.
 * - **safety**: before the candidate takes 100% the evidence must show it is not `r_bad` ×
 *   worse than stable (or that its bad share is negligible); not enough evidence is
 *   inconclusive, never a pass and never a failure.
 * Gauges (a user's query with min/max) have no sampling model: they fail when they are out of
 * bounds at GAUGE_FAILURES checks in a row, and no data is inconclusive.
 *
 * Everything here is a pure function over plain data; the state round-trips through JSON (it is
 * kept in the rollout record so that a later run continues with the same evidence).
 */

/** How the tests are set: the user's inputs, fixed in the record when the rollout starts. */
export interface JudgeSettings {
  /** Highest chance, per rollout, that a candidate no worse than stable is rolled back. */
  alpha: number
  /** Highest chance that a candidate `maxRegression` × worse than stable is promoted. */
  beta: number
  /** `r0`: how much worse than stable (as a ratio) still counts as no worse. */
  tolerance: number
  /** `r_bad`: the regression that must be ruled out before the candidate takes 100%. */
  maxRegression: number
  /** A bad share too small to matter, for every ratio metric; default per metric (see below). */
  negligibleRate?: number
}

export const DEFAULT_JUDGE: JudgeSettings = {
  alpha: 0.01,
  beta: 0.01,
  tolerance: 1,
  maxRegression: 3
}

/** Regressions (multiples of `tolerance`) the relative test mixes over. */
export const RELATIVE_GRID: readonly number[] = [1.5, 2, 3, 5, 10]
/** Multiples of the limit the absolute test mixes over (those below 100%). */
export const ABSOLUTE_GRID: readonly number[] = [2, 3, 5, 10, 20]
/**
 * Share of the absolute test's weight on a regression there from the first step; the rest is
 * split evenly over the starts of the later steps (see LaterComponents). Most of it stays on the
 * first step, where a bad release usually shows, so the test costs ln(1/0.75) ≈ 0.29 more there
 * than with all of it; a candidate that turns bad at step s of n costs ln(4(n−1)) instead of the
 * evidence the healthy steps gathered against it, which grows with every check.
 */
export const FIRST_STEP_WEIGHT = 0.75
/** Most one check may add to the relative test's log-evidence: one burst cannot decide alone. */
export const CHECK_CAP = Math.log(10)
/** Checks in a row a gauge must be out of bounds to fail. */
export const GAUGE_FAILURES = 2
/**
 * By default a bad share below a quarter of the metric's limit (of 1% when it has none, and
 * never more than 0.25%) counts as negligible: a candidate shown below it is safe without a
 * comparison, which a stable with (almost) no bad events cannot give. A quarter keeps the
 * promise for regressions of 3× or more of any stable share above a twelfth of the limit.
 */
export const NEGLIGIBLE_FRACTION = 0.25
/** The shares (multiples of the negligible share) the negligible test mixes over. */
export const NEGLIGIBLE_GRID: readonly number[] = [0.5, 0.2, 0.05]

/** A ratio metric: bad events among all events, per color. */
export interface RatioMetric {
  kind: 'ratio'
  /** Shown in logs, reasons and the report: `errors`, `latency`, or the user's name. */
  name: string
  /** What a bad event is, in words: `5xx`, `slower than 250ms`. */
  what: string
  /** Compared with the stable color (relative test and safety). */
  relative: boolean
  /** Highest acceptable bad share, 0..1, judged on the candidate alone. */
  maxRate?: number
}

/** A gauge: one number per color, judged against the user's bounds. */
export interface GaugeMetric {
  kind: 'gauge'
  name: string
  min?: number
  max?: number
}

export type JudgedMetric = RatioMetric | GaugeMetric

/** Counts of one color since the previous check. */
export interface Counts {
  total: number
  bad: number
}

/** What one check read for one metric: counts or a value per color, or why there is none. */
export type MetricSample =
  | { kind: 'ratio'; candidate: Counts; stable?: Counts }
  | { kind: 'gauge'; value: number }
  | { kind: 'none'; reason: string }

/** The evidence of one ratio metric so far. */
export interface RatioEvidence {
  kind: 'ratio'
  /** Σ min(ℓ(g·r0; r0), cap) per g of RELATIVE_GRID. */
  regression: number[]
  /** Σ ℓ(r0; r_bad): positive is evidence that the candidate is not r_bad × worse. */
  safety: number
  /** Σ log-likelihood ratio of g × limit against the limit, per g of ABSOLUTE_GRID. */
  overLimit: number[]
  /**
   * The absolute test's components that start at later steps; absent in evidence from before
   * they were kept, whose absolute test is `overLimit` alone, with all the weight.
   */
  later?: LaterComponents
  /** Σ log-likelihood ratio of g × the negligible share against it, per g of NEGLIGIBLE_GRID. */
  negligible: number[]
  /** Counts judged so far, per color. */
  candidate: Counts
  stable: Counts
}

/**
 * The absolute test as a mixture over where a regression starts: a product of likelihood ratios
 * from the first check (`overLimit`, weight FIRST_STEP_WEIGHT) and one from the start of each
 * later step s (weight (1 − FIRST_STEP_WEIGHT)/(n − 1) each, for n steps). Each product is a
 * nonnegative supermartingale starting at 1 under "the share is at most the limit" (a component
 * counts as 1 until its step starts), and the weights sum to 1, so the mixture is an e-process
 * too: Ville's inequality holds for it as for one product, however the steps go. A component
 * is added when its step starts and never twice (a resumed step keeps the one it has).
 */
export interface LaterComponents {
  /** The rollout's number of steps, n. */
  steps: number
  /** The last step whose component was added (0: none yet). */
  started: number
  /**
   * ln Σ over the started steps s of (weight within the later steps, 1/(n − 1)) × Π of the
   * likelihood ratios since s, per g of ABSOLUTE_GRID; empty until a later step starts.
   */
  sums: number[]
}

export interface GaugeEvidence {
  kind: 'gauge'
  /** Checks in a row out of bounds. */
  outOfBounds: number
  last?: number
}

export type Evidence = RatioEvidence | GaugeEvidence

/** The judge's whole state: evidence per metric, by name. */
export type JudgeState = Record<string, Evidence>

/**
 * No evidence yet. With `steps` (the rollout's number of steps) the absolute test also starts
 * anew at each later step (LaterComponents); without, it is one product over every check.
 */
export function emptyEvidence(metric: JudgedMetric, steps?: number): Evidence {
  if (metric.kind === 'gauge') return { kind: 'gauge', outOfBounds: 0 }
  return {
    kind: 'ratio',
    regression: RELATIVE_GRID.map(() => 0),
    safety: 0,
    overLimit: ABSOLUTE_GRID.map(() => 0),
    ...(steps !== undefined && steps > 1 ? { later: { steps, started: 0, sums: [] } } : {}),
    negligible: NEGLIGIBLE_GRID.map(() => 0),
    candidate: { total: 0, bad: 0 },
    stable: { total: 0, bad: 0 }
  }
}

/** The judge's state before the first check of a rollout of `steps` steps (see emptyEvidence). */
export function initialState(metrics: readonly JudgedMetric[], steps?: number): JudgeState {
  return Object.fromEntries(metrics.map((m) => [m.name, emptyEvidence(m, steps)]))
}

/** ln(e^a + e^b) without overflow. */
function logAddExp(a: number, b: number): number {
  const top = Math.max(a, b)
  if (top === -Infinity) return -Infinity
  return top + Math.log(Math.exp(a - top) + Math.exp(b - top))
}

/**
 * Step `index` (0-based) starts: the absolute test gains the component that starts there, unless
 * that step (or a later one) has one already, as when a resumed run starts its step again.
 */
export function enterStep(state: JudgeState, index: number): JudgeState {
  const next: JudgeState = { ...state }
  for (const [name, e] of Object.entries(state)) {
    const later = e.kind === 'ratio' ? e.later : undefined
    if (e.kind !== 'ratio' || !later || index < 1 || index <= later.started) continue
    if (index >= later.steps) continue
    const w = Math.log(1 / (later.steps - 1))
    const sums =
      later.sums.length > 0 ? later.sums.map((x) => logAddExp(x, w)) : ABSOLUTE_GRID.map(() => w)
    next[name] = { ...e, later: { ...later, started: index, sums } }
  }
  return next
}

/** `x·ln(x/y)` with the convention 0·ln(0/y) = 0. */
function xlog(x: number, ratio: number): number {
  return x === 0 ? 0 : x * Math.log(ratio)
}

/** The chance that a bad event is the candidate's, at regression `r` and request ratio `w`. */
export function candidateShare(r: number, w: number): number {
  return (r * w) / (1 + r * w)
}

/**
 * ℓ(r; r0): log-likelihood ratio of "candidate r × stable" against "r0 × stable" for one
 * interval's counts. Zero when either color served nothing (no comparison possible).
 */
export function relativeLlr(candidate: Counts, stable: Counts, r: number, r0: number): number {
  if (candidate.total <= 0 || stable.total <= 0) return 0
  const w = candidate.total / stable.total
  const p = candidateShare(r, w)
  const p0 = candidateShare(r0, w)
  return xlog(candidate.bad, p / p0) + xlog(stable.bad, (1 - p) / (1 - p0))
}

/** Log-likelihood ratio of bad share `p1` against `p0` for `bad` of `total` events. */
export function binomialLlr(total: number, bad: number, p1: number, p0: number): number {
  const good = Math.max(0, total - bad)
  if (p0 <= 0) return bad > 0 ? Infinity : xlog(good, 1 - p1)
  return xlog(bad, p1 / p0) + xlog(good, (1 - p1) / (1 - p0))
}

/** ln(mean of exp(x)) without overflow. */
export function logMeanExp(xs: readonly number[]): number {
  if (xs.length === 0) return -Infinity
  const top = Math.max(...xs)
  if (top === Infinity) return Infinity
  if (top === -Infinity) return -Infinity
  return top + Math.log(xs.reduce((s, x) => s + Math.exp(x - top), 0) / xs.length)
}

/** Multiples of the limit the absolute test uses: those that stay below a share of 1. */
export function absoluteGrid(maxRate: number): number[] {
  return ABSOLUTE_GRID.filter((g) => g * maxRate < 1)
}

/** The share under which a metric's bad events count as negligible. */
export function negligibleRate(metric: RatioMetric, s: JudgeSettings): number {
  if (s.negligibleRate !== undefined) return s.negligibleRate
  const limit = metric.maxRate !== undefined && metric.maxRate > 0 ? metric.maxRate : 0.01
  return Math.min(limit, 0.01) * NEGLIGIBLE_FRACTION
}

/**
 * Whether the absolute test runs: a limit strictly between 0 and 1 that leaves some alternative
 * of the grid below a share of 1 (a limit of 50% or more has none: it can never be exceeded by
 * twice its share).
 */
function hasLimit(metric: RatioMetric): metric is RatioMetric & { maxRate: number } {
  return (
    metric.maxRate !== undefined &&
    metric.maxRate > 0 &&
    metric.maxRate < 1 &&
    absoluteGrid(metric.maxRate).length > 0
  )
}

/**
 * Ratio metrics with at least one rollback test. A metric's tests (relative, limit) are averaged
 * into one e-value (an average of e-processes under the same null is one), and α is split over
 * these metrics by weight (a union bound), so the whole rollout keeps its α.
 */
export function judgedForRollback(metrics: readonly JudgedMetric[]): RatioMetric[] {
  return metrics.filter((m): m is RatioMetric => m.kind === 'ratio' && (m.relative || hasLimit(m)))
}

/**
 * Each metric's share of α is its weight over the total: the 5xx share, what every rollout is
 * about, weighs twice as much as any other, so it decides sooner for the same α.
 */
export function alphaWeight(metric: RatioMetric): number {
  return metric.name === 'errors' ? 2 : 1
}

/** Log-thresholds of one rollout's tests. */
export interface Thresholds {
  /** ln(1/α_metric) per metric name: a metric's log e-value at or above it rolls back. */
  rollback: Readonly<Record<string, number>>
  /** ln(1/β_relative): the relative safety statistic at or above it is shown. */
  safety: number
  /** ln(1/β_negligible): the negligible statistic at or above it is shown. */
  negligible: number
}

/** Share of β given to the relative safety path; the negligible path gets the rest. */
const RELATIVE_BETA_SHARE = 0.9

export function thresholds(metrics: readonly JudgedMetric[], s: JudgeSettings): Thresholds {
  const tested = judgedForRollback(metrics)
  const total = tested.reduce((sum, m) => sum + alphaWeight(m), 0)
  return {
    rollback: Object.fromEntries(
      tested.map((m) => [m.name, Math.log(total / (s.alpha * alphaWeight(m)))])
    ),
    safety: Math.log(1 / (s.beta * RELATIVE_BETA_SHARE)),
    negligible: Math.log(1 / (s.beta * (1 - RELATIVE_BETA_SHARE)))
  }
}

/** Add one check's counts of a ratio metric to its evidence. */
export function addRatio(
  e: RatioEvidence,
  metric: RatioMetric,
  candidate: Counts,
  stable: Counts | undefined,
  s: JudgeSettings
): RatioEvidence {
  const next: RatioEvidence = {
    ...e,
    candidate: { total: e.candidate.total + candidate.total, bad: e.candidate.bad + candidate.bad },
    stable: {
      total: e.stable.total + (stable?.total ?? 0),
      bad: e.stable.bad + (stable?.bad ?? 0)
    }
  }
  if (metric.relative && stable) {
    const r0 = s.tolerance
    next.regression = e.regression.map(
      (sum, i) =>
        sum +
        Math.min(relativeLlr(candidate, stable, (RELATIVE_GRID[i] as number) * r0, r0), CHECK_CAP)
    )
    next.safety = e.safety + relativeLlr(candidate, stable, r0, s.maxRegression)
  }
  if (hasLimit(metric)) {
    const grid = absoluteGrid(metric.maxRate)
    const llr = grid.map((g) =>
      binomialLlr(candidate.total, candidate.bad, g * metric.maxRate, metric.maxRate)
    )
    next.overLimit = e.overLimit.map((sum, i) => sum + (llr[i] ?? 0))
    if (e.later && e.later.sums.length > 0) {
      next.later = { ...e.later, sums: e.later.sums.map((sum, i) => sum + (llr[i] ?? 0)) }
    }
  }
  const neg = negligibleRate(metric, s)
  next.negligible = e.negligible.map(
    (sum, i) =>
      sum + binomialLlr(candidate.total, candidate.bad, (NEGLIGIBLE_GRID[i] as number) * neg, neg)
  )
  return next
}

/** ln of the relative test's e-value (the mixture over RELATIVE_GRID). */
export function regressionLogE(e: RatioEvidence): number {
  return logMeanExp(e.regression)
}

/**
 * ln of the absolute test's e-value: the mixture over the grid below 100% and, where the
 * evidence has them, over the steps a regression may start at (LaterComponents).
 */
export function overLimitLogE(e: RatioEvidence, metric: RatioMetric): number {
  if (!hasLimit(metric)) return -Infinity
  const n = absoluteGrid(metric.maxRate).length
  if (!e.later) return logMeanExp(e.overLimit.slice(0, n))
  const { sums } = e.later
  return logMeanExp(
    e.overLimit
      .slice(0, n)
      .map((a, i) =>
        logAddExp(
          Math.log(FIRST_STEP_WEIGHT) + a,
          sums.length > 0 ? Math.log(1 - FIRST_STEP_WEIGHT) + (sums[i] as number) : -Infinity
        )
      )
  )
}

/** ln of the negligible test's e-value (the mixture over NEGLIGIBLE_GRID). */
export function negligibleLogE(e: RatioEvidence): number {
  return logMeanExp(e.negligible)
}

/**
 * ln of a metric's rollback e-value: the average of its relative and limit tests' e-values
 * (whichever it has); -Infinity when it has neither.
 */
export function rollbackLogE(e: RatioEvidence, metric: RatioMetric): number {
  const parts = [
    ...(metric.relative ? [regressionLogE(e)] : []),
    ...(hasLimit(metric) ? [overLimitLogE(e, metric)] : [])
  ]
  return logMeanExp(parts)
}

/** Whether a ratio metric has shown the candidate safe to take 100%. */
export function shownSafe(e: RatioEvidence, t: Thresholds): boolean {
  return e.safety >= t.safety || negligibleLogE(e) >= t.negligible
}

/** Share of the way to shown safe, 0..1: the nearer of the two paths. */
export function safetyProgress(e: RatioEvidence, t: Thresholds): number {
  return Math.max(0, Math.min(1, Math.max(e.safety / t.safety, negligibleLogE(e) / t.negligible)))
}

/** One metric's finding at a check. */
export type Finding =
  | { kind: 'regressed'; metric: string; reason: string }
  | { kind: 'ok'; metric: string }
  | { kind: 'no-data'; metric: string; reason: string }

function percent(rate: number): string {
  if (!Number.isFinite(rate)) return 'n/a'
  const digits = rate >= 0.1 ? 1 : rate >= 0.001 ? 2 : 3
  return `${(rate * 100).toFixed(digits)}%`
}

/** `3/1200 = 0.25%` */
export function shareText(c: Counts): string {
  return c.total > 0
    ? `${Math.round(c.bad)}/${Math.round(c.total)} = ${percent(c.bad / c.total)}`
    : 'no requests'
}

function ratioText(r: number): string {
  return `${Number(r.toFixed(2))}×`
}

/** Judge one check: add every sample to the evidence and say what each metric shows. */
export function judgeCheck(
  state: JudgeState,
  metrics: readonly JudgedMetric[],
  samples: Readonly<Record<string, MetricSample>>,
  s: JudgeSettings
): { state: JudgeState; findings: Finding[] } {
  const t = thresholds(metrics, s)
  const next: JudgeState = { ...state }
  const findings: Finding[] = []
  for (const metric of metrics) {
    const sample = samples[metric.name] ?? { kind: 'none', reason: 'not measured' }
    const before = state[metric.name] ?? emptyEvidence(metric)
    if (sample.kind === 'none') {
      if (before.kind === 'gauge') next[metric.name] = { ...before, outOfBounds: 0 }
      findings.push({ kind: 'no-data', metric: metric.name, reason: sample.reason })
      continue
    }
    if (metric.kind === 'gauge' && sample.kind === 'gauge' && before.kind === 'gauge') {
      const out =
        (metric.max !== undefined && sample.value > metric.max) ||
        (metric.min !== undefined && sample.value < metric.min)
      const e: GaugeEvidence = {
        kind: 'gauge',
        outOfBounds: out ? before.outOfBounds + 1 : 0,
        last: sample.value
      }
      next[metric.name] = e
      if (e.outOfBounds >= GAUGE_FAILURES) {
        const bound =
          metric.max !== undefined && sample.value > metric.max
            ? `above max ${metric.max}`
            : `below min ${metric.min}`
        findings.push({
          kind: 'regressed',
          metric: metric.name,
          reason: `${metric.name} ${sample.value} ${bound} at ${e.outOfBounds} checks in a row`
        })
      } else findings.push({ kind: 'ok', metric: metric.name })
      continue
    }
    if (metric.kind === 'ratio' && sample.kind === 'ratio' && before.kind === 'ratio') {
      const e = addRatio(before, metric, sample.candidate, sample.stable, s)
      next[metric.name] = e
      const c = `candidate ${shareText(e.candidate)} ${metric.what}`
      const relativeWins =
        !hasLimit(metric) || (metric.relative && regressionLogE(e) >= overLimitLogE(e, metric))
      const threshold = t.rollback[metric.name] ?? Infinity
      if (rollbackLogE(e, metric) >= threshold && relativeWins) {
        const ratio =
          e.stable.total > 0 && e.stable.bad > 0 && e.candidate.total > 0
            ? ` (${ratioText(e.candidate.bad / e.candidate.total / (e.stable.bad / e.stable.total))})`
            : ''
        findings.push({
          kind: 'regressed',
          metric: metric.name,
          reason: `${metric.name}: ${c}, worse than stable ${shareText(e.stable)}${ratio} at ${confidenceText(s.alpha)} confidence`
        })
      } else if (rollbackLogE(e, metric) >= threshold) {
        findings.push({
          kind: 'regressed',
          metric: metric.name,
          reason: `${metric.name}: ${c}, above the limit ${percent(metric.maxRate ?? 0)} at ${confidenceText(s.alpha)} confidence`
        })
      } else if (metric.maxRate === 0 && e.candidate.bad > 0) {
        findings.push({
          kind: 'regressed',
          metric: metric.name,
          reason: `${metric.name}: ${c}, and the limit is 0%`
        })
      } else findings.push({ kind: 'ok', metric: metric.name })
      continue
    }
    findings.push({
      kind: 'no-data',
      metric: metric.name,
      reason: `a ${sample.kind} sample for ${metric.kind} metric ${metric.name}`
    })
  }
  return { state: next, findings }
}

/** What the metric still needs before the candidate may take 100%, as text; undefined: nothing. */
export interface SafetyGap {
  metric: string
  /** Share of the way to the safety threshold, 0..1. */
  progress: number
  /** Requests (both colors) a decision still needs at the rates seen, when that can be told. */
  requests?: number
}

/**
 * The relative test's expected log-evidence per bad event if the candidate is exactly `r` × the
 * stable, for the safety statistic ℓ(r0; r_bad): KL(π(r) ‖ π(r_bad)) − KL(π(r) ‖ π(r0)).
 */
export function safetyDriftPerBadEvent(w: number, r: number, s: JudgeSettings): number {
  const p = candidateShare(r, w)
  const p0 = candidateShare(s.tolerance, w)
  const p1 = candidateShare(s.maxRegression, w)
  return p * Math.log(p0 / p1) + (1 - p) * Math.log((1 - p0) / (1 - p1))
}

/**
 * How far a ratio metric is from being shown safe, and how many more requests (both colors
 * together) that needs at the bad share and weights seen so far. The requests are a
 * healthy candidate's expectation, not a promise.
 */
export function safetyGap(
  e: RatioEvidence,
  metric: RatioMetric,
  t: Thresholds,
  s: JudgeSettings,
  weight: number
): SafetyGap | undefined {
  if (shownSafe(e, t)) return undefined
  const progress = safetyProgress(e, t)
  const total = e.candidate.total + e.stable.total
  const bad = e.candidate.bad + e.stable.bad
  const estimates: number[] = []
  const w = weight / Math.max(1, 100 - weight)
  if (metric.relative && bad > 0 && total > 0 && weight < 100) {
    const perEvent = safetyDriftPerBadEvent(w, s.tolerance, s)
    const share = bad / total
    if (perEvent > 0) estimates.push((t.safety - e.safety) / perEvent / share)
  }
  // The negligible path, if the candidate keeps the bad share it showed so far.
  const neg = negligibleRate(metric, s)
  const seen = e.candidate.total > 0 ? e.candidate.bad / e.candidate.total : 0
  if (seen < neg) {
    // Expected log-evidence per candidate request at the share seen, on the grid point that
    // gathers it fastest; the mixture costs at most ln(grid size) more.
    const drift = Math.max(...NEGLIGIBLE_GRID.map((g) => binomialLlr(1, seen, g * neg, neg)))
    const need = t.negligible + Math.log(NEGLIGIBLE_GRID.length) - negligibleLogE(e)
    if (drift > 0) estimates.push(need / drift / (weight / 100 || 1))
  }
  const requests = estimates.length > 0 ? Math.max(0, Math.min(...estimates)) : undefined
  return { metric: metric.name, progress, ...(requests === undefined ? {} : { requests }) }
}

/** What to do next within a step. */
export type StepVerdict =
  | { kind: 'bake' }
  | { kind: 'advance' }
  | { kind: 'extend'; extension: number; reason: string }
  | { kind: 'rollback'; reason: string }
  /** Not enough evidence after every extension: never a pass, never a failure by itself. */
  | { kind: 'inconclusive'; reason: string }

export interface StepInput {
  state: JudgeState
  metrics: readonly JudgedMetric[]
  settings: JudgeSettings
  /** The latest check's findings. */
  findings: readonly Finding[]
  /** Candidate weight of this step, percent. */
  weight: number
  elapsedMs: number
  extensions: number
  stepDurationMs: number
  maxExtensions: number
  /** The next step puts the candidate at 100%: every relative metric must be shown safe first. */
  gate: boolean
  /** Metrics that had no data at all in this step (no candidate requests, no gauge value). */
  missing: readonly string[]
  /** Requests per second to both colors in this step, to turn requests into time. */
  requestsPerSecond?: number
}

/** `about 1,200 more requests (~4m at 5 rps)` */
export function needText(requests: number | undefined, rps: number | undefined): string {
  if (requests === undefined || !Number.isFinite(requests)) return 'more bad events to compare'
  const n = Math.max(1, Math.ceil(requests))
  const time =
    rps !== undefined && rps > 0
      ? ` (~${roughDuration((n / rps) * 1000)} at ${Number(rps.toPrecision(2))} rps)`
      : ''
  return `about ${n.toLocaleString('en-US')} more request${n === 1 ? '' : 's'}${time}`
}

/** A duration rounded for people: `45s`, `7m`, `2h10m`. */
export function roughDuration(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000))
  if (s < 120) return `${s}s`
  const m = Math.round(s / 60)
  if (m < 120) return `${m}m`
  const h = Math.floor(m / 60)
  return `${h}h${m % 60 ? `${m % 60}m` : ''}`
}

/** Why the step cannot advance yet; empty when it can. */
export function stepGaps(input: StepInput): string[] {
  const { state, metrics, settings, weight, gate, missing, requestsPerSecond } = input
  const gaps = missing.map((m) => `no data for ${m} in this step`)
  if (!gate) return gaps
  const t = thresholds(metrics, settings)
  for (const metric of metrics) {
    const e = state[metric.name]
    if (metric.kind !== 'ratio' || !metric.relative || e?.kind !== 'ratio') continue
    const gap = safetyGap(e, metric, t, settings, weight)
    if (!gap) continue
    gaps.push(
      `${metric.name} not yet shown to be less than ${settings.maxRegression}× the stable's (${Math.round(gap.progress * 100)}% of the evidence; ${needText(gap.requests, requestsPerSecond)})`
    )
  }
  return gaps
}

/**
 * Decide after each check of a step. A regression rolls back at once; otherwise the step bakes
 * for its duration, then advances if it has the evidence it needs (data in the step; before 100%,
 * safety shown), or is extended by one step duration up to `maxExtensions` times, and then is
 * inconclusive.
 */
export function stepDecision(input: StepInput): StepVerdict {
  const regressed = input.findings.filter(
    (f): f is Extract<Finding, { kind: 'regressed' }> => f.kind === 'regressed'
  )
  if (regressed.length > 0) {
    return { kind: 'rollback', reason: regressed.map((f) => f.reason).join('; ') }
  }
  if (input.elapsedMs < input.stepDurationMs * (input.extensions + 1)) return { kind: 'bake' }
  const gaps = stepGaps(input)
  if (gaps.length === 0) return { kind: 'advance' }
  const reason = gaps.join('; ')
  if (input.extensions < input.maxExtensions) {
    return { kind: 'extend', extension: input.extensions + 1, reason }
  }
  return {
    kind: 'inconclusive',
    reason: `inconclusive after ${input.extensions + 1} step duration${input.extensions ? 's' : ''} at ${input.weight}%: ${reason}`
  }
}

/** A step's progress as the judge tracks it between checks. */
export interface StepProgress {
  /** Candidate weight of the step, percent. */
  weight: number
  /** When the step's weights were written, ms. */
  startedAt: number
  extensions: number
  /** Metrics that had data in this step. */
  seen: string[]
  /** Requests to both colors in this step (from the first ratio metric). */
  requests: number
}

export function startStep(weight: number, now: number): StepProgress {
  return { weight, startedAt: now, extensions: 0, seen: [], requests: 0 }
}

export interface CheckContext {
  metrics: readonly JudgedMetric[]
  settings: JudgeSettings
  stepDurationMs: number
  maxExtensions: number
  /** The next step puts the candidate at 100%. */
  gate: boolean
  now: number
}

/**
 * One check, from the counts since the previous one to the step's verdict: the path the engine
 * and the judgement benchmark share.
 */
export function checkStep(
  state: JudgeState,
  progress: StepProgress,
  samples: Readonly<Record<string, MetricSample>>,
  ctx: CheckContext
): { state: JudgeState; progress: StepProgress; findings: Finding[]; verdict: StepVerdict } {
  const judged = judgeCheck(state, ctx.metrics, samples, ctx.settings)
  const seen = new Set(progress.seen)
  for (const metric of ctx.metrics) {
    const s = samples[metric.name]
    if (s?.kind === 'gauge' || (s?.kind === 'ratio' && s.candidate.total > 0)) seen.add(metric.name)
  }
  const first = ctx.metrics.find((m) => m.kind === 'ratio')
  const counted = first ? samples[first.name] : undefined
  const added =
    counted?.kind === 'ratio' ? counted.candidate.total + (counted.stable?.total ?? 0) : 0
  let next: StepProgress = {
    ...progress,
    seen: ctx.metrics.filter((m) => seen.has(m.name)).map((m) => m.name),
    requests: progress.requests + added
  }
  const elapsedMs = ctx.now - progress.startedAt
  // A gauge counts as seen only while its latest check had a value.
  const missing = ctx.metrics
    .filter(
      (m) =>
        !seen.has(m.name) ||
        (m.kind === 'gauge' &&
          judged.findings.some((f) => f.metric === m.name && f.kind === 'no-data'))
    )
    .map((m) => m.name)
  const verdict = stepDecision({
    state: judged.state,
    metrics: ctx.metrics,
    settings: ctx.settings,
    findings: judged.findings,
    weight: progress.weight,
    elapsedMs,
    extensions: progress.extensions,
    stepDurationMs: ctx.stepDurationMs,
    maxExtensions: ctx.maxExtensions,
    gate: ctx.gate,
    missing,
    requestsPerSecond: elapsedMs > 0 ? next.requests / (elapsedMs / 1000) : undefined
  })
  if (verdict.kind === 'extend') next = { ...next, extensions: verdict.extension }
  return { state: judged.state, progress: next, findings: judged.findings, verdict }
}

/** `99%`, `99.9%`, `99.99%`: the confidence a rollback needs, for messages. */
export function confidenceText(alpha: number): string {
  return `${Number(((1 - alpha) * 100).toFixed(2))}%`
}
