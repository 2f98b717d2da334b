/**
 * The record's config, read back: a record of the previous release's format (before the judge)
 * is judged on 5xx alone with the default judge; a new one with what it recorded.
 */
import { DEFAULT_JUDGE, type JudgeSettings } from '../../src/core/judge.js'
import { builtinMetrics, type MetricSpec } from '../../src/core/metrics.js'
import {
  type CheckEntry,
  judgeSettingsOf,
  MAX_RECORDED_CHECKS,
  metricSpecsOf,
  type RolloutConfig,
  type RolloutRecord,
  withCheck
} from '../../src/core/record.js'

/**
 * A record as the last release wrote it into the Lease annotation: its config has minRequests
 * and failureLimit, and none of confidence, tolerance, maxRegression, metrics or buckets; its
 * checks carry no metric entries.
 */
const previousFormat = JSON.stringify({
  id: '4242-1',
  phase: 'shifting',
  service: 'reviews',
  namespace: 'demo',
  stable: { color: 'blue', image: 'ghcr.io/acme/reviews:1.4.0' },
  candidate: { color: 'green', image: 'ghcr.io/acme/reviews:1.5.0' },
  steps: [10, 25, 50, 100],
  config: {
    virtualService: 'reviews',
    destinationRule: 'reviews',
    routes: [],
    colorLabel: 'version',
    istioVersion: 'v1',
    stepDurationMs: 60_000,
    checkIntervalMs: 10_000,
    readyTimeoutMs: 300_000,
    prometheusUrl: 'http://prometheus.istio-system:9090',
    maxErrorRate: 0.02,
    maxP99Ms: 500,
    analysisWindowMs: 60_000,
    minRequests: 20,
    failureLimit: 2,
    maxInconclusive: 2,
    reporter: 'source',
    previousColor: 'keep',
    onDrift: 'pause'
  },
  step: 1,
  weights: { blue: 75, green: 25 },
  virtualServiceVersion: '18211',
  startedAt: '2026-11-25T10:00:00.000Z',
  heartbeatAt: '2026-11-25T10:01:40.000Z',
  owner: {
    repository: 'acme/shop',
    runId: '4242',
    runUrl: 'https://github.com/acme/shop/actions/runs/4242',
    actor: 'octocat',
    sha: '0123456789abcdef0123456789abcdef01234567'
  },
  heldBy: { id: 'run-4242-1', runUrl: 'https://github.com/acme/shop/actions/runs/4242' },
  github: { deploymentId: 77 },
  checks: [
    {
      at: '2026-11-25T10:00:10.000Z',
      step: 0,
      weight: 10,
      verdict: 'pass',
      requests: 120,
      errorRate: 0,
      p99Ms: 80,
      stable: { requests: 1100, errorRate: 0.001, p99Ms: 75 },
      reasons: []
    },
    {
      at: '2026-11-25T10:01:10.000Z',
      step: 1,
      weight: 25,
      verdict: 'inconclusive',
      reasons: ['only 12 requests, fewer than min-requests 20']
    }
  ]
})

/** As the lease adapter reads it: JSON.parse of the annotation. */
const previous = JSON.parse(previousFormat) as RolloutRecord

/** A record's config as this release writes it. */
const customSpecs: MetricSpec[] = [
  ...builtinMetrics({
    reporter: 'destination',
    maxErrorRate: 0.01,
    buckets: { relative: { le: '250', ms: 250 }, limit: { le: '500', ms: 500 } }
  }),
  { kind: 'gauge', name: 'cpu', query: 'cpu{workload="{{ workload }}"}', max: 0.8 }
]
const current: RolloutConfig = {
  ...previous.config,
  maxErrorRate: 0.01,
  reporter: 'destination',
  confidence: 0.999,
  tolerance: 1.2,
  maxRegression: 2,
  negligibleRate: 0.0005,
  onInconclusive: 'rollback',
  metrics: customSpecs,
  buckets: { relative: { le: '250', ms: 250 }, limit: { le: '500', ms: 500 } }
}

describe('metricSpecsOf', () => {
  it('reads a record of the previous format with its old fields still in it', () => {
    expect(previous.config).toMatchObject({ minRequests: 20, failureLimit: 2 })
    expect(previous.config.metrics).toBeUndefined()
    expect(previous.config.buckets).toBeUndefined()
  })

  it.each<[string, RolloutConfig, MetricSpec[]]>([
    [
      'previous format: errors alone at its recorded max-error-rate and reporter (no latency, though it had max-p99)',
      previous.config,
      [
        {
          kind: 'ratio',
          name: 'errors',
          what: '5xx',
          relative: true,
          maxRate: 0.02,
          total:
            'istio_requests_total{reporter="source",destination_workload="{{ workload }}",destination_workload_namespace="{{ namespace }}"}',
          badQuery:
            'istio_requests_total{reporter="source",destination_workload="{{ workload }}",destination_workload_namespace="{{ namespace }}",response_code=~"5.."}'
        }
      ]
    ],
    ['new format: its own specs, as recorded', current, customSpecs],
    [
      'buckets without metrics: the built-ins of those buckets',
      { ...previous.config, buckets: { relative: { le: '250', ms: 250 } } },
      builtinMetrics({
        reporter: 'source',
        maxErrorRate: 0.02,
        buckets: { relative: { le: '250', ms: 250 } }
      })
    ]
  ])('%s', (_name, config, specs) => {
    expect(metricSpecsOf(config)).toEqual(specs)
  })

  it('returns the recorded specs, not ones rebuilt from the thresholds', () => {
    // A later max-error-rate in the config must not change what the rollout judges.
    expect(metricSpecsOf({ ...current, maxErrorRate: 0.5 })).toEqual(customSpecs)
  })
})

describe('judgeSettingsOf', () => {
  it.each<[string, RolloutConfig, JudgeSettings]>([
    ['previous format: the default judge', previous.config, DEFAULT_JUDGE],
    [
      'new format: its own settings, negligibleRate included',
      current,
      { alpha: 0.001, beta: 0.001, tolerance: 1.2, maxRegression: 2, negligibleRate: 0.0005 }
    ],
    [
      'confidence alone: defaults for the rest',
      { ...previous.config, confidence: 0.95 },
      { alpha: 0.05, beta: 0.05, tolerance: 1, maxRegression: 3 }
    ]
  ])('%s', (_name, config, settings) => {
    const s = judgeSettingsOf(config)
    expect(s.alpha).toBeCloseTo(settings.alpha, 12)
    expect(s.beta).toBeCloseTo(settings.beta, 12)
    expect({ ...s, alpha: 0, beta: 0 }).toEqual({ ...settings, alpha: 0, beta: 0 })
  })

  it('gives the previous format α = β = 1%, tolerance 1, max-regression 3, no negligibleRate', () => {
    const s = judgeSettingsOf(previous.config)
    expect(s.alpha).toBeCloseTo(0.01, 12)
    expect(s.beta).toBeCloseTo(0.01, 12)
    expect(s.tolerance).toBe(1)
    expect(s.maxRegression).toBe(3)
    expect('negligibleRate' in s).toBe(false)
  })
})

describe('withCheck', () => {
  const check = (i: number): CheckEntry => ({
    at: new Date(Date.parse('2026-11-25T10:00:00Z') + i * 10_000).toISOString(),
    step: 0,
    weight: 10,
    verdict: 'pass',
    reasons: [`check ${i}`]
  })
  const withChecks = (n: number): RolloutRecord => ({
    ...previous,
    checks: Array.from({ length: n }, (_, i) => check(i))
  })

  it.each<[string, number, string, string]>([
    ['an empty record', 0, 'check 0', 'check 0'],
    ['one below the cap', MAX_RECORDED_CHECKS - 1, 'check 0', `check ${MAX_RECORDED_CHECKS - 1}`],
    [
      'at the cap: the oldest dropped',
      MAX_RECORDED_CHECKS,
      'check 1',
      `check ${MAX_RECORDED_CHECKS}`
    ],
    [
      'over the cap (an older record): trimmed to the newest',
      MAX_RECORDED_CHECKS + 5,
      'check 6',
      `check ${MAX_RECORDED_CHECKS + 5}`
    ]
  ])('%s', (_name, n, first, last) => {
    const record = withChecks(n)
    const next = withCheck(record, check(n))
    expect(next.checks).toHaveLength(Math.min(n + 1, MAX_RECORDED_CHECKS))
    expect(next.checks[0]?.reasons).toEqual([first])
    expect(next.checks.at(-1)?.reasons).toEqual([last])
    expect(record.checks).toHaveLength(n)
    expect({ ...next, checks: [] }).toEqual({ ...record, checks: [] })
  })

  it('keeps the checks of a previous-format record and appends the new one', () => {
    const next = withCheck(previous, check(9))
    expect(next.checks.map((c) => c.verdict)).toEqual(['pass', 'inconclusive', 'pass'])
  })
})
