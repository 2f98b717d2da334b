/** The rollout record stays within its annotation budget, however many checks a rollout makes. */
import { MAX_ANNOTATIONS_BYTES, utf8Bytes } from '../../src/core/limits.js'
import {
  boundRecord,
  type CheckEntry,
  MAX_REASON_CHARS,
  MAX_RECORDED_CHECKS,
  RECORD_BUDGET_BYTES,
  recordAnnotation,
  RecordTooLargeError,
  type RolloutRecord,
  withCheck
} from '../../src/core/record.js'
import { rolloutConfig, rolloutRecord } from '../fixtures/record.js'

function record(extra: Partial<RolloutRecord> = {}): RolloutRecord {
  return rolloutRecord({
    id: 'run-1',
    stable: { color: 'blue', image: 'example.com/reviews:1' },
    candidate: { color: 'green', image: 'example.com/reviews:2' },
    steps: [10, 25, 50, 100],
    config: rolloutConfig({ prometheusUrl: 'http://prometheus:9090' }),
    step: 1,
    weights: { blue: 75, green: 25 },
    heartbeatAt: '2026-11-25T10:00:00.000Z',
    ...extra
  })
}

/** A check as heavy as they come: ten metrics with every figure, a long reason in UTF-8. */
function heavyCheck(i: number): CheckEntry {
  const metrics = Object.fromEntries(
    Array.from({ length: 10 }, (_, m) => [
      `custom-metric-number-${m}`,
      { c: [i, 123_456], s: [i * 3, 1_234_567], r: 0.123, ok: 0.456 } as const
    ])
  )
  return {
    at: new Date(Date.UTC(2026, 10, 25, 10) + i * 10_000).toISOString(),
    step: 2,
    weight: 50,
    verdict: 'pass',
    requests: 123_456,
    errorRate: 0.001234,
    p99Ms: 123.4,
    stable: { requests: 1_234_567, errorRate: 0.00101, p99Ms: 120.1 },
    metrics: metrics as CheckEntry['metrics'],
    reasons: [`latency ≥ 250ms → ${'é'.repeat(200)}`]
  }
}

const bytes = (r: RolloutRecord): number => utf8Bytes(JSON.stringify(r))

describe('boundRecord', () => {
  it('leaves a small record as it is (the same object)', () => {
    const r = record({ checks: [heavyCheck(1), heavyCheck(2)] })
    expect(boundRecord(r)).toBe(r)
  })

  it('keeps at most MAX_RECORDED_CHECKS checks, the newest', () => {
    const checks = Array.from({ length: MAX_RECORDED_CHECKS + 5 }, (_, i) => ({
      ...heavyCheck(i),
      metrics: {},
      reasons: []
    }))
    const bounded = boundRecord(record({ checks }), Infinity)
    expect(bounded.checks).toHaveLength(MAX_RECORDED_CHECKS)
    expect(bounded.checks[0]).toEqual(checks[5])
  })

  it('200 heavy checks would pass 256 KiB; bounded, the record stays within its budget', () => {
    const checks = Array.from({ length: MAX_RECORDED_CHECKS }, (_, i) => heavyCheck(i))
    const unbounded = record({ checks })
    expect(bytes(unbounded)).toBeGreaterThan(MAX_ANNOTATIONS_BYTES)
    const bounded = boundRecord(unbounded)
    expect(bytes(bounded)).toBeLessThanOrEqual(RECORD_BUDGET_BYTES)
    // Only the oldest were dropped, and no more than needed: one more would not fit.
    expect(bounded.checks.at(-1)).toEqual(checks.at(-1))
    expect(bounded.checks[0]).toEqual(checks[checks.length - bounded.checks.length])
    const oneMore = { ...bounded, checks: checks.slice(-(bounded.checks.length + 1)) }
    expect(bytes(oneMore)).toBeGreaterThan(RECORD_BUDGET_BYTES)
  })

  it.each([1000, 5000, 20_000, 50_000])('measures exactly: budget %d bytes', (budget) => {
    const checks = Array.from({ length: 60 }, (_, i) => heavyCheck(i))
    const bounded = boundRecord(record({ checks }), budget)
    expect(bytes(bounded)).toBeLessThanOrEqual(budget)
    if (bounded.checks.length < checks.length) {
      const oneMore = { ...bounded, checks: checks.slice(-(bounded.checks.length + 1)) }
      expect(bytes(oneMore)).toBeGreaterThan(budget)
    }
  })

  it('clips a long reason (a server message quoting an object)', () => {
    const bounded = boundRecord(record({ reason: 'x'.repeat(100_000) }))
    expect(bounded.reason).toHaveLength(MAX_REASON_CHARS)
    expect(bounded.reason?.endsWith('…')).toBe(true)
  })

  it('throws RecordTooLargeError when the record cannot fit even without checks', () => {
    const huge = record()
    huge.config = { ...huge.config, prometheusUrl: `http://p/${'q'.repeat(RECORD_BUDGET_BYTES)}` }
    expect(() => boundRecord(huge)).toThrow(RecordTooLargeError)
    expect(() => boundRecord(huge)).toThrow('shorten the queries in input "metrics"')
  })
})

describe('withCheck and recordAnnotation', () => {
  it('appending checks one by one never lets the record pass its budget', () => {
    let r = record()
    for (let i = 0; i < 400; i++) {
      r = withCheck(r, heavyCheck(i))
      expect(bytes(r)).toBeLessThanOrEqual(RECORD_BUDGET_BYTES)
    }
    expect(r.checks.at(-1)).toEqual(heavyCheck(399))
    expect(r.checks.length).toBeLessThan(MAX_RECORDED_CHECKS)
  })

  it('the annotation value leaves room for other annotations under 256 KiB', () => {
    const checks = Array.from({ length: 300 }, (_, i) => heavyCheck(i))
    const value = recordAnnotation(record({ checks }))
    expect(utf8Bytes(value)).toBeLessThanOrEqual(RECORD_BUDGET_BYTES)
    expect(MAX_ANNOTATIONS_BYTES - utf8Bytes(value)).toBeGreaterThanOrEqual(128 * 1024)
  })
})
