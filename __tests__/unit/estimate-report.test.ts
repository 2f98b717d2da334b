/**
 * What `plan` and the log say the judge is expected to decide (estimateLines, estimateWarning)
 * and the per-metric summary of a record (metricsSummary).
 */
import {
  type DecisionEstimate,
  estimateDecisions,
  type RolloutShape,
  type StepEstimate,
  stepEstimates,
  type TrafficNow
} from '../../src/core/estimate.js'
import { DEFAULT_JUDGE, type JudgeSettings } from '../../src/core/judge.js'
import { builtinMetrics, judged, type MetricSpec } from '../../src/core/metrics.js'
import type { CheckEntry, RolloutRecord } from '../../src/core/record.js'
import {
  estimateLines,
  estimateWarning,
  type MetricSummary,
  metricsSummary,
  outputsOf
} from '../../src/report.js'
import { rolloutConfig, rolloutRecord } from '../fixtures/record.js'

const judge: JudgeSettings = DEFAULT_JUDGE
const traffic: TrafficNow = { rps: 50, badShare: { errors: 0.02, latency: 0.0005 } }

/** 10, 25, 50, 100% for 1 min each, 2 extensions at the gate and at 100%: 5 min to the gate. */
const shape: RolloutShape = {
  steps: [10, 25, 50, 100],
  stepDurationMs: 60_000,
  maxExtensions: 2,
  checkIntervalMs: 10_000
}

const bucket = { le: '250', ms: 250 }
/** errors and latency (both judged against stable). */
const relativeOnly = judged(
  builtinMetrics({ reporter: 'destination', maxErrorRate: 0.01, buckets: { relative: bucket } })
)
/** errors, latency and latency-limit (a limit only, never compared with stable). */
const withLimit = judged(
  builtinMetrics({
    reporter: 'destination',
    maxErrorRate: 0.01,
    buckets: { relative: bucket, limit: { le: '500', ms: 500 } }
  })
)

const HEADER =
  "Expected decisions at the stable's current traffic (50 rps; bad shares: errors 2.00%, latency 0.050%), for 99% of runs:"
const BAKE = '(the steps bake 5m before the step to 100%, with every extension)'

describe('estimateLines', () => {
  it.each<[string, DecisionEstimate, StepEstimate[], JudgeSettings, string[]]>([
    [
      'both decisions in time, no per-step table',
      {
        metrics: [
          { metric: 'errors', relative: true, safeByMs: 174_000, regressionByMs: 78_000 },
          { metric: 'latency', relative: true, safeByMs: 30_000, regressionByMs: 45_000 }
        ],
        maxMs: 480_000,
        gateMs: 300_000,
        compared: true
      },
      [],
      judge,
      [
        HEADER,
        '- errors: a healthy release is shown safe for 100% after about 3m; a 3× regression is rolled back after about 78s',
        '- latency: a healthy release is shown safe for 100% after about 30s; a 3× regression is rolled back after about 45s',
        BAKE
      ]
    ],
    [
      'neither decision within the steps',
      {
        metrics: [{ metric: 'errors', relative: true }],
        maxMs: 480_000,
        gateMs: 300_000,
        compared: true
      },
      [],
      judge,
      [
        HEADER,
        '- errors: a healthy release is shown safe for 100% not within the steps; a 3× regression would not be rolled back within the steps (it would pause as inconclusive before 100%)',
        BAKE
      ]
    ],
    [
      "the judge's max-regression in the wording",
      {
        metrics: [{ metric: 'errors', relative: true, regressionByMs: 7_200_000 }],
        maxMs: 9e6,
        gateMs: 7_260_000,
        compared: true
      },
      [],
      { ...judge, maxRegression: 2 },
      [
        HEADER,
        '- errors: a healthy release is shown safe for 100% not within the steps; a 2× regression is rolled back after about 2h',
        '(the steps bake 2h1m before the step to 100%, with every extension)'
      ]
    ],
    [
      'the per-step table when given',
      {
        metrics: [{ metric: 'errors', relative: true, safeByMs: 174_000 }],
        maxMs: 480_000,
        gateMs: 300_000,
        compared: true
      },
      [
        { weight: 10, safeMs: 2_880_000 },
        { weight: 25, safeMs: 1_080_000, regressionMs: 90_000 },
        { weight: 50 }
      ],
      judge,
      [
        HEADER,
        '- errors: a healthy release is shown safe for 100% after about 3m; a 3× regression would not be rolled back within the steps (it would pause as inconclusive before 100%)',
        BAKE,
        '',
        '| step | healthy shown safe at this weight alone | 3× regression rolled back at this weight alone |',
        '|---:|---|---|',
        '| 10% | 48m | over 1h |',
        '| 25% | 18m | 90s |',
        '| 50% | over 1h | over 1h |'
      ]
    ]
  ])('%s', (_name, estimate, perStep, settings, lines) => {
    expect(estimateLines(estimate, perStep, settings, traffic)).toEqual(lines)
  })

  it.each<[string, TrafficNow, RegExp[]]>([
    [
      'busy (1000 rps): every metric decided in time',
      { rps: 1000, badShare: { errors: 0.01, latency: 0.01 } },
      [
        /^- errors: a healthy release is shown safe for 100% after about \d+s; a 3× regression is rolled back after about \d+s$/,
        /^- latency: a healthy release is shown safe for 100% after about \d+s; a 3× regression is rolled back after about \d+s$/
      ]
    ],
    [
      'thin (1 rps): nothing within the steps',
      { rps: 1, badShare: { errors: 0.01, latency: 0.01 } },
      [
        /^- errors: a healthy release is shown safe for 100% not within the steps; a 3× regression would not be rolled back within the steps/,
        /^- latency: a healthy release is shown safe for 100% not within the steps; a 3× regression would not be rolled back within the steps/
      ]
    ],
    [
      'mixed (50 rps, almost no slow requests): errors in time, latency not',
      traffic,
      [
        /^- errors: a healthy release is shown safe for 100% after about \d+m; a 3× regression is rolled back after about \d+s$/,
        /^- latency: a healthy release is shown safe for 100% not within the steps;/
      ]
    ]
  ])('on fixed traffic, %s', (_name, now, metricLines) => {
    const estimate = estimateDecisions(relativeOnly, judge, shape, now)
    const perStep = stepEstimates(relativeOnly, judge, shape.steps, now)
    const lines = estimateLines(estimate, perStep, judge, now)
    expect(lines[0]).toMatch(
      /^Expected decisions at the stable's current traffic \(.* rps; bad shares: errors .*, latency .*\), for 99% of runs:$/
    )
    expect(lines.slice(1, 3)).toEqual(metricLines.map((re) => expect.stringMatching(re)))
    expect(lines[3]).toBe(BAKE)
    // The table: one row per step below 100%.
    expect(lines.slice(4, 7)).toEqual([
      '',
      '| step | healthy shown safe at this weight alone | 3× regression rolled back at this weight alone |',
      '|---:|---|---|'
    ])
    expect(lines.slice(7)).toEqual(
      [10, 25, 50].map((w) =>
        expect.stringMatching(
          new RegExp(`^\\| ${w}% \\| (over 1h|\\d+[smh]\\S*) \\| (over 1h|\\d+[smh]\\S*) \\|$`)
        )
      )
    )
  })

  // BUG: stepEstimates steps through its one-hour step in tenths (6 min), so a step that a
  // healthy release gets through in seconds is reported as needing 6 minutes "on its own".
  it('per step: a weight at which the whole rollout is decided in 24s does not need 6m alone', () => {
    const busy: TrafficNow = { rps: 1000, badShare: { errors: 0.01, latency: 0.01 } }
    const whole = estimateDecisions(relativeOnly, judge, shape, busy)
    const firstStep = Math.max(...whole.metrics.map((m) => m.safeByMs ?? Infinity))
    // Decided inside the first step (10% for 1 min), so 10% alone needs no longer.
    expect(firstStep).toBeLessThanOrEqual(shape.stepDurationMs)
    const [tenPercent] = stepEstimates(relativeOnly, judge, shape.steps, busy)
    expect(tenPercent?.weight).toBe(10)
    expect(tenPercent?.safeMs).toBeLessThanOrEqual(firstStep)
  })
})

describe('estimateWarning', () => {
  it('steps straight to 100%: says the candidate is never compared, whatever the estimates', () => {
    const e = estimateDecisions(
      relativeOnly,
      judge,
      { steps: [100], stepDurationMs: 60_000, maxExtensions: 2, checkIntervalMs: 10_000 },
      { rps: 1000, badShare: { errors: 0.01, latency: 0.01 } }
    )
    expect(e.compared).toBe(false)
    expect(estimateWarning(e, judge, { rps: 1000, badShare: {} })).toBe(
      'the steps go straight to 100%: the candidate is never compared with the stable, and only the limits (max-error-rate, max-p99-latency, max-rate) can roll it back; add a step below 100 (e.g. steps: 10,100) for the comparison'
    )
  })

  it.each<[string, DecisionEstimate, JudgeSettings, string[] | undefined]>([
    [
      'every metric shown safe in time: no warning',
      {
        metrics: [
          { metric: 'errors', relative: true, safeByMs: 174_000 },
          { metric: 'latency', relative: true, safeByMs: 30_000, regressionByMs: 45_000 }
        ],
        maxMs: 480_000,
        gateMs: 300_000,
        compared: true
      },
      judge,
      undefined
    ],
    [
      'no metrics: no warning',
      { metrics: [], maxMs: 480_000, gateMs: 300_000, compared: true },
      judge,
      undefined
    ],
    [
      'one metric short: named alone',
      {
        metrics: [
          { metric: 'errors', relative: true, safeByMs: 174_000 },
          { metric: 'latency', relative: true, regressionByMs: 1 }
        ],
        maxMs: 480_000,
        gateMs: 300_000,
        compared: true
      },
      judge,
      ['on latency: it would end inconclusive', 'less than 3× worse']
    ],
    [
      'several short: all named, in order',
      {
        metrics: [
          { metric: 'errors', relative: true },
          { metric: 'latency', relative: true },
          { metric: 'checkout', relative: true }
        ],
        maxMs: 480_000,
        gateMs: 300_000,
        compared: true
      },
      { ...judge, maxRegression: 2 },
      ['on errors, latency, checkout: it would end inconclusive', 'less than 2× worse']
    ]
  ])('%s', (_name, estimate, settings, contains) => {
    const warning = estimateWarning(estimate, settings, traffic)
    if (contains === undefined) {
      expect(warning).toBeUndefined()
      return
    }
    expect(warning).toMatch(
      /^at the stable's current traffic \(50 rps; bad shares: errors 2\.00%, latency 0\.050%\), the steps \(5m of bake before 100%, with every extension\) are not expected to gather enough evidence to show a healthy release/
    )
    for (const part of contains) expect(warning).toContain(part)
    for (const remedy of [
      'Lengthen step-duration or max-inconclusive',
      'release at a busier time',
      'raise max-regression',
      'see "plan" for how long each step needs'
    ])
      expect(warning).toContain(remedy)
  })

  it.each<[string, TrafficNow, string | undefined]>([
    ['busy: none', { rps: 1000, badShare: { errors: 0.01, latency: 0.01 } }, undefined],
    ['thin: both', { rps: 1, badShare: { errors: 0.01, latency: 0.01 } }, 'errors, latency'],
    ['few slow requests: latency', traffic, 'latency']
  ])('on fixed traffic, %s', (_name, now, named) => {
    const warning = estimateWarning(estimateDecisions(relativeOnly, judge, shape, now), judge, now)
    if (named === undefined) expect(warning).toBeUndefined()
    else expect(warning).toContain(`worse on ${named}: it would end inconclusive`)
  })

  // BUG: latency-limit is judged on the candidate alone (relative: false): the gate to 100% never
  // waits for it to be shown safe (stepGaps skips it, stepEstimates leaves it out), yet
  // estimateDecisions never gives it a safeByMs, so every rollout with max-p99-latency is warned
  // that it "would end inconclusive" on latency-limit, and plan says it is not shown safe in time.
  it('with max-p99-latency at busy traffic: no warning for the limit-only metric', () => {
    const busy: TrafficNow = {
      rps: 1000,
      badShare: { errors: 0.01, latency: 0.01, 'latency-limit': 0.001 }
    }
    const estimate = estimateDecisions(withLimit, judge, shape, busy)
    expect(estimate.metrics.map((m) => m.metric)).toEqual(['errors', 'latency', 'latency-limit'])
    expect(estimateWarning(estimate, judge, busy)).toBeUndefined()
  })
})

describe('metricsSummary', () => {
  const specs: MetricSpec[] = [
    ...builtinMetrics({
      reporter: 'destination',
      maxErrorRate: 0.01,
      buckets: { relative: bucket }
    }),
    { kind: 'gauge', name: 'cpu', query: 'cpu{workload="{{ workload }}"}', max: 0.8 },
    { kind: 'ratio', name: 'queue', what: 'bad', relative: true, total: 't', badQuery: 'b' }
  ]
  const check = (i: number, metrics?: CheckEntry['metrics']): CheckEntry => ({
    at: `2026-11-25T10:0${i}:00.000Z`,
    step: 0,
    weight: 10,
    verdict: 'pass',
    reasons: [],
    ...(metrics ? { metrics } : {})
  })
  const record = (checks: CheckEntry[], metrics: MetricSpec[] | 'none' = specs): RolloutRecord =>
    rolloutRecord({
      checks,
      config: rolloutConfig(metrics === 'none' ? {} : { metrics })
    })
  const zero = { bad: 0, total: 0, stableBad: 0, stableTotal: 0 }

  const checks: CheckEntry[] = [
    check(1, {
      errors: { c: [1, 100], s: [2, 1000], r: 0.1, ok: 0.2 },
      latency: { c: [0, 100], s: [5, 1000], r: 0, ok: 0.1 },
      cpu: { v: 0.5 },
      queue: { none: 'candidate: first reading (the baseline for the next check)' }
    }),
    check(2, {
      errors: { c: [2, 200], s: [4, 2000], r: 0.3, ok: 0.6 },
      latency: { none: 'candidate: timeout', r: 0, ok: 0.5 },
      cpu: { none: 'no value' },
      queue: { c: [0, 0], r: 0, ok: 0 }
    }),
    // A check from before the judge, without metric entries.
    check(3)
  ]

  it.each<[string, RolloutRecord, Record<string, MetricSummary>]>([
    [
      'ratio sums over checks, the gauge its last value, the evidence of the last check with an entry',
      record(checks),
      {
        errors: {
          candidate: 0.01,
          stable: 0.002,
          counts: { bad: 3, total: 300, stableBad: 6, stableTotal: 3000 },
          rollbackEvidence: 0.3,
          safety: 0.6
        },
        latency: {
          candidate: 0,
          stable: 0.005,
          counts: { bad: 0, total: 100, stableBad: 5, stableTotal: 1000 },
          rollbackEvidence: 0,
          safety: 0.5
        },
        cpu: { value: 0.5 },
        queue: { counts: zero, rollbackEvidence: 0, safety: 0 }
      }
    ],
    [
      'no checks: counts of zero, no shares, no evidence',
      record([]),
      { errors: { counts: zero }, latency: { counts: zero }, cpu: {}, queue: { counts: zero } }
    ],
    [
      'candidate only (stable served nothing): no stable share',
      record([check(1, { errors: { c: [1, 50], r: 0.05 } })], specs.slice(0, 1)),
      {
        errors: {
          candidate: 0.02,
          counts: { bad: 1, total: 50, stableBad: 0, stableTotal: 0 },
          rollbackEvidence: 0.05
        }
      }
    ],
    [
      'a record of the previous format (no metrics recorded, no entries): errors alone',
      record([check(1), check(2)], 'none'),
      { errors: { counts: zero } }
    ]
  ])('%s', (_name, r, summary) => {
    expect(metricsSummary(r)).toEqual(summary)
  })

  it('is what the metrics output carries, as JSON', () => {
    expect(JSON.parse(outputsOf(record(checks)).metrics)).toEqual(metricsSummary(record(checks)))
  })
})
