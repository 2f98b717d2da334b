import {
  chartsOf,
  decisionOf,
  evenGroups,
  niceCeiling,
  outputsOf,
  planText,
  type PlanView,
  reportJson,
  type StatusView,
  statusText,
  summaryMarkdown
} from '../../src/report.js'
import { DEFAULT_JUDGE } from '../../src/core/judge.js'
import type { DeploymentObject } from '../../src/core/workload.js'
import type { CheckEntry, RolloutConfig, RolloutRecord } from '../../src/core/record.js'
import type { MetricSpec } from '../../src/core/metrics.js'
import { rolloutConfig, rolloutRecord } from '../fixtures/record.js'

const config: RolloutConfig = rolloutConfig({
  router: {
    kind: 'istio',
    apiVersion: 'v1',
    objects: ['reviews'],
    routes: ['default'],
    destinationRule: 'reviews'
  },
  prometheusUrl: 'http://prometheus:9090',
  maxP99Ms: 500
})

const record: RolloutRecord = {
  schema: 2,
  id: 'r1',
  phase: 'rolled-back',
  service: 'reviews',
  namespace: 'demo',
  stable: { color: 'blue', image: 'example.com/reviews:1.0.0' },
  candidate: { color: 'green', image: 'example.com/reviews:2.0.0' },
  steps: [10, 50, 100],
  config,
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
      metrics: { errors: { c: [0, 50], s: [1, 450], r: 0, ok: 0.2 } },
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
      metrics: { errors: { c: [50, 250], s: [0, 250], r: 0.6, ok: 0 } },
      reasons: ['error rate 20% above 1%']
    },
    {
      at: '2026-11-25T10:00:21.000Z',
      step: 1,
      weight: 50,
      verdict: 'fail',
      requests: 260,
      errorRate: 0.19,
      metrics: { errors: { c: [49, 260], r: 1 } },
      reasons: ['error rate 19% above 1%']
    }
  ]
}

const thresholds = { maxErrorRate: 0.01, maxP99Ms: 500 }

/** A healthy run: `perStep` checks 10 s apart at each weight, all passing. */
function healthyChecks(steps: number[], perStep: number): CheckEntry[] {
  const checks: CheckEntry[] = []
  for (const [step, weight] of steps.entries())
    for (let i = 0; i < perStep; i++) {
      const n = checks.length + 1
      checks.push({
        at: new Date(Date.parse('2026-11-25T10:00:00.000Z') + n * 10_000).toISOString(),
        step,
        weight,
        verdict: 'pass',
        requests: weight * 10,
        errorRate: 0.001,
        p99Ms: 50,
        stable: { requests: (100 - weight) * 10, errorRate: 0.001, p99Ms: 48 },
        reasons: []
      })
    }
  return checks
}

interface ParsedChart {
  title: string
  x: string[]
  yMin: number
  yMax: number
  series: Array<{ kind: string; values: number[] }>
}

/** Reads the ```mermaid blocks loosely: enough to tell the chart is well formed. */
function mermaidCharts(md: string): ParsedChart[] {
  const blocks = [...md.matchAll(/```mermaid\n([\s\S]*?)\n```/g)].map((m) => m[1] ?? '')
  return blocks.map((block) => {
    const lines = block.split('\n').map((l) => l.trim())
    expect(lines[0]).toBe('xychart-beta')
    const title = /^title "([^"]*)"$/.exec(lines[1] ?? '')
    const x = /^x-axis "[^"]*" \[(.*)\]$/.exec(lines[2] ?? '')
    const y = /^y-axis "[^"]*" (\d+(?:\.\d+)?) --> (\d+(?:\.\d+)?)$/.exec(lines[3] ?? '')
    expect(title).not.toBeNull()
    expect(x).not.toBeNull()
    expect(y).not.toBeNull()
    const labels = (x?.[1] ?? '').split(', ')
    for (const l of labels) expect(l).toMatch(/^"[^"]+"$/)
    const series = lines.slice(4).map((l) => {
      const m = /^(line|bar) \[(.*)\]$/.exec(l)
      expect(m).not.toBeNull()
      const values = (m?.[2] ?? '').split(', ')
      for (const v of values) expect(v).toMatch(/^-?\d+(\.\d+)?$/)
      return { kind: m?.[1] ?? '', values: values.map(Number) }
    })
    return {
      title: title?.[1] ?? '',
      x: labels.map((l) => l.slice(1, -1)),
      yMin: Number(y?.[1]),
      yMax: Number(y?.[2]),
      series
    }
  })
}

describe('outputsOf', () => {
  it('reports the last measured values and the reason', () => {
    const { metrics, ...rest } = outputsOf(record)
    expect(rest).toEqual({
      result: 'rolled-back',
      'stable-color': 'blue',
      'candidate-color': 'green',
      weights: 'blue=100,green=0',
      'error-rate': '0.190000',
      'p99-latency': '41ms',
      reason: '2 consecutive failed checks: error rate 20% above 1%'
    })
    // Every judged metric, summed over the checks: 99 of 560 candidate requests, 1 of 700 stable.
    expect(JSON.parse(metrics)).toEqual({
      errors: {
        candidate: 99 / 560,
        stable: 1 / 700,
        counts: { bad: 99, total: 560, stableBad: 1, stableTotal: 700 },
        rollbackEvidence: 1
      }
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
      metrics: JSON.stringify({
        errors: { counts: { bad: 0, total: 0, stableBad: 0, stableTotal: 0 } }
      }),
      reason: ''
    })
  })
})

describe('summaryMarkdown', () => {
  const md = summaryMarkdown(record, thresholds)
  it('says what became of an adopted Deployment, and nothing when none was adopted', () => {
    expect(md).not.toContain('Adopted')
    const retired = summaryMarkdown(
      { ...record, adopted: { deployment: 'reviews', scaledDownAt: '2026-11-25T10:05:00.000Z' } },
      thresholds
    )
    expect(retired).toContain(
      '**Adopted:** Deployment `reviews` was copied into `reviews-blue` for this first release; now that the release has ended it is scaled to 0 (kept, not deleted'
    )
    const pending = summaryMarkdown(
      { ...record, phase: 'paused', adopted: { deployment: 'reviews' } },
      thresholds
    )
    expect(pending).toContain('it keeps its replicas until the release ends, then is scaled to 0')
  })
  it('puts the decision and its reason first', () => {
    const lines = md.split('\n')
    expect(lines[0]).toBe('## ❌ reviews (demo): rolled back to blue')
    expect(lines[2]).toBe('**Reason:** 2 consecutive failed checks: error rate 20% above 1%')
    expect(lines[4]).toBe(
      'blue `example.com/reviews:1.0.0` → green `example.com/reviews:2.0.0` · final weights `blue=100,green=0`'
    )
  })
  it('has one row per step: every metric over the step beside the stable, and how far its tests got', () => {
    expect(md).toContain(
      '| step | weight | checks | requests | errors: 5xx (≤ 1.00%) | p99 (≤ 500 ms) | verdict | time |'
    )
    expect(md).toContain(
      '| 1 | 10% | 1 | 50 | 0.00% vs 0.22% (safe 20%) | 40 ms vs 45 ms | pass | 10:00:10 |'
    )
    // 99 of 510 candidate requests over the step's two checks; the last check reached rollback.
    expect(md).toContain(
      '| 2 | 50% | 2 | 510 | 19.41% vs 0.00% (⚠ 100%) | – vs – | fail | 10:00:21 |'
    )
    expect(md).toContain('| 3 | 100% | 0 | – | – | – | not reached | – |')
    expect(md.split('\n').filter((l) => /^\| \d+ \|/.test(l))).toHaveLength(3)
  })

  it('charts the weight and the error rate against the threshold, after the table', () => {
    const charts = mermaidCharts(md)
    expect(charts).toHaveLength(2)
    const [weight, rate] = charts
    expect(weight).toEqual({
      title: 'green weight (%) at each check',
      x: ['10', '20', '21'],
      yMin: 0,
      yMax: 100,
      series: [{ kind: 'bar', values: [10, 50, 50] }]
    })
    expect(rate?.x).toEqual(['10', '20', '21'])
    expect(rate?.series).toEqual([
      { kind: 'line', values: [0, 20, 19] },
      { kind: 'line', values: [1, 1, 1] }
    ])
    expect(rate?.yMax).toBe(25)
    expect(md.indexOf('```mermaid')).toBeGreaterThan(md.indexOf('| 3 | 100% |'))
    expect(md).toContain(
      "_The moving line is green's share of 5xx responses at each check, the flat line the 1.00% threshold._"
    )
  })

  it('leaves unmeasured checks out of the error rate chart and says so', () => {
    const withGap: RolloutRecord = {
      ...record,
      checks: [
        ...record.checks.slice(0, 1),
        {
          at: '2026-11-25T10:00:15.000Z',
          step: 0,
          weight: 10,
          verdict: 'inconclusive',
          reasons: []
        },
        ...record.checks.slice(1)
      ]
    }
    const [weight, rate] = mermaidCharts(summaryMarkdown(withGap, thresholds))
    expect(weight?.x).toHaveLength(4)
    expect(rate?.x).toEqual(['10', '20', '21'])
    expect(summaryMarkdown(withGap, thresholds)).toContain(
      '1 check(s) without data are left out: no data is not a pass.'
    )
  })

  it('draws no chart before the first check', () => {
    const early: RolloutRecord = { ...record, phase: 'failed', step: -1, checks: [] }
    const text = summaryMarkdown(early, thresholds)
    expect(text).not.toContain('```mermaid')
    expect(text.split('\n')[0]).toBe('## ⚠ reviews (demo): failed')
  })

  it('says so when nothing was measured', () => {
    const blind: RolloutRecord = {
      ...record,
      checks: [
        {
          at: '2026-11-25T10:00:15.000Z',
          step: 0,
          weight: 10,
          verdict: 'inconclusive',
          reasons: []
        }
      ]
    }
    const text = summaryMarkdown(blind, thresholds)
    expect(mermaidCharts(text)).toHaveLength(1)
    expect(text).toContain('_No error rate was measured: no chart._')
  })

  it('groups a long run into at most 40 points, ending with the last check and keeping spikes', () => {
    const checks = healthyChecks([10, 25, 50, 100], 25)
    const spikeAt = 37
    checks[spikeAt] = { ...(checks[spikeAt] as CheckEntry), errorRate: 0.08 }
    const long: RolloutRecord = {
      ...record,
      phase: 'promoted',
      steps: [10, 25, 50, 100],
      step: 3,
      weights: { blue: 0, green: 100 },
      reason: undefined,
      checks
    }
    const text = summaryMarkdown(long, thresholds)
    const [weight, rate] = mermaidCharts(text)
    expect(weight?.x).toHaveLength(40)
    expect(weight?.series[0]?.values).toHaveLength(40)
    expect(weight?.x.at(-1)).toBe('16.7') // 1000 s, in minutes
    expect(weight?.series[0]?.values.at(-1)).toBe(100)
    expect(rate?.series[0]?.values).toHaveLength(40)
    expect(rate?.series[1]?.values).toHaveLength(40)
    expect(Math.max(...(rate?.series[0]?.values ?? []))).toBe(8)
    expect(text).toContain('_100 checks shown as 40 points (the last check of each group)._')
  })

  it('counts in minutes when a run is longer than a quarter of an hour', () => {
    const checks = healthyChecks([10, 100], 60)
    const [weight] = chartsOf({ ...record, checks }, thresholds, 40)
    expect(weight?.xTitle).toBe('minutes since start')
    expect(weight?.x.at(-1)).toBe('20')
  })
})

describe('the decision at the top', () => {
  const base: RolloutRecord = { ...record, reason: undefined }
  it.each<[string, RolloutRecord, string, string | undefined]>([
    [
      'promoted',
      {
        ...base,
        phase: 'promoted',
        step: 2,
        weights: { blue: 0, green: 100 },
        checks: healthyChecks([10, 50, 100], 2)
      },
      '## ✅ reviews (demo): green promoted',
      '**Reason:** all 3 steps passed their analysis'
    ],
    [
      'rolled back',
      { ...base, reason: 'candidate not ready after 5m' },
      '## ❌ reviews (demo): rolled back to blue',
      '**Reason:** candidate not ready after 5m'
    ],
    [
      'paused at the recorded weight',
      { ...base, phase: 'paused', weights: { blue: 75, green: 25 } },
      '## ⏸ reviews (demo): paused at 25%',
      '**Reason:** paused at 25% after its analysis passed; run the action with `command: promote` to continue or `command: rollback` to go back'
    ],
    [
      'paused, weight from the weights',
      { ...base, phase: 'paused', weights: { blue: 50, green: 50 } },
      '## ⏸ reviews (demo): paused at 50%',
      '**Reason:** paused at 50% after its analysis passed; run the action with `command: promote` to continue or `command: rollback` to go back'
    ],
    [
      'failed',
      { ...base, phase: 'failed', reason: 'could not restore blue: set weights by hand' },
      '## ⚠ reviews (demo): failed',
      '**Reason:** could not restore blue: set weights by hand'
    ],
    [
      'instant rollback after promotion',
      {
        ...base,
        instant: true,
        stable: { color: 'green', image: 'example.com/reviews:2.0.0' },
        candidate: { color: 'blue', image: 'example.com/reviews:1.0.0' },
        weights: { blue: 100, green: 0 },
        reason: 'rolled back by hand'
      },
      '## ❌ reviews (demo): rolled back to blue (instant switch back after promotion)',
      '**Reason:** rolled back by hand'
    ],
    [
      'aborted by a person, no reason recorded',
      { ...base, stoppedBy: { actor: 'bob', at: '2026-11-25T10:04:09.000Z', command: 'abort' } },
      '## ❌ reviews (demo): rolled back to blue',
      '**Reason:** aborted by @bob'
    ],
    [
      'in progress',
      { ...base, phase: 'shifting', weights: { blue: 50, green: 50 } },
      '## 🔄 reviews (demo): shifting: green at 50%',
      undefined
    ]
  ])('%s', (_name, r, header, reason) => {
    const lines = summaryMarkdown(r, thresholds).split('\n')
    expect(lines[0]).toBe(header)
    if (reason === undefined) expect(lines[2]).not.toMatch(/^\*\*Reason/)
    else expect(lines[2]).toBe(reason)
  })

  it('names who started the run, links it, and says who stopped it', () => {
    const stopped: RolloutRecord = {
      ...record,
      owner: { actor: 'alice', runUrl: 'https://github.com/acme/shop/actions/runs/42' },
      finishedAt: '2026-11-25T10:04:10.000Z',
      stoppedBy: { actor: 'bob', at: '2026-11-25T10:04:09.000Z', command: 'abort' }
    }
    const lines = summaryMarkdown(stopped, thresholds).split('\n')
    expect(lines[6]).toBe(
      'Started by @alice · [workflow run](https://github.com/acme/shop/actions/runs/42) · took 4m 10s · stopped by @bob with `abort` at 10:04:09 UTC'
    )
    expect(decisionOf(stopped).stoppedBy).toEqual(stopped.stoppedBy)
  })
})

describe('chart helpers', () => {
  it.each([
    [10, 40, 10],
    [100, 40, 40],
    [41, 40, 40],
    [3, 0, 1]
  ])(
    'evenGroups of %i items into at most %i groups makes %i, in order, ending with the last',
    (n, max, groups) => {
      const items = Array.from({ length: n }, (_, i) => i)
      const result = evenGroups(items, max)
      expect(result).toHaveLength(groups)
      expect(result.flat()).toEqual(items)
      expect(result.every((g) => g.length > 0)).toBe(true)
      expect(result.at(-1)?.at(-1)).toBe(n - 1)
    }
  )

  it.each([
    [0.1, 0.1],
    [0.13, 0.2],
    [2, 2],
    [2.2, 2.5],
    [22, 25],
    [26, 50],
    [51, 100],
    [0, 1]
  ])('niceCeiling(%d) is %d', (value, expected) => {
    expect(niceCeiling(value)).toBe(expected)
  })
})

describe('reportJson', () => {
  it('carries the record, thresholds, decision and outputs, and survives JSON', () => {
    const report = reportJson(record, { thresholds, command: 'deploy' })
    expect(JSON.parse(JSON.stringify(report))).toEqual(report)
    expect(report).toMatchObject({
      schema: 'istio-bluegreen/report@1',
      command: 'deploy',
      thresholds,
      decision: {
        outcome: 'rolled-back',
        headline: 'rolled back to blue',
        reason: '2 consecutive failed checks: error rate 20% above 1%'
      },
      outputs: outputsOf(record)
    })
    expect(report.record).toEqual(record)
    expect(report.record).not.toBe(record)
  })

  it('keeps only the threshold numbers of a settings object passed as thresholds', () => {
    const settings = {
      ...thresholds,
      kubeconfig: 'apiVersion: v1\nusers: [{user: {token: s3cret}}]'
    }
    const report = reportJson(record, { thresholds: settings })
    expect(report.thresholds).toEqual({ maxErrorRate: 0.01, maxP99Ms: 500 })
    expect(JSON.stringify(report)).not.toContain('s3cret')
  })

  it('takes the outputs the caller computed', () => {
    const report = reportJson(record, {
      thresholds,
      outputs: { result: 'rolled-back', phase: 'rolled-back' }
    })
    expect(report.outputs).toEqual({ result: 'rolled-back', phase: 'rolled-back' })
  })
})

describe('custom metrics in the summary', () => {
  const specs: MetricSpec[] = [
    { kind: 'gauge', name: 'queue-lag', query: 'lag{workload="{{ workload }}"}', max: 5 },
    {
      kind: 'ratio',
      name: 'checkout-failures',
      what: 'bad',
      relative: true,
      maxRate: 0.005,
      total: 't{workload="{{ workload }}"}',
      badQuery: 'b{workload="{{ workload }}"}'
    }
  ]
  const at = (s: number): string =>
    new Date(Date.parse('2026-11-25T10:00:00Z') + s * 1000).toISOString()
  const stopped = rolloutRecord({
    phase: 'rolled-back',
    config: rolloutConfig({ metrics: specs }),
    stoppedBy: {
      command: 'abort',
      actor: 'octocat',
      runUrl: 'https://github.com/acme/shop/actions/runs/7',
      at: at(30)
    },
    checks: [10, 20, 30].map((s, i) => ({
      at: at(s),
      step: 0,
      weight: 10,
      verdict: 'pass' as const,
      reasons: [],
      metrics: {
        'queue-lag': { v: [1, 4, 12][i] as number },
        'checkout-failures': {
          c: [
            [0, 100],
            [1, 100],
            [3, 100]
          ][i] as [number, number]
        }
      }
    }))
  })
  const md = summaryMarkdown(stopped, { maxErrorRate: 0.01 })

  it('charts each custom metric with its limit, after the built-in charts', () => {
    const charts = mermaidCharts(md)
    const lag = charts.find((c) => c.title === 'green queue-lag')
    expect(lag?.x).toEqual(['10', '20', '30'])
    expect(lag?.series).toEqual([
      { kind: 'line', values: [1, 4, 12] },
      { kind: 'line', values: [5, 5, 5] }
    ])
    const failures = charts.find((c) => c.title === 'green checkout-failures bad share (%)')
    expect(failures?.series).toEqual([
      { kind: 'line', values: [0, 1, 3] },
      { kind: 'line', values: [0.5, 0.5, 0.5] }
    ])
    expect(md).toContain(
      "_The moving line is green's value at each check, the flat line its limit (max 5)._"
    )
    expect(md.indexOf('### queue-lag')).toBeGreaterThan(md.indexOf('### Candidate error rate'))
  })

  it('links the run of whoever stopped the rollout', () => {
    expect(md).toContain(
      'Stopped by @octocat with `abort` ([run](https://github.com/acme/shop/actions/runs/7)) at 10:00:30 UTC'
    )
  })
})

describe('statusText: what status prints', () => {
  const blue: DeploymentObject = {
    metadata: { name: 'reviews-blue', generation: 2 },
    spec: {
      replicas: 2,
      template: { spec: { containers: [{ name: 'app', image: 'example.com/reviews:1.0.0' }] } }
    },
    status: { observedGeneration: 2, updatedReplicas: 2, availableReplicas: 1, replicas: 2 }
  }
  const green: DeploymentObject = {
    metadata: { name: 'reviews-green', generation: 3 },
    spec: { replicas: 1, template: { spec: { containers: [{ name: 'app' }] } } },
    status: { observedGeneration: 2 }
  }
  const idle: StatusView = {
    service: 'reviews',
    namespace: 'demo',
    weights: 'blue=100,green=0',
    deployments: { blue },
    lock: { expired: false }
  }
  const paused = rolloutRecord({
    id: '77-1',
    phase: 'paused',
    steps: [10, 50, 100],
    step: 1,
    weights: { blue: 50, green: 50 },
    stable: { color: 'blue', image: 'example.com/reviews:1.0.0' },
    candidate: { color: 'green' },
    owner: { actor: 'octocat', runUrl: 'https://github.com/acme/shop/actions/runs/77' },
    reason: 'pause-at: 50',
    checks: Array.from({ length: 7 }, (_, i) => ({
      at: `2026-11-25T10:00:${String(10 + i).padStart(2, '0')}.000Z`,
      step: 1,
      weight: 50,
      verdict: i === 6 ? ('inconclusive' as const) : ('pass' as const),
      requests: 100,
      ...(i === 6 ? {} : { errorRate: 0.00125, p99Ms: 41.6 }),
      reasons: []
    }))
  })

  it.each<[string, StatusView, string[]]>([
    [
      'no record: the colors, then that nothing is recorded',
      idle,
      [
        'service reviews in demo: weights blue=100,green=0',
        '  reviews-blue: example.com/reviews:1.0.0 · 2 replicas · 1/2 available, 2/2 updated',
        '  reviews-green: none',
        'no rollout recorded'
      ]
    ],
    [
      'weights that could not be read say why',
      { ...idle, weights: 'VirtualService not found', deployments: {} },
      [
        'service reviews in demo: weights VirtualService not found',
        '  reviews-blue: none',
        '  reviews-green: none',
        'no rollout recorded'
      ]
    ],
    [
      'paused, lock held by its run: the step it is paused at, who started it, the last five checks',
      {
        ...idle,
        weights: 'blue=50,green=50',
        deployments: { blue, green },
        record: paused,
        lock: { holder: '77-1', expired: false }
      },
      [
        'service reviews in demo: weights blue=50,green=50',
        '  reviews-blue: example.com/reviews:1.0.0 · 2 replicas · 1/2 available, 2/2 updated',
        '  reviews-green: ? · 1 replicas · the controller has not seen the new spec yet',
        'rollout 77-1: paused at 50% · blue example.com/reviews:1.0.0 → green ?',
        '  steps 10, 50, 100 · reached 2/3 · recorded weights blue=50,green=50',
        '  started 2026-11-25T10:00:00.000Z by octocat (https://github.com/acme/shop/actions/runs/77) · last heartbeat 2026-11-25T10:03:00.000Z',
        '  lock held by 77-1',
        '  reason: pause-at: 50',
        '  check 2026-11-25T10:00:12.000Z: 50% · pass · error rate 0.13% · p99 42ms',
        '  check 2026-11-25T10:00:13.000Z: 50% · pass · error rate 0.13% · p99 42ms',
        '  check 2026-11-25T10:00:14.000Z: 50% · pass · error rate 0.13% · p99 42ms',
        '  check 2026-11-25T10:00:15.000Z: 50% · pass · error rate 0.13% · p99 42ms',
        '  check 2026-11-25T10:00:16.000Z: 50% · inconclusive'
      ]
    ],
    [
      'shifting, its run gone: no "at", an unknown actor, an expired lock, no reason, no checks',
      {
        ...idle,
        record: rolloutRecord(),
        lock: { holder: '1', expired: true }
      },
      [
        'service reviews in demo: weights blue=100,green=0',
        '  reviews-blue: example.com/reviews:1.0.0 · 2 replicas · 1/2 available, 2/2 updated',
        '  reviews-green: none',
        'rollout 1: shifting · blue ? → green ?',
        '  steps 10, 100 · reached 1/2 · recorded weights blue=90,green=10',
        '  started 2026-11-25T10:00:00.000Z by ? · last heartbeat 2026-11-25T10:03:00.000Z',
        '  lock held by 1 (expired: its run stopped renewing it)'
      ]
    ],
    [
      'ended, lock free',
      { ...idle, record: rolloutRecord({ phase: 'promoted', step: 1 }) },
      [
        'service reviews in demo: weights blue=100,green=0',
        '  reviews-blue: example.com/reviews:1.0.0 · 2 replicas · 1/2 available, 2/2 updated',
        '  reviews-green: none',
        'rollout 1: promoted · blue ? → green ?',
        '  steps 10, 100 · reached 2/2 · recorded weights blue=90,green=10',
        '  started 2026-11-25T10:00:00.000Z by ? · last heartbeat 2026-11-25T10:03:00.000Z',
        '  lock free'
      ]
    ],
    [
      'paused at 0 with the test route: before the first step, and where requests with the header go',
      {
        ...idle,
        deployments: { blue, green },
        testRoutes: ['VirtualService reviews', 'VirtualService reviews-edge'],
        record: rolloutRecord({
          phase: 'paused',
          step: -1,
          weights: { blue: 100, green: 0 },
          config: rolloutConfig({ pauseAt: 0, testHeader: { name: 'x-canary', value: 'true' } })
        })
      },
      [
        'service reviews in demo: weights blue=100,green=0',
        '  test route: requests with header "x-canary: true" go to green (VirtualService reviews, VirtualService reviews-edge)',
        '  reviews-blue: example.com/reviews:1.0.0 · 2 replicas · 1/2 available, 2/2 updated',
        '  reviews-green: ? · 1 replicas · the controller has not seen the new spec yet',
        'rollout 1: paused before the first step (0%) · blue ? → green ?',
        '  steps 10, 100 · reached 0/2 · recorded weights blue=100,green=0',
        '  started 2026-11-25T10:00:00.000Z by ? · last heartbeat 2026-11-25T10:03:00.000Z',
        '  lock free'
      ]
    ],
    [
      'a test route no running rollout needs is named, with what to do',
      {
        ...idle,
        testRoutes: ['VirtualService reviews'],
        record: rolloutRecord({ phase: 'promoted', step: 1, weights: { blue: 0, green: 100 } })
      },
      [
        'service reviews in demo: weights blue=100,green=0',
        '  test route left in VirtualService reviews with no rollout running: remove its routes named istio-bluegreen-test… by hand, or release with test-header, which replaces it',
        '  reviews-blue: example.com/reviews:1.0.0 · 2 replicas · 1/2 available, 2/2 updated',
        '  reviews-green: none',
        'rollout 1: promoted · blue ? → green ?',
        '  steps 10, 100 · reached 2/2 · recorded weights blue=0,green=100',
        '  started 2026-11-25T10:00:00.000Z by ? · last heartbeat 2026-11-25T10:03:00.000Z',
        '  lock free'
      ]
    ]
  ])('%s', (_name, view, lines) => {
    expect(statusText(view)).toBe(lines.join('\n'))
  })
})

describe('the test route in the summary', () => {
  const testHeader = { name: 'x-canary', value: 'true' }
  const at0 = rolloutRecord({
    phase: 'paused',
    step: -1,
    weights: { blue: 100, green: 0 },
    config: rolloutConfig({ pauseAt: 0, testHeader })
  })
  const line =
    '**Test route:** requests with header `x-canary: true` go to green whatever the weights, until the rollout is promoted, rolled back or aborted.'

  it('paused at 0: the headline, a reason that says what to do, and where the header goes', () => {
    expect(decisionOf(at0)).toMatchObject({
      outcome: 'paused',
      headline: 'paused at 0%',
      reason:
        'paused before the first step (pause-at: 0): the candidate is ready and only the test route reaches it; run the action with `command: promote` to start the steps or `command: rollback` to go back'
    })
    expect(summaryMarkdown(at0, { maxErrorRate: 0.01 }).split('\n')).toContain(line)
  })

  it.each([
    ['shifting', { phase: 'shifting' as const, step: 0 }, true],
    ['promoted', { phase: 'promoted' as const, step: 1 }, false],
    ['rolled back', { phase: 'rolled-back' as const, step: 0 }, false],
    ['without test-header', { config: rolloutConfig() }, false]
  ])('%s: the line is there only while the route is', (_, patch, shown) => {
    const md = summaryMarkdown({ ...at0, ...patch }, { maxErrorRate: 0.01 })
    expect(md.split('\n').includes(line)).toBe(shown)
  })
})

describe('planText: what plan prints', () => {
  const view: PlanView = {
    service: 'reviews',
    stable: 'blue',
    candidate: 'green',
    stableImage: 'example.com/reviews:1.0.0',
    candidateImage: 'example.com/reviews:2.0.0',
    steps: [10, 50, 100],
    stepDurationMs: 90_000,
    estimate: {
      metrics: [{ metric: 'errors', relative: true, safeByMs: 174_000, regressionByMs: 78_000 }],
      maxMs: 360_000,
      gateMs: 180_000,
      compared: true
    },
    perStep: [{ weight: 10, safeMs: undefined, regressionMs: 600_000 }],
    judge: DEFAULT_JUDGE,
    traffic: { rps: 50, badShare: { errors: 0.02 } }
  }
  const estimates = [
    '',
    "Expected decisions at the stable's current traffic (50 rps; bad shares: errors 2.00%), for 99% of runs:",
    '- errors: a healthy release is shown safe for 100% after about 3m; a 3× regression is rolled back after about 78s',
    '(the steps bake 3m before the step to 100%, with every extension)',
    '',
    '| step | healthy shown safe at this weight alone | 3× regression rolled back at this weight alone |',
    '|---:|---|---|',
    '| 10% | over 1h | 10m |'
  ]
  const table = ['', '| step | candidate | stable | bake | done after |', '|---:|---|---|---|---|']

  it.each<[string, Partial<PlanView>, string[]]>([
    [
      'one row per step, each done after the bake times so far',
      {},
      [
        'stable blue (example.com/reviews:1.0.0) → candidate green (example.com/reviews:2.0.0)',
        ...table,
        '| 1 | green 10% | blue 90% | 1m30s | 1m30s |',
        '| 2 | green 50% | blue 50% | 1m30s | 3m |',
        '| 3 | green 100% | blue 0% | 1m30s | 4m30s |',
        ...estimates
      ]
    ],
    [
      'pause-at marks its step; an adopted Deployment and unknown images are named',
      {
        pauseAt: 50,
        adoptFrom: 'reviews-v1',
        stableImage: undefined,
        candidateImage: undefined,
        steps: [50, 100]
      },
      [
        'stable blue (?) → candidate green (?), adopting reviews-v1 as reviews-blue',
        ...table,
        '| 1 | green 50% | blue 50% | 1m30s | 1m30s (pause) |',
        '| 2 | green 100% | blue 0% | 1m30s | 3m |',
        ...estimates
      ]
    ],
    [
      'a test header with pause-at 0: where the header goes, and the pause before step 1',
      { pauseAt: 0, testHeader: { name: 'x-canary', value: 'true' }, steps: [50, 100] },
      [
        'stable blue (example.com/reviews:1.0.0) → candidate green (example.com/reviews:2.0.0)',
        ...table,
        '| 1 | green 50% | blue 50% | 1m30s | 1m30s |',
        '| 2 | green 100% | blue 0% | 1m30s | 3m |',
        '',
        'test route: requests with header "x-canary: true" go to green from before step 1 until the rollout ends; pause-at 0: the run pauses there, at 0%, for promote to start the steps',
        ...estimates
      ]
    ]
  ])('%s', (_name, change, lines) => {
    expect(planText({ ...view, ...change })).toBe(lines.join('\n'))
  })
})
