import {
  type CheckResult,
  evaluateCheck,
  type Measurement,
  stepVerdict,
  type Thresholds
} from '../../src/core/analysis.js'

const t: Thresholds = { maxErrorRate: 0.01, maxP99Ms: 500, minRequests: 20 }

describe('evaluateCheck', () => {
  it.each<[string, Measurement, Thresholds, CheckResult['verdict'], string[]]>([
    ['healthy', { requests: 100, errors: 0, p99Ms: 50 }, t, 'pass', []],
    ['at the error threshold passes', { requests: 100, errors: 1, p99Ms: 50 }, t, 'pass', []],
    [
      'above the error threshold',
      { requests: 100, errors: 20, p99Ms: 50 },
      t,
      'fail',
      ['error rate 20% above 1%']
    ],
    [
      'slow',
      { requests: 100, errors: 0, p99Ms: 900 },
      t,
      'fail',
      ['p99 latency 900ms above 500ms']
    ],
    [
      'both bad',
      { requests: 100, errors: 5, p99Ms: 900 },
      t,
      'fail',
      ['error rate 5% above 1%', 'p99 latency 900ms above 500ms']
    ],
    [
      'no series is inconclusive, never a pass',
      {},
      t,
      'inconclusive',
      ['no requests recorded for the candidate (no series)', 'no latency data for the candidate']
    ],
    [
      'no series without a latency threshold',
      {},
      { ...t, maxP99Ms: undefined },
      'inconclusive',
      ['no requests recorded for the candidate (no series)']
    ],
    [
      'thin traffic',
      { requests: 12, errors: 0, p99Ms: 40 },
      t,
      'inconclusive',
      ['only 12 requests in the window, need 20']
    ],
    [
      'zero requests',
      { requests: 0, errors: 0 },
      t,
      'inconclusive',
      ['only 0 requests in the window, need 20', 'no latency data for the candidate']
    ],
    [
      'thin and failing stays inconclusive',
      { requests: 10, errors: 5, p99Ms: 40 },
      t,
      'inconclusive',
      ['only 10 requests in the window, need 20', 'error rate 50% above 1%']
    ],
    [
      'no latency data while a latency threshold is set',
      { requests: 100, errors: 0 },
      t,
      'inconclusive',
      ['no latency data for the candidate']
    ],
    [
      'Prometheus down',
      { failure: 'Prometheus at http://x is unreachable' },
      t,
      'inconclusive',
      ['metrics unavailable: Prometheus at http://x is unreachable']
    ]
  ])('%s', (_name, m, thresholds, verdict, reasons) => {
    const r = evaluateCheck(m, thresholds)
    expect(r.verdict).toBe(verdict)
    expect(r.reasons).toEqual(reasons)
  })

  it('reports the measured error rate and p99', () => {
    expect(evaluateCheck({ requests: 200, errors: 3, p99Ms: 42 }, t)).toEqual({
      verdict: 'fail',
      requests: 200,
      errorRate: 0.015,
      p99Ms: 42,
      reasons: ['error rate 1.5% above 1%']
    })
  })
})

const pass: CheckResult = { verdict: 'pass', reasons: [] }
const fail: CheckResult = { verdict: 'fail', reasons: ['error rate 20% above 1%'] }
const thin: CheckResult = {
  verdict: 'inconclusive',
  reasons: ['only 3 requests in the window, need 20']
}
const limits = { stepDurationMs: 60_000, failureLimit: 2, maxExtensions: 2 }

describe('stepVerdict', () => {
  it.each<[string, CheckResult[], number, number, ReturnType<typeof stepVerdict>]>([
    ['bakes while the step is young', [pass], 10_000, 0, { kind: 'bake' }],
    ['no checks yet', [], 70_000, 0, { kind: 'bake' }],
    ['one failure is not enough', [pass, fail], 20_000, 0, { kind: 'bake' }],
    [
      'fails fast at the failure limit, mid-step',
      [fail, fail],
      20_000,
      0,
      { kind: 'rollback', reason: '2 consecutive failed checks: error rate 20% above 1%' }
    ],
    ['failures must be consecutive', [fail, pass, fail], 30_000, 0, { kind: 'bake' }],
    [
      'advances when the last check at the deadline passed',
      [thin, pass],
      60_000,
      0,
      { kind: 'advance' }
    ],
    [
      'extends when the last check is inconclusive',
      [pass, thin],
      60_000,
      0,
      { kind: 'extend', extension: 1, reason: 'only 3 requests in the window, need 20' }
    ],
    ['bakes through an extension', [thin], 70_000, 1, { kind: 'bake' }],
    [
      'extends a second time',
      [thin],
      120_000,
      1,
      { kind: 'extend', extension: 2, reason: 'only 3 requests in the window, need 20' }
    ],
    [
      'rolls back when still inconclusive after the extensions',
      [thin],
      180_000,
      2,
      {
        kind: 'rollback',
        reason: 'still inconclusive after 3 step durations: only 3 requests in the window, need 20'
      }
    ],
    [
      'extends on a lone failure at the deadline',
      [pass, fail],
      60_000,
      0,
      { kind: 'extend', extension: 1, reason: 'error rate 20% above 1%' }
    ],
    [
      'rolls back on a failure after the last extension',
      [pass, fail],
      180_000,
      2,
      { kind: 'rollback', reason: 'still failing after 3 step durations: error rate 20% above 1%' }
    ]
  ])('%s', (_name, checks, elapsed, extensions, expected) => {
    expect(stepVerdict(checks, elapsed, extensions, limits)).toEqual(expected)
  })

  it('never advances on inconclusive evidence, whatever the time', () => {
    for (let ext = 0; ext <= 5; ext++) {
      for (const elapsed of [0, 60_000, 120_000, 600_000]) {
        expect(stepVerdict([pass, thin], elapsed, ext, limits).kind).not.toBe('advance')
      }
    }
  })

  it('with failure-limit 1 a single failure rolls back', () => {
    expect(stepVerdict([fail], 1000, 0, { ...limits, failureLimit: 1 }).kind).toBe('rollback')
  })
})
