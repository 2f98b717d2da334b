/**
 * The judge's maths against values computed by hand (python3, from the formulas in DESIGN.md
 * "Judgement"); each literal carries the formula it came from. π(r) = r·w / (1 + r·w) with
 * w = nC/nS; ℓ(r; r0) = eC·ln(π(r)/π(r0)) + eS·ln((1−π(r))/(1−π(r0))).
 */
import {
  ABSOLUTE_GRID,
  absoluteGrid,
  addRatio,
  alphaWeight,
  binomialLlr,
  candidateShare,
  CHECK_CAP,
  checkStep,
  DEFAULT_JUDGE,
  emptyEvidence,
  enterStep,
  FIRST_STEP_WEIGHT,
  GAUGE_FAILURES,
  initialState,
  judgedForRollback,
  judgeCheck,
  logMeanExp,
  NEGLIGIBLE_GRID,
  needText,
  negligibleLogE,
  negligibleRate,
  overLimitLogE,
  regressionLogE,
  RELATIVE_GRID,
  relativeLlr,
  rollbackLogE,
  roughDuration,
  safetyGap,
  safetyProgress,
  startStep,
  stepDecision,
  thresholds,
  type CheckContext,
  type Counts,
  type Finding,
  type GaugeMetric,
  type JudgedMetric,
  type JudgeState,
  type MetricSample,
  type RatioEvidence,
  type RatioMetric,
  type StepInput,
  type StepProgress,
  type StepVerdict
} from '../../src/core/judge.js'

const LN10 = Math.log(10)

const errors: RatioMetric = {
  kind: 'ratio',
  name: 'errors',
  what: '5xx',
  relative: true,
  maxRate: 0.01
}
const latency: RatioMetric = { kind: 'ratio', name: 'latency', what: 'slow', relative: true }
const cpu: GaugeMetric = { kind: 'gauge', name: 'cpu', max: 0.8 }

function n(total: number, bad: number): Counts {
  return { total, bad }
}

function ratio(candidate: Counts, stable?: Counts): MetricSample {
  return stable ? { kind: 'ratio', candidate, stable } : { kind: 'ratio', candidate }
}

/** The gate's reason for `errors` not shown safe yet. */
const notShown = (progress: string, need: string): string =>
  `errors not yet shown to be less than 3× the stable's (${progress} of the evidence; ${need})`

const close = (xs: readonly number[]): unknown[] => xs.map((x) => expect.closeTo(x, 9))

/** The evidence of one ratio metric after the given checks (candidate, stable). */
function evidenceAfter(
  metric: RatioMetric,
  checks: ReadonlyArray<readonly [Counts, Counts | undefined]>
): RatioEvidence {
  let e = emptyEvidence(metric) as RatioEvidence
  for (const [candidate, stable] of checks) {
    e = addRatio(e, metric, candidate, stable, DEFAULT_JUDGE)
  }
  return e
}

describe('candidateShare', () => {
  it.each([
    [1, 1, 0.5], // 1·1/(1+1)
    [3, 1 / 9, 0.25], // (3/9)/(1+3/9)
    [2, 0.5, 0.5], // 1/(1+1)
    [1.5, 1 / 3, 1 / 3], // 0.5/1.5
    [10, 3, 0.967741935483871], // 30/31
    [5, 0, 0] // no candidate traffic: no bad event is the candidate's
  ])('π(r=%d, w=%d) = %d', (r, w, expected) => {
    expect(candidateShare(r, w)).toBeCloseTo(expected, 9)
  })
})

describe('relativeLlr', () => {
  it.each<[string, Counts, Counts, number, number, number]>([
    // w = 1/9: π(3) = 0.25, π(1) = 0.1; 2·ln(0.25/0.1) + 18·ln(0.75/0.9)
    [
      '3× against 1× at 10%, candidate like stable',
      n(100, 2),
      n(900, 18),
      3,
      1,
      -1.4492065585428744
    ],
    // 2·ln(0.1/0.25) + 18·ln(0.9/0.75)
    ['the safety direction, 1× against 3×', n(100, 2), n(900, 18), 1, 3, 1.4492065585428726],
    // w = 1: π(2) = 2/3, π(1) = 1/2; 5·ln((2/3)/(1/2)) + 1·ln((1/3)/(1/2))
    ['2× against 1× at 50%', n(50, 5), n(50, 1), 2, 1, 1.0329452541507398],
    // w = 1: π(10) = 10/11; 10·ln((10/11)/(1/2)) + 0
    ['bad events on the candidate only', n(500, 10), n(500, 0), 10, 1, 5.9783700075562045],
    // w = 1, tolerance r0 = 2: 6·ln(0.75/(2/3)) + 2·ln(0.25/(1/3))
    ['3× against a tolerance of 2×', n(200, 6), n(200, 2), 3, 2, 0.13133406903473854],
    ['no candidate traffic', n(0, 0), n(100, 5), 3, 1, 0],
    ['no stable traffic', n(100, 5), n(0, 0), 3, 1, 0],
    ['no bad events', n(100, 0), n(900, 0), 3, 1, 0]
  ])('%s', (_name, candidate, stable, r, r0, expected) => {
    expect(relativeLlr(candidate, stable, r, r0)).toBeCloseTo(expected, 9)
  })
})

describe('binomialLlr', () => {
  it.each<[string, number, number, number, number, number]>([
    ['2 of 100 at 2% against 1%', 100, 2, 0.02, 0.01, 0.39136195764613035], // 2·ln 2 + 98·ln(0.98/0.99)
    ['6 of 30 at 20% against 1%', 30, 6, 0.2, 0.01, 12.860156470266949], // 6·ln 20 + 24·ln(0.8/0.99)
    ['none of 1000, a fifth of 0.1%', 1000, 0, 0.0002, 0.001, 0.8004803309165819], // 1000·ln(0.9998/0.999)
    ['none of 10 at 50% against 10%', 10, 0, 0.5, 0.1, -5.87786664902119], // 10·ln(0.5/0.9)
    ['more bad than total (counter skew): no good events', 5, 7, 0.02, 0.01, 4.852030263919617], // 7·ln 2
    ['p0 = 0 and a bad event: impossible under p0', 10, 1, 0.1, 0, Infinity],
    // The likelihood of no bad events is 1 under p0 = 0 and 0.9^10 under p1: 10·ln(0.9)
    ['p0 = 0 and no bad events', 10, 0, 0.1, 0, -1.053605156578263],
    ['p1 = 0 and a bad event: impossible under p1', 10, 1, 0, 0.1, -Infinity]
  ])('%s', (_name, total, bad, p1, p0, expected) => {
    expect(binomialLlr(total, bad, p1, p0)).toBeCloseTo(expected, 9)
  })
})

describe('logMeanExp', () => {
  it.each<[number[], number]>([
    [[], -Infinity],
    [[0], 0],
    [[1000, 1000], 1000], // exp(1000) overflows; ln((e^1000 + e^1000)/2) = 1000
    [[-1000, -1000], -1000], // exp(−1000) underflows to 0
    [[1000, 0], 999.3068528194401], // 1000 + ln((1 + e^−1000)/2) = 1000 − ln 2
    [[0, Math.log(3)], 0.6931471805599453], // ln((1 + 3)/2) = ln 2
    [[Math.log(2), Math.log(4), Math.log(6)], 1.3862943611198906], // ln((2 + 4 + 6)/3) = ln 4
    [[-Infinity, 0], -0.6931471805599453], // ln((0 + 1)/2)
    [[-Infinity, -Infinity], -Infinity],
    [[Infinity, 0], Infinity]
  ])('%j → %d', (xs, expected) => {
    expect(logMeanExp(xs)).toBeCloseTo(expected, 9)
  })
})

describe('absoluteGrid', () => {
  it('mixes over 2, 3, 5, 10 and 20 × the limit', () => {
    expect(ABSOLUTE_GRID).toEqual([2, 3, 5, 10, 20])
  })

  it.each<[number, number[]]>([
    [0.01, [2, 3, 5, 10, 20]],
    [0.05, [2, 3, 5, 10]], // 20·5% = 100% is left out
    [0.1, [2, 3, 5]],
    [0.25, [2, 3]], // 3·25% = 75% < 100% ≤ 5·25%
    [0.4, [2]], // 2·40% = 80%
    [0.5, []], // 2·50% = 100%
    [0.7, []]
  ])('limit %d → %j', (maxRate, expected) => {
    expect(absoluteGrid(maxRate)).toEqual(expected)
  })
})

describe('negligibleRate', () => {
  it.each<[string, number | undefined, number | undefined, number]>([
    ['no limit: a quarter of 1%', undefined, undefined, 0.0025], // min(0.01, 0.01)·0.25
    ['a 5% limit: at most 0.25%', 0.05, undefined, 0.0025], // min(0.05, 0.01)·0.25
    ['a 1% limit', 0.01, undefined, 0.0025],
    ['a 0.2% limit: a quarter of it', 0.002, undefined, 0.0005], // 0.002·0.25
    ['a 0% limit counts as none', 0, undefined, 0.0025],
    ['set for every metric', 0.05, 0.001, 0.001]
  ])('%s', (_name, maxRate, setting, expected) => {
    const metric: RatioMetric = {
      kind: 'ratio',
      name: 'm',
      what: 'bad',
      relative: true,
      ...(maxRate === undefined ? {} : { maxRate })
    }
    const s = setting === undefined ? DEFAULT_JUDGE : { ...DEFAULT_JUDGE, negligibleRate: setting }
    expect(negligibleRate(metric, s)).toBeCloseTo(expected, 9)
  })
})

describe('judgedForRollback', () => {
  const limitOnly: RatioMetric = {
    kind: 'ratio',
    name: 'q',
    what: 'bad',
    relative: false,
    maxRate: 0.05
  }
  const panics: RatioMetric = { kind: 'ratio', name: 'p', what: 'bad', relative: false, maxRate: 0 }
  const noLimit: RatioMetric = {
    kind: 'ratio',
    name: 'n',
    what: 'bad',
    relative: false,
    maxRate: 1
  }
  it.each<[string, JudgedMetric[], string[]]>([
    ['errors and latency', [errors, latency], ['errors', 'latency']],
    ['a gauge is not', [cpu, latency], ['latency']],
    ['a limit only is', [limitOnly], ['q']],
    // a 0% limit rolls back on the first bad event, not by a sequential test
    ['neither relative nor a limit in (0, 1) is not', [panics, noLimit], []]
  ])('%s', (_name, metrics, expected) => {
    expect(judgedForRollback(metrics).map((m) => m.name)).toEqual(expected)
  })
})

describe('alphaWeight', () => {
  it.each<[RatioMetric, number]>([
    [errors, 2],
    [{ ...errors, maxRate: 1 }, 2], // by name, whatever its tests
    [latency, 1],
    [{ kind: 'ratio', name: 'queue', what: 'bad', relative: true }, 1]
  ])('%j → %d', (metric, expected) => {
    expect(alphaWeight(metric)).toBe(expected)
  })
})

describe('thresholds', () => {
  const queue: RatioMetric = {
    kind: 'ratio',
    name: 'queue',
    what: 'bad',
    relative: false,
    maxRate: 0.05
  }
  const panics: RatioMetric = { kind: 'ratio', name: 'p', what: 'bad', relative: false, maxRate: 0 }
  it.each<[string, JudgedMetric[], number, number, Record<string, number>, number, number]>([
    // α split by weight, errors 2 of 3: ln(3/(0.01·2)), ln(3/(0.01·1));
    // β split 90/10: ln(1/(0.9·0.01)), ln(1/(0.1·0.01))
    [
      'errors and latency: errors weighs 2 of 3',
      [errors, latency],
      0.01,
      0.01,
      { errors: 5.0106352940962555, latency: 5.703782474656201 },
      4.710530701645918,
      6.907755278982137
    ],
    [
      'one metric has all of α', // ln(1/0.01)
      [latency],
      0.01,
      0.01,
      { latency: 4.605170185988092 },
      4.710530701645918,
      6.907755278982137
    ],
    // ln(2/(0.01·2)) = ln 100; ln(1/(0.9·0.1)), ln(1/(0.1·0.1))
    [
      'errors alone: all of α, whatever its weight; β = 10%',
      [errors],
      0.01,
      0.1,
      { errors: 4.605170185988092 },
      2.407945608651872,
      4.605170185988092
    ],
    [
      'gauges only: no rollback threshold',
      [cpu],
      0.01,
      0.01,
      {},
      4.710530701645918,
      6.907755278982137
    ],
    [
      'a metric without a rollback test takes no share', // ln(1/0.01)
      [latency, panics, cpu],
      0.01,
      0.01,
      { latency: 4.605170185988092 },
      4.710530701645918,
      6.907755278982137
    ],
    // weights 2 + 1 + 1: ln(4/(0.01·2)) = ln 200, ln(4/0.01) = ln 400
    [
      "a user's metric weighs 1",
      [errors, latency, queue],
      0.01,
      0.01,
      { errors: 5.298317366548036, latency: 5.991464547107982, queue: 5.991464547107982 },
      4.710530701645918,
      6.907755278982137
    ],
    [
      'α = 5%', // ln(1/0.05)
      [latency],
      0.05,
      0.01,
      { latency: 2.995732273553991 },
      4.710530701645918,
      6.907755278982137
    ]
  ])('%s', (_name, metrics, alpha, beta, rollback, safety, negligible) => {
    const t = thresholds(metrics, { ...DEFAULT_JUDGE, alpha, beta })
    expect(t.rollback).toEqual(
      Object.fromEntries(Object.entries(rollback).map(([k, v]) => [k, expect.closeTo(v, 9)]))
    )
    expect(t.safety).toBeCloseTo(safety, 9)
    expect(t.negligible).toBeCloseTo(negligible, 9)
  })

  it('the rollback shares add up to α', () => {
    const t = thresholds([errors, latency, queue], DEFAULT_JUDGE)
    const spent = Object.values(t.rollback).reduce((sum, x) => sum + Math.exp(-x), 0)
    expect(spent).toBeCloseTo(DEFAULT_JUDGE.alpha, 12)
  })
})

describe('addRatio', () => {
  it('caps each check at ln 10', () => {
    expect(CHECK_CAP).toBeCloseTo(2.302585092994046, 12)
  })

  // A: candidate 2/100, stable 18/900 (10%, like stable). B: candidate 5/100, stable 9/900 (5×).
  const A = [n(100, 2), n(900, 18)] as const
  const B = [n(100, 5), n(900, 9)] as const
  const notRelative: RatioMetric = { ...errors, relative: false }
  const limit5: RatioMetric = { ...errors, maxRate: 0.05 }
  it.each<
    [
      string,
      RatioMetric,
      ReadonlyArray<readonly [Counts, Counts | undefined]>,
      {
        regression: number[]
        safety: number
        overLimit: number[]
        negligible: number[]
        candidate: Counts
        stable: Counts
      }
    ]
  >([
    [
      'one check: every statistic',
      errors,
      [A],
      {
        // ℓ(g; 1) for g = 1.5, 2, 3, 5, 10 at w = 1/9 (none reaches the cap)
        regression: [
          -0.1648730671723102, -0.519909234966605, -1.4492065585428744, -3.5105689075560598,
          -8.231907537459806
        ],
        safety: 1.4492065585428726, // ℓ(1; 3): 2·ln(0.1/0.25) + 18·ln(0.9/0.75)
        // 2·ln(g) + 98·ln((1 − g·0.01)/0.99) for g = 2, 3, 5, 10, 20
        overLimit: [
          0.39136195764613035, 0.19715515747792134, -0.8229341114686144, -4.7352274348357355,
          -14.891670568041423
        ],
        // 2·ln(g) + 98·ln((1 − g·0.0025)/0.9975) for g = 0.5, 0.2, 0.05 of 0.25%
        negligible: [-1.263564226106235, -3.0225813175774583, -5.758408551421175],
        candidate: n(100, 2),
        stable: n(900, 18)
      }
    ],
    [
      'a burst adds at most ln 10 to each g',
      errors,
      [B],
      {
        // raw ℓ(g; 1) = 1.3443, 2.1314, 2.9406, 3.3366, 2.5270; the last three are capped
        regression: [1.3442632421687746, 2.1313933855391793, LN10, LN10, LN10],
        safety: -2.940559648225184, // ℓ(1; 3) = 5·ln(0.1/0.25) + 9·ln(0.9/0.75), uncapped
        overLimit: [
          2.50126061371802, 3.5542186383758727, 4.129108501435834, 2.4584583835593783,
          -5.265194100997325
        ], // 5·ln(g) + 95·ln((1 − g·0.01)/0.99)
        // 5·ln(g) + 95·ln((1 − g·0.0025)/0.9975)
        negligible: [-3.3467628127354687, -7.856904070409068, -14.752739739298049],
        candidate: n(100, 5),
        stable: n(900, 9)
      }
    ],
    [
      'the cap is per check: two bursts add up past it',
      errors,
      [B, B],
      {
        regression: [2.688526484337549, 4.262786771078359, 2 * LN10, 2 * LN10, 2 * LN10],
        safety: -5.881119296450368,
        overLimit: [
          5.00252122743604, 7.108437276751745, 8.258217002871667, 4.916916767118757,
          -10.53038820199465
        ],
        negligible: [-6.693525625470937, -15.713808140818136, -29.505479478596097],
        candidate: n(200, 10),
        stable: n(1800, 18)
      }
    ],
    [
      'the safety sum is not capped',
      latency,
      [[n(1000, 50), n(1000, 50)]],
      {
        // w = 1: π(g) = g/(1+g); 50·ln(π(g)/0.5) + 50·ln((1−π(g))/0.5)
        regression: [
          -2.0410997260127566, -5.889151782819171, -14.384103622589048, -29.389333245105966,
          -55.345554574140216
        ],
        safety: 14.384103622589045, // 50·ln(0.5/0.75) + 50·ln(0.5/0.25) = 50·ln(4/3)
        overLimit: [0, 0, 0, 0, 0], // no limit
        // 50·ln(g) + 950·ln((1 − g·0.0025)/0.9975)
        negligible: [-33.467628127354686, -78.56904070409068, -147.52739739298048],
        candidate: n(1000, 50),
        stable: n(1000, 50)
      }
    ],
    [
      'the candidate alone (at 100%): nothing to compare',
      errors,
      [[n(100, 2), undefined]],
      {
        regression: [0, 0, 0, 0, 0],
        safety: 0,
        overLimit: [
          0.39136195764613035, 0.19715515747792134, -0.8229341114686144, -4.7352274348357355,
          -14.891670568041423
        ],
        negligible: [-1.263564226106235, -3.0225813175774583, -5.758408551421175],
        candidate: n(100, 2),
        stable: n(0, 0)
      }
    ],
    [
      'not relative: the stable is counted, not compared',
      notRelative,
      [A],
      {
        regression: [0, 0, 0, 0, 0],
        safety: 0,
        overLimit: [
          0.39136195764613035, 0.19715515747792134, -0.8229341114686144, -4.7352274348357355,
          -14.891670568041423
        ],
        negligible: [-1.263564226106235, -3.0225813175774583, -5.758408551421175],
        candidate: n(100, 2),
        stable: n(900, 18)
      }
    ],
    [
      'a 5% limit: g = 20 (a share of 100%) stays 0',
      limit5,
      [A],
      {
        regression: [
          -0.1648730671723102, -0.519909234966605, -1.4492065585428744, -3.5105689075560598,
          -8.231907537459806
        ],
        safety: 1.4492065585428726,
        // 2·ln(g) + 98·ln((1 − g·0.05)/0.95) for g = 2, 3, 5, 10
        overLimit: [
          -3.9122933233671278, -8.702887663465768, -19.94722442542638, -58.2965106589066, 0
        ],
        // the negligible share is still 0.25%
        negligible: [-1.263564226106235, -3.0225813175774583, -5.758408551421175],
        candidate: n(100, 2),
        stable: n(900, 18)
      }
    ]
  ])('%s', (_name, metric, checks, expected) => {
    const e = evidenceAfter(metric, checks)
    expect(e.regression).toEqual(close(expected.regression))
    expect(e.safety).toBeCloseTo(expected.safety, 9)
    expect(e.overLimit).toEqual(close(expected.overLimit))
    expect(e.negligible).toEqual(close(expected.negligible))
    expect(e.candidate).toEqual(expected.candidate)
    expect(e.stable).toEqual(expected.stable)
  })

  it('counts accumulate over checks of both colors', () => {
    const e = evidenceAfter(errors, [A, B, [n(50, 1), undefined]])
    expect(e.candidate).toEqual(n(250, 8))
    expect(e.stable).toEqual(n(1800, 27))
  })

  it('leaves the evidence it was given untouched', () => {
    const before = evidenceAfter(errors, [A])
    const copy = structuredClone(before)
    addRatio(before, errors, B[0], B[1], DEFAULT_JUDGE)
    expect(before).toEqual(copy)
  })
})

describe('rollbackLogE', () => {
  // e-values by hand: relative mean_g exp = (1 + 2 + 3 + 4 + 5)/5 = 3,
  // limit (2 + 4 + 6 + 8 + 10)/5 = 6
  const e: RatioEvidence = {
    ...(emptyEvidence(errors) as RatioEvidence),
    regression: [1, 2, 3, 4, 5].map(Math.log),
    overLimit: [2, 4, 6, 8, 10].map(Math.log)
  }
  const plain = (relative: boolean, maxRate?: number): RatioMetric => ({
    kind: 'ratio',
    name: 'm',
    what: 'bad',
    relative,
    ...(maxRate === undefined ? {} : { maxRate })
  })
  it.each<[string, RatioMetric, number]>([
    ['relative and limit: the mean of both', errors, 1.5040773967762742], // ln((3 + 6)/2)
    ['relative only', latency, 1.0986122886681098], // ln 3
    ['a limit of 100% is no limit test', plain(true, 1), 1.0986122886681098], // ln 3
    ['limit only', plain(false, 0.01), 1.791759469228055], // ln 6
    // g = 20 is out of a 5% limit's grid: (2 + 4 + 6 + 8)/4 = 5, then ln((3 + 5)/2)
    ['a 5% limit mixes over its grid only', plain(true, 0.05), 1.3862943611198906],
    ['neither test', plain(false, 0), -Infinity]
  ])('%s', (_name, metric, expected) => {
    expect(rollbackLogE(e, metric)).toBeCloseTo(expected, 9)
  })
})

describe('the negligible path', () => {
  const t = thresholds([errors], DEFAULT_JUDGE)
  const evidence = (safety: number, negligible: number[]): RatioEvidence => ({
    ...(emptyEvidence(errors) as RatioEvidence),
    safety,
    negligible
  })

  it('mixes over 0.5, 0.2 and 0.05 × the negligible share', () => {
    expect(NEGLIGIBLE_GRID).toEqual([0.5, 0.2, 0.05])
    expect(emptyEvidence(errors)).toMatchObject({ negligible: [0, 0, 0] })
    // ln((2 + 4 + 6)/3) = ln 4
    expect(negligibleLogE(evidence(0, [2, 4, 6].map(Math.log)))).toBeCloseTo(1.3862943611198906, 9)
  })

  // safety of ln(1/(0.9·0.01)) = 4.7105, negligible of ln(1/(0.1·0.01)) = 6.9078: the nearer
  // path, clamped to 0..1
  const quarter = 1.7269388197455342 // ln(1000)/4
  it.each<[string, number, number[], number]>([
    ['no evidence', 0, [0, 0, 0], 0],
    ['half way on the relative path', 2.355265350822959, [0, 0, 0], 0.5], // ln(1/0.009)/2
    // a tenth of the relative path, ln(1/0.009)/10, against a quarter of the negligible one
    ['a quarter on the negligible path', 0.4710530701645918, [quarter, quarter, quarter], 0.25],
    ['evidence against both is 0', -3, [-5, -5, -5], 0],
    ['past the threshold is 1', 10, [0, 0, 0], 1]
  ])('safetyProgress: %s', (_name, safety, negligible, expected) => {
    expect(safetyProgress(evidence(safety, negligible), t)).toBeCloseTo(expected, 9)
  })
})

describe('judgeCheck', () => {
  const metrics: JudgedMetric[] = [errors, latency]
  const healthy = ratio(n(100, 1), n(900, 9))

  function run(
    ms: readonly JudgedMetric[],
    checks: ReadonlyArray<Record<string, MetricSample>>,
    from: JudgeState = initialState(ms)
  ): { state: JudgeState; findings: Finding[][] } {
    let state = from
    const findings: Finding[][] = []
    for (const samples of checks) {
      const r = judgeCheck(state, ms, samples, DEFAULT_JUDGE)
      state = r.state
      findings.push(r.findings)
    }
    return { state, findings }
  }

  // errors weighs 2 of 3, so it rolls back at ln(3/(2·0.01)) = ln 150 = 5.0106, on the mean of
  // its relative and limit e-values. One check caps the relative one at 10 (10/2 < 150), so the
  // limit test decides: L = ln mean_g exp(k·ln(g) + (n−k)·ln((1 − g·0.01)/0.99)) over
  // g = 2 … 20, R = ln mean_g exp(min(ℓ(g; 1), ln 10)); rolled back when
  // ln((e^R + e^L)/2) ≥ ln 150.
  it.each<[number, number, number, number, number, number]>([
    [20, 4, 180, 2, 7.360190068108879, 6.672474118395651], // R = 2.1473
    [25, 5, 225, 2, 9.417824616383427, 8.725414975180854], // R = 2.2060
    [30, 6, 270, 3, 11.497822436412282, 10.80477137711309], // R = 2.2480
    [40, 8, 360, 4, 15.697132458219567, 15.003986801086665] // R = ln 10
  ])(
    'a 20%% 5xx candidate, %d requests (%d bad) against a 1%% limit, rolls back at its first check',
    (total, bad, stableTotal, stableBad, logE, rollback) => {
      const { state, findings } = run(metrics, [
        { errors: ratio(n(total, bad), n(stableTotal, stableBad)), latency: healthy }
      ])
      const e = state['errors'] as RatioEvidence
      expect(overLimitLogE(e, errors)).toBeCloseTo(logE, 9)
      expect(regressionLogE(e)).toBeLessThanOrEqual(LN10)
      expect(rollbackLogE(e, errors)).toBeCloseTo(rollback, 9)
      expect(findings[0]).toEqual([
        {
          kind: 'regressed',
          metric: 'errors',
          reason: `errors: candidate ${bad}/${total} = 20.0% 5xx, above the limit 1.00% at 99% confidence`
        },
        { kind: 'ok', metric: 'latency' }
      ])
    }
  )

  it('a candidate identical to stable is ok', () => {
    const { state, findings } = run(metrics, [{ errors: healthy, latency: healthy }])
    expect(findings[0]).toEqual([
      { kind: 'ok', metric: 'errors' },
      { kind: 'ok', metric: 'latency' }
    ])
    // ln mean exp(ℓ(g; 1)) for 1/100 against 9/900: 1·ln(π(g)/0.1) + 9·ln((1−π(g))/0.9)
    expect(regressionLogE(state['errors'] as RatioEvidence)).toBeCloseTo(-0.7483886166459724, 9)
    // ln mean exp(ln(g) + 99·ln((1 − g·0.01)/0.99)) over g = 2 … 20
    expect(overLimitLogE(state['errors'] as RatioEvidence, errors)).toBeCloseTo(
      -1.4147916337435884,
      9
    )
    // ln((e^−0.74839 + e^−1.41479)/2)
    expect(rollbackLogE(state['errors'] as RatioEvidence, errors)).toBeCloseTo(
      -1.0270762611257347,
      9
    )
  })

  // At the edge, 4 bad of n with the stable at 3/9n: R = 2.1237 both, L = 5.8527 at n = 30,
  // 5.6045 at n = 32; ln((e^R + e^L)/2) = 5.1833 ≥ ln 150, 4.9417 < ln 150.
  it.each<[number, number, string]>([
    [30, 5.183276982634891, 'regressed'],
    [32, 4.941671236792921, 'ok']
  ])('4 bad of %d requests: the mean of both e-values is %d', (total, rollback, kind) => {
    const { state, findings } = run(metrics, [
      { errors: ratio(n(total, 4), n(9 * total, 3)), latency: healthy }
    ])
    expect(rollbackLogE(state['errors'] as RatioEvidence, errors)).toBeCloseTo(rollback, 9)
    expect(findings[0]?.[0]?.kind).toBe(kind)
  })

  // Evidence set by hand, then a check that adds nothing (no requests): only the thresholds and
  // the mean of the two e-values decide. Alone, errors has all of α: ln 100; beside latency,
  // 2 of 3: ln 150.
  const carried = (relative: number, limit: number): JudgeState => ({
    errors: {
      ...(emptyEvidence(errors) as RatioEvidence),
      regression: RELATIVE_GRID.map(() => Math.log(relative)),
      overLimit: ABSOLUTE_GRID.map(() => Math.log(limit)),
      candidate: n(1000, 30),
      stable: n(9000, 90)
    }
  })
  const worse =
    'errors: candidate 30/1000 = 3.00% 5xx, worse than stable 90/9000 = 1.00% (3×) at 99% confidence'
  const above = 'errors: candidate 30/1000 = 3.00% 5xx, above the limit 1.00% at 99% confidence'
  it.each<[string, JudgedMetric[], number, number, Finding]>([
    // (150 + 60)/2 = 105 ≥ 100, though neither test alone reaches 1/(α/2) = 200
    [
      'the mean of both reaches 1/α',
      [errors],
      150,
      60,
      { kind: 'regressed', metric: 'errors', reason: worse }
    ],
    // (150 + 40)/2 = 95 < 100, though the relative test alone is past 1/α
    ['one test alone past 1/α is not enough', [errors], 150, 40, { kind: 'ok', metric: 'errors' }],
    // (10 + 195)/2 = 102.5, the limit test the larger
    [
      'the larger e-value names the test',
      [errors],
      10,
      195,
      { kind: 'regressed', metric: 'errors', reason: above }
    ],
    // 105 < 150: beside latency, errors has 2/3 of α
    [
      'beside latency errors needs 150',
      [errors, latency],
      150,
      60,
      { kind: 'ok', metric: 'errors' }
    ],
    // (250 + 60)/2 = 155 ≥ 150
    [
      'beside latency 155 is enough',
      [errors, latency],
      250,
      60,
      { kind: 'regressed', metric: 'errors', reason: worse }
    ]
  ])('%s', (_name, ms, relative, limit, finding) => {
    const r = judgeCheck(
      carried(relative, limit),
      ms,
      { errors: ratio(n(0, 0), n(0, 0)), latency: ratio(n(0, 0), n(0, 0)) },
      DEFAULT_JUDGE
    )
    expect(r.findings[0]).toEqual(finding)
  })

  it('a relative regression needs three bursts of ln 10: one cannot decide alone', () => {
    // 10/100 slow against 9/900: every g is capped at ln 10; mean over g after k checks = k·ln 10
    const burst = { errors: healthy, latency: ratio(n(100, 10), n(900, 9)) }
    const { state, findings } = run(metrics, [burst, burst, burst])
    expect(findings.map((f) => f[1]?.kind)).toEqual(['ok', 'ok', 'regressed'])
    expect(regressionLogE(state['latency'] as RatioEvidence)).toBeCloseTo(6.907755278982138, 9)
    expect(findings[2]?.[1]).toEqual({
      kind: 'regressed',
      metric: 'latency',
      reason:
        'latency: candidate 30/300 = 10.0% slow, worse than stable 27/2700 = 1.00% (10×) at 99% confidence'
    })
  })

  it('no data: a no-data finding, the evidence kept, a gauge streak reset', () => {
    const ms: JudgedMetric[] = [errors, latency, cpu]
    const before = run(ms, [
      { errors: healthy, latency: healthy, cpu: { kind: 'gauge', value: 0.9 } }
    ])
    expect(before.state['cpu']).toEqual({ kind: 'gauge', outOfBounds: 1, last: 0.9 })
    const r = judgeCheck(
      before.state,
      ms,
      {
        errors: { kind: 'none', reason: 'no candidate series' },
        cpu: { kind: 'none', reason: 'the query returned nothing' }
      },
      DEFAULT_JUDGE
    )
    expect(r.findings).toEqual([
      { kind: 'no-data', metric: 'errors', reason: 'no candidate series' },
      { kind: 'no-data', metric: 'latency', reason: 'not measured' },
      { kind: 'no-data', metric: 'cpu', reason: 'the query returned nothing' }
    ])
    expect(r.state['errors']).toEqual(before.state['errors'])
    expect(r.state['cpu']).toEqual({ kind: 'gauge', outOfBounds: 0, last: 0.9 })
  })

  it('a sample of the wrong kind is no data', () => {
    const r = judgeCheck(
      initialState([errors]),
      [errors],
      { errors: { kind: 'gauge', value: 1 } },
      DEFAULT_JUDGE
    )
    expect(r.findings).toEqual([
      { kind: 'no-data', metric: 'errors', reason: 'a gauge sample for ratio metric errors' }
    ])
  })

  it(`a gauge fails at ${GAUGE_FAILURES} checks in a row out of bounds`, () => {
    expect(GAUGE_FAILURES).toBe(2)
  })

  const rps: GaugeMetric = { kind: 'gauge', name: 'rps', min: 1 }
  it.each<[string, GaugeMetric, Array<number | null>, Finding, number]>([
    ['once above max', cpu, [0.9], { kind: 'ok', metric: 'cpu' }, 1],
    [
      'twice in a row above max',
      cpu,
      [0.9, 0.95],
      { kind: 'regressed', metric: 'cpu', reason: 'cpu 0.95 above max 0.8 at 2 checks in a row' },
      2
    ],
    [
      'three times in a row',
      cpu,
      [0.9, 0.9, 0.9],
      { kind: 'regressed', metric: 'cpu', reason: 'cpu 0.9 above max 0.8 at 3 checks in a row' },
      3
    ],
    ['out, in, out', cpu, [0.9, 0.5, 0.9], { kind: 'ok', metric: 'cpu' }, 1],
    ['out, no data, out', cpu, [0.9, null, 0.9], { kind: 'ok', metric: 'cpu' }, 1],
    ['at the bound is in bounds', cpu, [0.8, 0.8], { kind: 'ok', metric: 'cpu' }, 0],
    [
      'twice below min',
      rps,
      [0.5, 0.2],
      { kind: 'regressed', metric: 'rps', reason: 'rps 0.2 below min 1 at 2 checks in a row' },
      2
    ]
  ])('%s', (_name, gauge, values, last, outOfBounds) => {
    const { state, findings } = run(
      [gauge],
      values.map((v) => ({
        [gauge.name]:
          v === null ? { kind: 'none', reason: 'no value' } : { kind: 'gauge', value: v }
      }))
    )
    expect(findings.at(-1)).toEqual([last])
    expect(state[gauge.name]).toMatchObject({ kind: 'gauge', outOfBounds })
  })

  it.each<[string, Counts, Finding]>([
    [
      'one bad event',
      n(100, 1),
      {
        kind: 'regressed',
        metric: 'panics',
        reason: 'panics: candidate 1/100 = 1.00% panics, and the limit is 0%'
      }
    ],
    ['none', n(100, 0), { kind: 'ok', metric: 'panics' }]
  ])('a limit of 0%%: %s', (_name, candidate, finding) => {
    const panics: RatioMetric = {
      kind: 'ratio',
      name: 'panics',
      what: 'panics',
      relative: false,
      maxRate: 0
    }
    const r = judgeCheck(
      initialState([panics]),
      [panics],
      { panics: ratio(candidate) },
      DEFAULT_JUDGE
    )
    expect(r.findings).toEqual([finding])
  })

  it('the state round-trips through JSON and continues the same', () => {
    const checks = [
      { errors: ratio(n(100, 3), n(900, 9)), latency: healthy, cpu: { kind: 'gauge', value: 0.9 } },
      {
        errors: ratio(n(120, 2), n(880, 10)),
        latency: ratio(n(90, 0), n(910, 0)),
        cpu: { kind: 'gauge', value: 0.5 }
      }
    ] satisfies Array<Record<string, MetricSample>>
    const ms: JudgedMetric[] = [errors, latency, cpu]
    const first = run(ms, checks.slice(0, 1))
    const direct = run(ms, checks.slice(1), first.state)
    const restored = run(ms, checks.slice(1), JSON.parse(JSON.stringify(first.state)) as JudgeState)
    expect(restored).toEqual(direct)
  })
})

describe('safetyGap', () => {
  const t = thresholds([errors], DEFAULT_JUDGE)
  const seen = evidenceAfter(errors, [[n(500, 5), n(500, 5)]])
  it.each<[string, RatioEvidence, number, { progress: number; requests?: number } | undefined]>([
    ['shown safe: no gap', evidenceAfter(errors, [[n(1000, 50), n(1000, 50)]]), 50, undefined],
    [
      // safety 5·ln(4/3) = 1.4384 of ln(1/0.009) = 4.7105; per bad event at w = 1:
      // KL(π(1) ‖ π(3)) = 0.5·ln(0.5/0.75) + 0.5·ln(0.5/0.25) = 0.143841; bad share 10/1000:
      // (4.7105 − 1.4384) / 0.143841 / 0.01 requests
      '5/500 on both colors at 50%',
      seen,
      50,
      { progress: 0.3053605747132284, requests: 2274.81699606809 }
    ],
    [
      // no bad events: only the negligible path, on its fastest grid point (g = 0.05: per
      // candidate request ln((1 − 0.05·0.0025)/0.9975) = 0.0023781) with the mixture's ln 3:
      // (ln 1000 + ln 3) / 0.0023781 candidate requests, half of all requests at 50%
      'no evidence at 50%',
      emptyEvidence(errors) as RatioEvidence,
      50,
      { progress: 0, requests: 6733.351951040497 }
    ],
    [
      'no evidence at 10%',
      emptyEvidence(errors) as RatioEvidence,
      10,
      { progress: 0, requests: 33666.75975520248 }
    ],
    // at 100% nothing to compare, and 2% is not negligible: no estimate
    ['2/100 at 100%', evidenceAfter(errors, [[n(100, 2), undefined]]), 100, { progress: 0 }]
  ])('%s', (_name, e, weight, expected) => {
    const gap = safetyGap(e, errors, t, DEFAULT_JUDGE, weight)
    if (expected === undefined) {
      expect(gap).toBeUndefined()
      return
    }
    expect(gap?.metric).toBe('errors')
    expect(gap?.progress).toBeCloseTo(expected.progress, 9)
    if (expected.requests === undefined) expect(gap).not.toHaveProperty('requests')
    else expect(gap?.requests).toBeCloseTo(expected.requests, 6)
  })
})

describe('needText', () => {
  it.each<[number | undefined, number | undefined, string]>([
    [undefined, 5, 'more bad events to compare'],
    [Infinity, 5, 'more bad events to compare'],
    [1200, 5, 'about 1,200 more requests (~4m at 5 rps)'], // 240 s
    [2274.8, 5, 'about 2,275 more requests (~8m at 5 rps)'], // 455 s → 7.6 min
    [1234.5, undefined, 'about 1,235 more requests'],
    [1234.5, 0, 'about 1,235 more requests'],
    [1.5, undefined, 'about 2 more requests'],
    [90, 2.5, 'about 90 more requests (~36s at 2.5 rps)'],
    [1e6, 100, 'about 1,000,000 more requests (~2h47m at 100 rps)'], // 10000 s → 167 min
    [0.2, undefined, 'about 1 more request'],
    [1, undefined, 'about 1 more request'],
    [90, 0.04, 'about 90 more requests (~38m at 0.04 rps)'], // 2250 s → 37.5 min; not "0 rps"
    [100, 0.25, 'about 100 more requests (~7m at 0.25 rps)'], // 400 s → 6.7 min; not "0.3 rps"
    [600, 12.34, 'about 600 more requests (~49s at 12 rps)'] // 48.6 s; not "12.3 rps"
  ])('%d at %d rps → %s', (requests, rps, expected) => {
    expect(needText(requests, rps)).toBe(expected)
  })
})

describe('roughDuration', () => {
  it.each<[number, string]>([
    [0, '1s'],
    [400, '1s'],
    [45_000, '45s'],
    [119_000, '119s'],
    [119_600, '2m'], // 120 s
    [420_000, '7m'],
    [7_140_000, '119m'],
    [7_170_000, '2h'], // 119.5 min rounds to 120
    [7_800_000, '2h10m'],
    [86_400_000, '24h']
  ])('%d ms → %s', (ms, expected) => {
    expect(roughDuration(ms)).toBe(expected)
  })
})

describe('stepDecision', () => {
  const metrics: JudgedMetric[] = [errors]
  const base: StepInput = {
    state: initialState(metrics),
    metrics,
    settings: DEFAULT_JUDGE,
    findings: [{ kind: 'ok', metric: 'errors' }],
    weight: 50,
    elapsedMs: 60_000,
    extensions: 0,
    stepDurationMs: 60_000,
    maxExtensions: 2,
    gate: false,
    missing: []
  }
  const seen: JudgeState = { errors: evidenceAfter(errors, [[n(500, 5), n(500, 5)]]) }
  const safe: JudgeState = { errors: evidenceAfter(errors, [[n(1000, 50), n(1000, 50)]]) }
  const limitOnly: RatioMetric = { ...errors, relative: false }

  it.each<[string, Partial<StepInput>, StepVerdict]>([
    ['bakes before the step duration', { elapsedMs: 59_999 }, { kind: 'bake' }],
    ['bakes through an extension', { elapsedMs: 119_999, extensions: 1 }, { kind: 'bake' }],
    ['advances after the bake when nothing is missing', {}, { kind: 'advance' }],
    [
      'a regression rolls back at once, mid-bake',
      {
        elapsedMs: 10_000,
        findings: [
          { kind: 'regressed', metric: 'errors', reason: 'errors: worse' },
          { kind: 'ok', metric: 'latency' },
          { kind: 'regressed', metric: 'cpu', reason: 'cpu: high' }
        ]
      },
      { kind: 'rollback', reason: 'errors: worse; cpu: high' }
    ],
    [
      'missing data extends',
      { missing: ['errors'] },
      { kind: 'extend', extension: 1, reason: 'no data for errors in this step' }
    ],
    [
      'missing data after every extension is inconclusive',
      { missing: ['errors'], extensions: 2, elapsedMs: 180_000 },
      {
        kind: 'inconclusive',
        reason: 'inconclusive after 3 step durations at 50%: no data for errors in this step'
      }
    ],
    [
      'the gate without safety extends and says how many more requests',
      { gate: true, state: seen, requestsPerSecond: 5 },
      {
        kind: 'extend',
        extension: 1,
        reason: notShown('31%', 'about 2,275 more requests (~8m at 5 rps)')
      }
    ],
    [
      'the gate without safety after the last extension is inconclusive',
      { gate: true, state: seen, requestsPerSecond: 5, extensions: 2, elapsedMs: 180_000 },
      {
        kind: 'inconclusive',
        reason: `inconclusive after 3 step durations at 50%: ${notShown('31%', 'about 2,275 more requests (~8m at 5 rps)')}`
      }
    ],
    [
      'no extensions allowed: inconclusive after one duration',
      { gate: true, maxExtensions: 0 },
      {
        kind: 'inconclusive',
        reason: `inconclusive after 1 step duration at 50%: ${notShown('0%', 'about 6,734 more requests')}`
      }
    ],
    ['the gate with safety shown advances', { gate: true, state: safe }, { kind: 'advance' }],
    [
      'a metric without the relative test needs no safety',
      { gate: true, metrics: [limitOnly], state: initialState([limitOnly]) },
      { kind: 'advance' }
    ]
  ])('%s', (_name, input, expected) => {
    expect(stepDecision({ ...base, ...input })).toEqual(expected)
  })
})

describe('checkStep', () => {
  const ctx = (metrics: JudgedMetric[], now: number, gate: boolean): CheckContext => ({
    metrics,
    settings: DEFAULT_JUDGE,
    stepDurationMs: 60_000,
    maxExtensions: 2,
    gate,
    now
  })

  it('carries the extensions, then is inconclusive with the requests still needed', () => {
    // Thin traffic without a bad event: 5 + 5 requests every 10 s at 50%. Only the negligible
    // path moves: after k checks L = ln mean_g exp(5k·ln((1 − g·0.0025)/0.9975)) of ln 1000
    // (L = 0.0564, 0.1131, 0.1699 at k = 6, 12, 18); the requests still needed are
    // (ln 1000 + ln 3 − L) / ln((1 − 0.05·0.0025)/0.9975) / 0.5, at 1 rps.
    const metrics: JudgedMetric[] = [errors]
    let state = initialState(metrics)
    let progress: StepProgress = startStep(50, 0)
    const verdicts: StepVerdict[] = []
    const extensions: number[] = []
    for (let k = 1; k <= 18; k++) {
      const r = checkStep(
        state,
        progress,
        { errors: ratio(n(5, 0), n(5, 0)) },
        ctx(metrics, k * 10_000, true)
      )
      state = r.state
      progress = r.progress
      verdicts.push(r.verdict)
      extensions.push(progress.extensions)
    }
    const bake = { kind: 'bake' }
    expect(verdicts).toEqual([
      ...Array(5).fill(bake),
      // 6,685.9 requests; 6,686 s → 111 min
      {
        kind: 'extend',
        extension: 1,
        reason: notShown('1%', 'about 6,686 more requests (~111m at 1 rps)')
      },
      ...Array(5).fill(bake),
      {
        kind: 'extend',
        extension: 2,
        reason: notShown('2%', 'about 6,639 more requests (~111m at 1 rps)')
      },
      ...Array(5).fill(bake),
      {
        kind: 'inconclusive',
        reason: `inconclusive after 3 step durations at 50%: ${notShown('2%', 'about 6,591 more requests (~110m at 1 rps)')}`
      }
    ])
    expect(extensions).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2])
    expect(progress).toEqual({
      weight: 50,
      startedAt: 0,
      extensions: 2,
      seen: ['errors'],
      requests: 180
    })
  })

  it('a gauge without a value at its latest check is missing', () => {
    const metrics: JudgedMetric[] = [errors, cpu]
    let state = initialState(metrics)
    let progress = startStep(25, 0)
    let verdict: StepVerdict = { kind: 'bake' }
    for (let k = 1; k <= 6; k++) {
      const r = checkStep(
        state,
        progress,
        {
          errors: ratio(n(25, 0), n(75, 1)),
          cpu: k === 1 ? { kind: 'gauge', value: 0.5 } : { kind: 'none', reason: 'no value' }
        },
        ctx(metrics, k * 10_000, false)
      )
      state = r.state
      progress = r.progress
      verdict = r.verdict
    }
    expect(progress.seen).toEqual(['errors', 'cpu'])
    expect(progress.requests).toBe(600)
    expect(verdict).toEqual({
      kind: 'extend',
      extension: 1,
      reason: 'no data for cpu in this step'
    })
  })

  it('a metric with no candidate requests in the step is missing', () => {
    const metrics: JudgedMetric[] = [errors]
    const r = checkStep(
      initialState(metrics),
      startStep(10, 0),
      { errors: ratio(n(0, 0), n(600, 3)) },
      ctx(metrics, 60_000, false)
    )
    expect(r.progress.seen).toEqual([])
    expect(r.verdict).toEqual({
      kind: 'extend',
      extension: 1,
      reason: 'no data for errors in this step'
    })
  })

  it('a regression rolls back at the first check, mid-bake', () => {
    const metrics: JudgedMetric[] = [errors, latency]
    const r = checkStep(
      initialState(metrics),
      startStep(10, 0),
      { errors: ratio(n(30, 6), n(270, 3)), latency: ratio(n(30, 0), n(270, 3)) },
      ctx(metrics, 10_000, false)
    )
    expect(r.verdict).toEqual({
      kind: 'rollback',
      reason: 'errors: candidate 6/30 = 20.0% 5xx, above the limit 1.00% at 99% confidence'
    })
  })
})

describe('the limit test starts anew at each later step (LaterComponents)', () => {
  const g = (x: number) => ABSOLUTE_GRID.map(() => x)
  // Evidence of `errors` in a 4-step rollout after the given steps and checks.
  function walk(steps: number, path: ReadonlyArray<number | Counts>): RatioEvidence {
    let state = initialState([errors, cpu], steps)
    for (const p of path) {
      if (typeof p === 'number') state = enterStep(state, p)
      else {
        state = judgeCheck(
          state,
          [errors, cpu],
          { errors: ratio(p, n(900, 0)) },
          DEFAULT_JUDGE
        ).state
      }
    }
    return state['errors'] as RatioEvidence
  }

  it.each<[string, number, ReadonlyArray<number | Counts>, RatioEvidence['later']]>([
    ['a rollout of 4 steps starts with none', 4, [], { steps: 4, started: 0, sums: [] }],
    [
      'step 1 (the first) adds none: overLimit is its own',
      4,
      [0],
      { steps: 4, started: 0, sums: [] }
    ],
    // ln(1/(4 − 1)), before any count of the step
    ['step 2 adds one, weight 1/3', 4, [0, 1], { steps: 4, started: 1, sums: g(-Math.log(3)) }],
    [
      'a step started again (a resumed run) adds nothing',
      4,
      [0, 1, 1],
      { steps: 4, started: 1, sums: g(-Math.log(3)) }
    ],
    ['nor does an earlier one', 4, [0, 2, 1], { steps: 4, started: 2, sums: g(-Math.log(3)) }],
    // ln(e^(ln(1/3)) + 1/3) = ln(2/3): two components, nothing judged in between
    [
      'two later steps: 2/3 in all',
      4,
      [0, 1, 2],
      { steps: 4, started: 2, sums: g(Math.log(2 / 3)) }
    ],
    ['no step past the last', 4, [0, 4], { steps: 4, started: 0, sums: [] }],
    ['a one-step rollout has none', 1, [0], undefined]
  ])('%s', (_name, steps, path, later) => {
    const e = walk(steps, path)
    if (later === undefined) expect(e.later).toBeUndefined()
    else expect({ ...e.later, sums: e.later?.sums }).toEqual({ ...later, sums: close(later.sums) })
  })

  it('evidence from before (no `later`) is left as it was: one product with all the weight', () => {
    let state = initialState([errors])
    state = enterStep(state, 1)
    expect((state['errors'] as RatioEvidence).later).toBeUndefined()
    state = judgeCheck(state, [errors], { errors: ratio(n(25, 5), n(75, 0)) }, DEFAULT_JUDGE).state
    // ln mean_g exp(5·ln g + 20·ln((1 − g·0.01)/0.99)), as before the later components
    expect(overLimitLogE(state['errors'] as RatioEvidence, errors)).toBeCloseTo(
      9.417824616383427,
      9
    )
  })

  // A_g = Σ ℓ since the first check, B_g = ln Σ_s (1/3)·exp(Σ ℓ since step s); the e-value is
  // ln mean_g (0.75·e^A_g + 0.25·e^B_g), with ℓ = k·ln g + (n − k)·ln((1 − g·0.01)/0.99).
  it.each<[string, ReadonlyArray<number | Counts>, number]>([
    // ln(0.75) + 9.417825: the first step's component alone, at its weight
    [
      '5 bad of 25 in the first step',
      [0, n(25, 5)],
      Math.log(FIRST_STEP_WEIGHT) + 9.417824616383427
    ],
    // Healthy 100 requests in step 1 hold A down (legacy: 2.3737); step 2's own component is
    // what decides: ln(1/3) + 9.4178 − ln(mean) …
    [
      '5 bad of 25 at step 2, after 100 healthy at step 1',
      [0, n(100, 0), 1, n(25, 5)],
      6.940740029047305
    ],
    [
      '… and with a step 3 started in between, after 50 healthy at step 2',
      [0, n(100, 0), 1, n(50, 0), 2, n(25, 5)],
      6.941343961842226
    ]
  ])('%s', (_name, path, logE) => {
    expect(overLimitLogE(walk(4, path), errors)).toBeCloseTo(logE, 9)
  })

  // The benchmark's case: step 1 healthy for 10 checks, then 20% 5xx from step 2's first check.
  // One product over every check needs two such checks (the healthy ones count against 20×);
  // the step's own component rolls back at the first.
  it.each<[string, number | undefined, number]>([
    ['one product over every check (evidence from before)', undefined, 2],
    ['with a component from each later step', 4, 1]
  ])('a candidate that turns bad at step 2, %s', (_n, steps, at) => {
    let state = initialState([errors], steps)
    state = enterStep(state, 0)
    for (let i = 0; i < 10; i++) {
      state = judgeCheck(
        state,
        [errors],
        { errors: ratio(n(10, 0), n(90, 0)) },
        DEFAULT_JUDGE
      ).state
    }
    state = enterStep(state, 1)
    let rolledBackAt: number | undefined
    for (let check = 1; check <= 5 && rolledBackAt === undefined; check++) {
      const r = judgeCheck(state, [errors], { errors: ratio(n(25, 5), n(75, 0)) }, DEFAULT_JUDGE)
      state = r.state
      if (r.findings.some((f) => f.kind === 'regressed')) rolledBackAt = check
    }
    expect(rolledBackAt).toBe(at)
  })
})
