/**
 * `npm run bench:judgement`: how the judge decides on noisy traffic, beside the rule it replaced,
 * Flagger's and Argo Rollouts', on the same seeded draws. Pure: no sandbox, no Prometheus.
 *
 * Defaults of the action (steps 10,25,50,100; step-duration 1m; check-interval 10s;
 * max-inconclusive 2; max-error-rate 1%; confidence 99%; max-regression 3×). Latency is healthy
 * in every cell (0.5% of both colors above the stable's p99 bucket), so its test only adds its
 * share of false rollbacks. Prints markdown (for the README); RUNS and SEED can be set.
 */
import { estimateDecisions } from '../src/core/estimate.js'
import { DEFAULT_JUDGE } from '../src/core/judge.js'
import {
  argoRule,
  DEFAULT_ROLLOUT,
  defaultMetrics,
  type CellResult,
  flaggerRule,
  judgeRule,
  legacyRule,
  quantile,
  type Rule,
  simulateCell,
  type Traffic
} from './judgement/simulate.js'

const RUNS = Number(process.env.RUNS ?? 1000)
const SEED = Number(process.env.SEED ?? 7)

const RPS = [1, 2, 10, 50, 200]
const STABLE = [0.001, 0.01]
const CANDIDATES: Array<{ name: string; rate: (stable: number) => number }> = [
  { name: 'same', rate: (s) => s },
  { name: '1.5×', rate: (s) => 1.5 * s },
  { name: '3×', rate: (s) => 3 * s },
  { name: '20%', rate: () => 0.2 }
]

function pct(n: number, of: number): string {
  const v = (100 * n) / of
  return v === 0
    ? '0'
    : v < 0.1
      ? '<0.1'
      : v >= 99.95 && n < of
        ? '>99.9'
        : v.toFixed(1).replace(/\.0$/, '')
}

function time(ms: number): string {
  if (!Number.isFinite(ms)) return '–'
  const s = Math.round(ms / 1000)
  return s < 60
    ? `${s}s`
    : `${Math.floor(s / 60)}m${s % 60 ? `${String(s % 60).padStart(2, '0')}s` : ''}`
}

function ours(r: CellResult, runs: number): string[] {
  return [
    pct(r.promoted, runs),
    pct(r.rolledBack, runs),
    pct(r.inconclusive, runs),
    time(quantile(r.times, 0.5)),
    time(quantile(r.times, 0.99))
  ]
}

function peer(r: CellResult, runs: number): string {
  return `${pct(r.rolledBack, runs)} / ${pct(r.promoted, runs)}`
}

const rules: Rule[] = [judgeRule(), legacyRule(), flaggerRule(), argoRule()]
const shape = {
  steps: DEFAULT_ROLLOUT.steps,
  stepDurationMs: DEFAULT_ROLLOUT.stepDurationMs,
  maxExtensions: DEFAULT_ROLLOUT.maxExtensions,
  checkIntervalMs: 10_000
}
const started = performance.now()
const header = [
  'rps',
  'stable 5xx',
  'candidate',
  'promoted %',
  'rolled back %',
  'inconclusive %',
  'median time',
  'p99 time',
  'candidate requests at rollback (median)',
  'decidable',
  'previous rule: rolled back / promoted %',
  'Flagger',
  'Argo Rollouts'
]
const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---:').join('|')}|`]
const failures: string[] = []
let cell = 0
for (const stable of STABLE) {
  for (const rps of RPS) {
    for (const c of CANDIDATES) {
      const t: Traffic = {
        rps,
        stableErrorRate: stable,
        candidateErrorRate: c.rate(stable),
        slowRate: 0.005
      }
      const [j, legacy, flagger, argo] = simulateCell(rules, t, RUNS, SEED + cell++) as [
        CellResult,
        CellResult,
        CellResult,
        CellResult
      ]
      const atRollback = quantile(j.requestsAtRollback, 0.5)
      // What `plan` would tell the user: can the steps decide a 3× regression at this traffic?
      const estimate = estimateDecisions(
        defaultMetrics(DEFAULT_ROLLOUT.maxErrorRate),
        DEFAULT_JUDGE,
        shape,
        { rps, badShare: { errors: stable, latency: t.slowRate } }
      )
      const decidable =
        estimate.metrics.find((m) => m.metric === 'errors')?.regressionByMs !== undefined
      lines.push(
        `| ${rps} | ${(stable * 100).toFixed(1)}% | ${c.name} | ${ours(j, RUNS).join(' | ')} | ${Number.isFinite(atRollback) ? atRollback : '–'} | ${c.name === '3×' ? (decidable ? 'yes' : 'no') : ''} | ${peer(legacy, RUNS)} | ${peer(flagger, RUNS)} | ${peer(argo, RUNS)} |`
      )
      const where = `${rps} rps, stable ${stable * 100}%`
      if (c.name === 'same' && j.rolledBack / RUNS > 0.01)
        failures.push(`healthy rolled back in ${pct(j.rolledBack, RUNS)}% at ${where}`)
      if (c.name === '3×' && j.promoted / RUNS > 0.01)
        failures.push(`3× promoted in ${pct(j.promoted, RUNS)}% at ${where}`)
      if (c.name === '3×' && decidable && j.rolledBack / RUNS < 0.99)
        failures.push(
          `3× rolled back in only ${pct(j.rolledBack, RUNS)}% at ${where}, which plan says can decide`
        )
      if (c.name === '20%' && j.rolledBack !== RUNS)
        failures.push(`20% not always rolled back at ${where}`)
    }
  }
}
console.log(lines.join('\n'))

// One request per second reaching the candidate, stable 1%, a 3× regression: the weight held
// where the candidate gets 1 rps (10% of 10 rps, or 50% of 2 rps) for up to 30 minutes.
const held = [
  { rps: 10, weight: 10 },
  { rps: 2, weight: 50 }
].map(({ rps, weight }) => {
  const rule = judgeRule({
    steps: [weight, 100],
    stepDurationMs: 30 * 60_000,
    maxExtensions: 0,
    maxErrorRate: 0.01
  })
  const [r] = simulateCell(
    [rule],
    { rps, stableErrorRate: 0.01, candidateErrorRate: 0.03, slowRate: 0.005 },
    RUNS,
    SEED + 1000 + rps
  ) as [CellResult]
  const median = quantile(r.times, 0.5)
  if (median > 8 * 60_000)
    failures.push(
      `3× at 1 rps to the candidate decided in a median of ${time(median)} (${rps} rps at ${weight}%)`
    )
  return `| ${rps} rps at ${weight}% | ${pct(r.rolledBack, RUNS)} | ${pct(r.promoted, RUNS)} | ${time(median)} | ${time(quantile(r.times, 0.9))} |`
})
console.log(
  [
    '',
    '1 request/s reaching the candidate, stable 1% 5xx, candidate 3% (3×), weight held for up to 30 min:',
    '',
    '| traffic | rolled back % | promoted % | median time | p90 time |',
    '|---|---:|---:|---:|---:|',
    ...held
  ].join('\n')
)
console.log(
  `\n${RUNS} seeded runs per cell (seed ${SEED}); times from the first weight to the decision; peers: rolled back / promoted %. ${((performance.now() - started) / 1000).toFixed(1)} s.`
)
if (failures.length > 0) {
  console.log(`\nGoals missed:\n- ${failures.join('\n- ')}`)
  process.exitCode = 1
}
