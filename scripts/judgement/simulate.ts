/**
 * Simulated rollouts for the judgement benchmark and the judge's Monte Carlo tests: Poisson
 * traffic split by the rollout's weights, 5xx and slow requests drawn per request, and rules
 * that turn those counts into a decision (the action's judge, the rule it replaced, Flagger's
 * and Argo Rollouts').
 *
 * Every rule sees the same draws: each 10 s block of a run holds its total request count and
 * the uniforms from which the split by weight and the bad counts are read through quantile
 * functions, so a rule that holds the candidate at 25% sees exactly the requests another rule
 * sends at 25%, and more candidate traffic at a higher weight is the same traffic plus some.
 * Seeded: a seed replays the same runs.
 */
import {
  checkStep,
  DEFAULT_JUDGE,
  enterStep,
  initialState,
  type JudgedMetric,
  type JudgeSettings,
  type MetricSample,
  startStep
} from '../../src/core/judge.js'
import { evaluateCheck, stepVerdict, type CheckResult } from './legacy-rule.js'

/** mulberry32: a small, fast 32-bit PRNG; enough for simulation, and replayable. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239
  ]
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572
  ]
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734,
    4.374664141464968, 2.938163982698783
  ]
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416]
  const q = Math.min(Math.max(p, 1e-12), 1 - 1e-12)
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number]
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number]
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number]
  const [d0, d1, d2, d3] = d as [number, number, number, number]
  if (q < 0.02425) {
    const r = Math.sqrt(-2 * Math.log(q))
    return (
      (((((c0 * r + c1) * r + c2) * r + c3) * r + c4) * r + c5) /
      ((((d0 * r + d1) * r + d2) * r + d3) * r + 1)
    )
  }
  if (q > 1 - 0.02425) return -normalQuantile(1 - q)
  const r = q - 0.5
  const s = r * r
  return (
    ((((((a0 * s + a1) * s + a2) * s + a3) * s + a4) * s + a5) * r) /
    (((((b0 * s + b1) * s + b2) * s + b3) * s + b4) * s + 1)
  )
}

/** Poisson quantile at `u`: exact inversion for small means, normal approximation above 400. */
export function poissonQuantile(u: number, mean: number): number {
  if (mean <= 0) return 0
  if (mean > 400) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normalQuantile(u)))
  let k = 0
  let p = Math.exp(-mean)
  let cdf = p
  while (u > cdf && k < 10 * mean + 50) {
    k++
    p *= mean / k
    cdf += p
  }
  return k
}

/** Binomial quantile at `u`: exact inversion while the variance is small, else normal. */
export function binomialQuantile(u: number, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0
  if (p >= 1) return n
  if (p > 0.5) return n - binomialQuantile(1 - u, n, 1 - p)
  const variance = n * p * (1 - p)
  if (variance > 40) {
    return Math.min(n, Math.max(0, Math.round(n * p + Math.sqrt(variance) * normalQuantile(u))))
  }
  let k = 0
  let prob = Math.pow(1 - p, n)
  let cdf = prob
  const odds = p / (1 - p)
  while (u > cdf && k < n) {
    prob *= ((n - k) / (k + 1)) * odds
    k++
    cdf += prob
  }
  return k
}

export const BLOCK_MS = 10_000

/** One 10 s block of a run: its total requests and the uniforms of every other draw. */
interface Block {
  requests: number
  split: number
  candidateBad: number
  stableBad: number
  candidateSlow: number
  stableSlow: number
}

/** What a simulated service looks like. */
export interface Traffic {
  /** Requests per second to the service (both colors). */
  rps: number
  /** 5xx share of the stable color. */
  stableErrorRate: number
  /** 5xx share of the candidate. */
  candidateErrorRate: number
  /** Share of requests slower than the stable's p99 bucket, both colors (healthy latency). */
  slowRate: number
}

export function drawBlocks(rand: () => number, rps: number, count: number): Block[] {
  return Array.from({ length: count }, () => ({
    requests: poissonQuantile(rand(), (rps * BLOCK_MS) / 1000),
    split: rand(),
    candidateBad: rand(),
    stableBad: rand(),
    candidateSlow: rand(),
    stableSlow: rand()
  }))
}

export interface BlockCounts {
  candidate: { total: number; bad: number; slow: number }
  stable: { total: number; bad: number; slow: number }
}

/** The counts of a block at candidate weight `weight` (percent). */
export function countsAt(b: Block, weight: number, t: Traffic): BlockCounts {
  const nC = binomialQuantile(b.split, b.requests, weight / 100)
  const nS = b.requests - nC
  return {
    candidate: {
      total: nC,
      bad: binomialQuantile(b.candidateBad, nC, t.candidateErrorRate),
      slow: binomialQuantile(b.candidateSlow, nC, t.slowRate)
    },
    stable: {
      total: nS,
      bad: binomialQuantile(b.stableBad, nS, t.stableErrorRate),
      slow: binomialQuantile(b.stableSlow, nS, t.slowRate)
    }
  }
}

export type Decision = 'promoted' | 'rolled-back' | 'inconclusive'

export interface RunResult {
  decision: Decision
  /** From the first weight to the decision. */
  ms: number
  /** Requests the candidate had served by then. */
  candidateRequests: number
}

export interface Rule {
  name: string
  /** Blocks a run may need at most. */
  horizonBlocks: number
  run(blocks: readonly Block[], t: Traffic): RunResult
}

export interface Rollout {
  steps: readonly number[]
  stepDurationMs: number
  maxExtensions: number
  maxErrorRate: number
}

export const DEFAULT_ROLLOUT: Rollout = {
  steps: [10, 25, 50, 100],
  stepDurationMs: 60_000,
  maxExtensions: 2,
  maxErrorRate: 0.01
}

/** The metrics the action judges by default: 5xx (relative and against the limit) and latency. */
export function defaultMetrics(maxErrorRate: number): JudgedMetric[] {
  return [
    { kind: 'ratio', name: 'errors', what: '5xx', relative: true, maxRate: maxErrorRate },
    { kind: 'ratio', name: 'latency', what: 'slow', relative: true }
  ]
}

/** The action's judge, checking every 10 s, through checkStep as the engine calls it. */
export function judgeRule(
  r: Rollout = DEFAULT_ROLLOUT,
  settings: JudgeSettings = DEFAULT_JUDGE
): Rule {
  const metrics = defaultMetrics(r.maxErrorRate)
  const blocksPerStep = r.stepDurationMs / BLOCK_MS
  return {
    name: 'istio-bluegreen',
    horizonBlocks: r.steps.length * blocksPerStep * (r.maxExtensions + 1),
    run(blocks, t) {
      let state = initialState(metrics, r.steps.length)
      let i = 0
      let progress = startStep(r.steps[0] as number, 0)
      let served = 0
      for (let b = 0; b < blocks.length; b++) {
        const weight = r.steps[i] as number
        const c = countsAt(blocks[b] as Block, weight, t)
        served += c.candidate.total
        const stable = (key: 'bad' | 'slow') =>
          weight < 100 ? { total: c.stable.total, bad: c.stable[key] } : undefined
        const samples: Record<string, MetricSample> = {
          errors: {
            kind: 'ratio',
            candidate: { total: c.candidate.total, bad: c.candidate.bad },
            stable: stable('bad')
          },
          latency: {
            kind: 'ratio',
            candidate: { total: c.candidate.total, bad: c.candidate.slow },
            stable: stable('slow')
          }
        }
        const now = (b + 1) * BLOCK_MS
        const checked = checkStep(state, progress, samples, {
          metrics,
          settings,
          stepDurationMs: r.stepDurationMs,
          maxExtensions: r.maxExtensions,
          gate: r.steps[i + 1] === 100,
          now
        })
        state = checked.state
        progress = checked.progress
        const v = checked.verdict
        if (v.kind === 'rollback')
          return { decision: 'rolled-back', ms: now, candidateRequests: served }
        if (v.kind === 'inconclusive')
          return { decision: 'inconclusive', ms: now, candidateRequests: served }
        if (v.kind === 'advance') {
          i++
          if (i === r.steps.length)
            return { decision: 'promoted', ms: now, candidateRequests: served }
          progress = startStep(r.steps[i] as number, now)
          state = enterStep(state, i)
        }
      }
      return { decision: 'inconclusive', ms: blocks.length * BLOCK_MS, candidateRequests: served }
    }
  }
}

/**
 * The rule the judge replaced (issue 7's baseline): every 10 s, the last minute's requests and
 * 5xx; min-requests 20, failure-limit 2, max-inconclusive 2; inconclusive at the end rolls back.
 */
export function legacyRule(r: Rollout = DEFAULT_ROLLOUT): Rule {
  const blocksPerStep = r.stepDurationMs / BLOCK_MS
  return {
    name: 'previous rule',
    horizonBlocks: r.steps.length * blocksPerStep * (r.maxExtensions + 1),
    run(blocks, t) {
      const window: Array<{ n: number; e: number }> = []
      let i = 0
      let stepStart = 0
      let extensions = 0
      let checks: CheckResult[] = []
      let served = 0
      for (let b = 0; b < blocks.length; b++) {
        const weight = r.steps[i] as number
        const c = countsAt(blocks[b] as Block, weight, t)
        served += c.candidate.total
        window.push({ n: c.candidate.total, e: c.candidate.bad })
        if (window.length > 6) window.shift()
        const now = (b + 1) * BLOCK_MS
        const n = window.reduce((s, x) => s + x.n, 0)
        const e = window.reduce((s, x) => s + x.e, 0)
        const result = evaluateCheck(served > 0 ? { requests: n, errors: e } : {}, {
          maxErrorRate: r.maxErrorRate,
          minRequests: 20
        })
        checks.push(result)
        const v = stepVerdict(checks, now - stepStart, extensions, {
          stepDurationMs: r.stepDurationMs,
          failureLimit: 2,
          maxExtensions: r.maxExtensions
        })
        if (v.kind === 'rollback')
          return { decision: 'rolled-back', ms: now, candidateRequests: served }
        if (v.kind === 'extend') extensions = v.extension
        if (v.kind === 'advance') {
          i++
          if (i === r.steps.length)
            return { decision: 'promoted', ms: now, candidateRequests: served }
          stepStart = now
          extensions = 0
          checks = []
        }
      }
      return { decision: 'inconclusive', ms: blocks.length * BLOCK_MS, candidateRequests: served }
    }
  }
}

/**
 * Flagger's analysis as its docs define it: every interval (1m) the success rate of the last
 * minute must be ≥ 99%; no data is a failed check; a passing check moves to the next weight
 * (10, 25, 50), a pass at the last promotes; `threshold` (5) failed checks in total roll back.
 */
export function flaggerRule(weights: readonly number[] = [10, 25, 50], threshold = 5): Rule {
  return {
    name: 'Flagger',
    horizonBlocks: (weights.length + threshold) * 6,
    run(blocks, t) {
      let i = 0
      let failed = 0
      let served = 0
      let n = 0
      let e = 0
      for (let b = 0; b < blocks.length; b++) {
        const c = countsAt(blocks[b] as Block, weights[i] as number, t)
        served += c.candidate.total
        n += c.candidate.total
        e += c.candidate.bad
        if ((b + 1) % 6 !== 0) continue
        const now = (b + 1) * BLOCK_MS
        const pass = n > 0 && 1 - e / n >= 0.99
        n = 0
        e = 0
        if (!pass) {
          failed++
          if (failed >= threshold)
            return { decision: 'rolled-back', ms: now, candidateRequests: served }
          continue
        }
        i++
        if (i === weights.length)
          return { decision: 'promoted', ms: now, candidateRequests: served }
      }
      return { decision: 'inconclusive', ms: blocks.length * BLOCK_MS, candidateRequests: served }
    }
  }
}

/**
 * Argo Rollouts' background analysis: one measurement per interval (1m) of the last minute's
 * success rate, successCondition ≥ 0.99; the analysis fails, and the rollout aborts, when the
 * failed measurements exceed `failureLimit` (default 0). A candidate with series but no requests
 * in the minute measures NaN, which fails; one never measured is an error, and
 * `consecutiveErrorLimit` (4) errors in a row abort. Steps 10, 25, 50 with a 1m pause each.
 */
export function argoRule(weights: readonly number[] = [10, 25, 50], failureLimit = 0): Rule {
  return {
    name: 'Argo Rollouts',
    horizonBlocks: weights.length * 6,
    run(blocks, t) {
      let failed = 0
      let errors = 0
      let served = 0
      let n = 0
      let e = 0
      for (let b = 0; b < blocks.length; b++) {
        const i = Math.floor(b / 6)
        const c = countsAt(blocks[b] as Block, weights[i] as number, t)
        served += c.candidate.total
        n += c.candidate.total
        e += c.candidate.bad
        if ((b + 1) % 6 !== 0) continue
        const now = (b + 1) * BLOCK_MS
        if (served === 0) {
          errors++
          if (errors > 4) return { decision: 'rolled-back', ms: now, candidateRequests: served }
        } else {
          errors = 0
          if (!(n > 0 && 1 - e / n >= 0.99)) failed++
          if (failed > failureLimit)
            return { decision: 'rolled-back', ms: now, candidateRequests: served }
        }
        n = 0
        e = 0
        if (i === weights.length - 1)
          return { decision: 'promoted', ms: now, candidateRequests: served }
      }
      return { decision: 'inconclusive', ms: blocks.length * BLOCK_MS, candidateRequests: served }
    }
  }
}

export interface CellResult {
  promoted: number
  rolledBack: number
  inconclusive: number
  /** Times to a decision (ms), every run. */
  times: number[]
  /** Candidate requests at a rollback. */
  requestsAtRollback: number[]
}

/** Run `runs` seeded rollouts of one traffic cell through every rule, on the same draws. */
export function simulateCell(
  rules: readonly Rule[],
  t: Traffic,
  runs: number,
  seed: number
): CellResult[] {
  const rand = seeded(seed)
  const horizon = Math.max(...rules.map((r) => r.horizonBlocks))
  const results: CellResult[] = rules.map(() => ({
    promoted: 0,
    rolledBack: 0,
    inconclusive: 0,
    times: [],
    requestsAtRollback: []
  }))
  for (let run = 0; run < runs; run++) {
    const blocks = drawBlocks(rand, t.rps, horizon)
    rules.forEach((rule, k) => {
      const r = rule.run(blocks.slice(0, rule.horizonBlocks), t)
      const out = results[k] as CellResult
      if (r.decision === 'promoted') out.promoted++
      else if (r.decision === 'rolled-back') {
        out.rolledBack++
        out.requestsAtRollback.push(r.candidateRequests)
      } else out.inconclusive++
      out.times.push(r.ms)
    })
  }
  return results
}

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number
}
