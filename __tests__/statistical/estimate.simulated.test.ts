/**
 * `estimateDecisions` against the seeded simulator it estimates: where the estimate promises a
 * decision by the gate, the judge makes it in ≥ 99% of 500 seeded runs. Moved out of
 * __tests__/core/estimate.test.ts (whose pure rows stay in the fast tier) to Node's own test
 * runner (`npm run test:statistical`, part of `npm test`): Jest's vm context slows every Math call
 * ~15×, and these 3000 simulated rollouts took 7 s there.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  BLOCK_MS,
  defaultMetrics,
  DEFAULT_ROLLOUT,
  judgeRule,
  quantile,
  simulateCell
} from '../../scripts/judgement/simulate.js'
import { estimateDecisions, type RolloutShape } from '../../src/core/estimate.js'
import { DEFAULT_JUDGE } from '../../src/core/judge.js'

/** The simulator's default rollout: 10, 25, 50, 100% for 1 min each, 2 extensions. */
const shape: RolloutShape = {
  steps: DEFAULT_ROLLOUT.steps,
  stepDurationMs: DEFAULT_ROLLOUT.stepDurationMs,
  maxExtensions: DEFAULT_ROLLOUT.maxExtensions,
  checkIntervalMs: 10_000
}

function estimate(rps: number, errors: number, latency = errors, maxErrorRate = 0.01) {
  return estimateDecisions(defaultMetrics(maxErrorRate), DEFAULT_JUDGE, shape, {
    rps,
    badShare: { errors, latency }
  })
}

describe('estimateDecisions against the seeded simulator', () => {
  // Where the estimate says the gate catches a 3× regression, the judge (`judgeRule`, checks
  // every 10 s) rolls it back in ≥ 99% of 500 seeded runs, and by the estimate's time in 99%
  // of them (the time rounded up to the next check).
  const regressions: Array<[string, number, number, number, number]> = [
    ['30 rps, 1% 5xx, limit 1%', 30, 0.01, 0.01, 51],
    ['100 rps, 1% 5xx, limit 1%', 100, 0.01, 0.01, 52],
    ['200 rps, 0.5% 5xx, relative test only', 200, 0.005, 1, 53],
    // The relative test adds at most CHECK_CAP = ln 10 a check, and errors (2 of the 3 weights of
    // α, its relative test alone) rolls back at ln(3/(2·0.01)) = ln 150 > 2·ln 10, so no run can
    // roll back before the 3rd check (30 s): the estimate counts the cap too.
    ['10000 rps, 1% 5xx, relative test only', 10_000, 0.01, 1, 54]
  ]
  for (const [name, rps, share, limit, seed] of regressions) {
    it(`${name}: a 3× regression is rolled back by the estimate`, () => {
      const e = estimate(rps, share, share, limit).metrics[0]
      const by = e?.regressionByMs
      assert.ok(by !== undefined && by <= estimate(rps, share).gateMs, `estimated by ${by} ms`)
      const rule = judgeRule({ ...DEFAULT_ROLLOUT, maxErrorRate: limit })
      const [r] = simulateCell(
        [rule],
        { rps, stableErrorRate: share, candidateErrorRate: 3 * share, slowRate: share },
        500,
        seed
      )
      assert.ok((r?.rolledBack ?? 0) >= 495, `rolled back ${r?.rolledBack} of 500`)
      const p99 = quantile(r?.times ?? [], 0.99)
      assert.ok(
        p99 <= Math.ceil(by / BLOCK_MS) * BLOCK_MS,
        `99% rolled back by ${p99} ms, not ${by}`
      )
    })
  }

  // Where it says a healthy release is shown safe by the gate, the judge promotes it in ≥ 99%.
  const healthy: Array<[string, number, number, number]> = [
    ['100 rps at 1%', 100, 0.01, 61],
    // no 5xx at all: only the negligible path can show it safe
    ['100 rps, no 5xx', 100, 0, 62]
  ]
  for (const [name, rps, share, seed] of healthy) {
    it(`${name}: a healthy release shown safe by the gate is promoted`, () => {
      const e = estimate(rps, share, 0.01)
      for (const m of e.metrics) {
        assert.ok(
          m.safeByMs !== undefined && m.safeByMs <= e.gateMs,
          `${m.metric} safe by ${m.safeByMs}`
        )
      }
      const [r] = simulateCell(
        [judgeRule()],
        { rps, stableErrorRate: share, candidateErrorRate: share, slowRate: 0.01 },
        500,
        seed
      )
      assert.ok((r?.promoted ?? 0) >= 495, `promoted ${r?.promoted} of 500`)
    })
  }
})
