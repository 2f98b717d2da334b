/** The job summary and the outputs of a run, as plain data and markdown. No I/O. */
import { formatWeights } from './core/color.js'
import type { CheckEntry, RolloutRecord } from './core/record.js'

export interface Outputs {
  result: string
  'stable-color': string
  'candidate-color': string
  weights: string
  'error-rate': string
  'p99-latency': string
  reason: string
}

/**
 * Outputs from the final record: the candidate's last measured error rate and p99. Values never
 * measured are empty strings, never a made-up 0.
 */
export function outputsOf(record: RolloutRecord): Outputs {
  const newestFirst = [...record.checks].reverse()
  const errorRate = newestFirst.find((c) => c.errorRate !== undefined)?.errorRate
  const p99Ms = newestFirst.find((c) => c.p99Ms !== undefined)?.p99Ms
  const promoted = record.phase === 'promoted'
  return {
    result: record.phase,
    'stable-color': promoted ? record.candidate.color : record.stable.color,
    'candidate-color': promoted ? record.stable.color : record.candidate.color,
    weights: formatWeights(record.weights),
    'error-rate': errorRate === undefined ? '' : errorRate.toFixed(6),
    'p99-latency': p99Ms === undefined ? '' : `${Math.round(p99Ms)}ms`,
    reason: record.reason ?? ''
  }
}

function pct(rate: number | undefined): string {
  return rate === undefined ? '–' : `${(rate * 100).toFixed(2)}%`
}

function msText(value: number | undefined): string {
  return value === undefined ? '–' : `${Math.round(value)} ms`
}

/** The last check of each step, which decided it. */
function decidingChecks(record: RolloutRecord): Map<number, { last: CheckEntry; count: number }> {
  const byStep = new Map<number, { last: CheckEntry; count: number }>()
  for (const c of record.checks)
    byStep.set(c.step, { last: c, count: (byStep.get(c.step)?.count ?? 0) + 1 })
  return byStep
}

/** Markdown for the job summary: the decision and its reason first, then one row per step. */
export function summaryMarkdown(
  record: RolloutRecord,
  thresholds: { maxErrorRate: number; maxP99Ms?: number }
): string {
  const title = `${record.service} (${record.namespace})`
  const head =
    record.phase === 'promoted'
      ? `## ✅ ${title}: ${record.candidate.color} promoted`
      : `## ❌ ${title}: rolled back to ${record.stable.color}`
  const lines = [
    head,
    '',
    record.reason ? `**Reason:** ${record.reason}\n` : '',
    `${record.stable.color} \`${record.stable.image ?? '?'}\` → ${record.candidate.color} \`${record.candidate.image ?? '?'}\` · final weights \`${formatWeights(record.weights)}\``,
    '',
    `| step | weight | checks | requests | error rate | p99 | stable error rate | stable p99 | threshold | verdict | time |`,
    `|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|`
  ]
  const threshold = `≤ ${pct(thresholds.maxErrorRate)}${thresholds.maxP99Ms === undefined ? '' : `, p99 ≤ ${thresholds.maxP99Ms} ms`}`
  const decided = decidingChecks(record)
  for (const [i, weight] of record.steps.entries()) {
    const d = decided.get(i)
    if (!d) {
      lines.push(
        `| ${i + 1} | ${weight}% | 0 | – | – | – | – | – | ${threshold} | not reached | – |`
      )
      continue
    }
    const c = d.last
    lines.push(
      `| ${i + 1} | ${weight}% | ${d.count} | ${c.requests === undefined ? '–' : Math.round(c.requests)} | ${pct(c.errorRate)} | ${msText(c.p99Ms)} | ${pct(c.stable?.errorRate)} | ${msText(c.stable?.p99Ms)} | ${threshold} | ${c.verdict} | ${c.at.slice(11, 19)} |`
    )
  }
  return lines.filter((l, i) => l !== '' || lines[i - 1] !== '').join('\n') + '\n'
}
