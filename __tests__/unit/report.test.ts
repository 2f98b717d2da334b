import { outputsOf, summaryMarkdown } from '../../src/report.js'
import type { RolloutRecord } from '../../src/core/record.js'

const record: RolloutRecord = {
  id: 'r1',
  phase: 'rolled-back',
  service: 'reviews',
  namespace: 'demo',
  stable: { color: 'blue', image: 'example.com/reviews:1.0.0' },
  candidate: { color: 'green', image: 'example.com/reviews:2.0.0' },
  steps: [10, 50, 100],
  step: 1,
  weights: { blue: 100, green: 0 },
  startedAt: '2026-11-25T10:00:00.000Z',
  heartbeatAt: '2026-11-25T10:01:00.000Z',
  owner: {},
  reason: '2 consecutive failed checks: error rate 20% above 1%',
  checks: [
    {
      at: '2026-11-25T10:00:10.000Z',
      step: 0,
      weight: 10,
      verdict: 'pass',
      requests: 50,
      errorRate: 0,
      p99Ms: 40,
      stable: { requests: 450, errorRate: 0.001, p99Ms: 45 },
      reasons: []
    },
    {
      at: '2026-11-25T10:00:20.000Z',
      step: 1,
      weight: 50,
      verdict: 'fail',
      requests: 250,
      errorRate: 0.2,
      p99Ms: 41,
      stable: { requests: 250, errorRate: 0, p99Ms: 44 },
      reasons: ['error rate 20% above 1%']
    },
    {
      at: '2026-11-25T10:00:21.000Z',
      step: 1,
      weight: 50,
      verdict: 'fail',
      requests: 260,
      errorRate: 0.19,
      reasons: ['error rate 19% above 1%']
    }
  ]
}

describe('outputsOf', () => {
  it('reports the last measured values and the reason', () => {
    expect(outputsOf(record)).toEqual({
      result: 'rolled-back',
      'stable-color': 'blue',
      'candidate-color': 'green',
      weights: 'blue=100,green=0',
      'error-rate': '0.190000',
      'p99-latency': '41ms',
      reason: '2 consecutive failed checks: error rate 20% above 1%'
    })
  })

  it('swaps the colors on promotion and leaves unmeasured values empty', () => {
    const promoted = {
      ...record,
      phase: 'promoted' as const,
      weights: { blue: 0, green: 100 },
      reason: undefined,
      checks: []
    }
    expect(outputsOf(promoted)).toEqual({
      result: 'promoted',
      'stable-color': 'green',
      'candidate-color': 'blue',
      weights: 'blue=0,green=100',
      'error-rate': '',
      'p99-latency': '',
      reason: ''
    })
  })
})

describe('summaryMarkdown', () => {
  const md = summaryMarkdown(record, { maxErrorRate: 0.01, maxP99Ms: 500 })
  it('puts the decision and its reason first', () => {
    const lines = md.split('\n')
    expect(lines[0]).toBe('## ❌ reviews (demo): rolled back to blue')
    expect(lines[2]).toBe('**Reason:** 2 consecutive failed checks: error rate 20% above 1%')
  })
  it('has one row per step, with the deciding check', () => {
    expect(md).toContain(
      '| 1 | 10% | 1 | 50 | 0.00% | 40 ms | 0.10% | 45 ms | ≤ 1.00%, p99 ≤ 500 ms | pass | 10:00:10 |'
    )
    expect(md).toContain(
      '| 2 | 50% | 2 | 260 | 19.00% | – | – | – | ≤ 1.00%, p99 ≤ 500 ms | fail | 10:00:21 |'
    )
    expect(md).toContain(
      '| 3 | 100% | 0 | – | – | – | – | – | ≤ 1.00%, p99 ≤ 500 ms | not reached | – |'
    )
  })
})
