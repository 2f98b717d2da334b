/** The job summary, the JSON report and the outputs of a run, as plain data and markdown. No I/O. */
import { COLORS, deploymentName, formatWeights, type Color } from './core/color.js'
import { formatDuration } from './core/duration.js'
import type { DecisionEstimate, StepEstimate, TrafficNow } from './core/estimate.js'
import { roughDuration, type JudgeSettings } from './core/judge.js'
import type { MetricSpec } from './core/metrics.js'
import { TEST_ROUTE_NAME } from './core/httproute.js'
import type { TestHeader } from './core/test-route.js'
import {
  type CheckEntry,
  inFlight,
  metricSpecsOf,
  type RolloutConfig,
  type RolloutRecord
} from './core/record.js'
import { type DeploymentObject, imageOf, readiness } from './core/workload.js'
import type { RouterObjectState } from './core/drift.js'

export interface Outputs {
  result: string
  'stable-color': string
  'candidate-color': string
  weights: string
  'error-rate': string
  'p99-latency': string
  /** JSON: every judged metric's candidate and stable figures over the rollout. */
  metrics: string
  reason: string
}

/**
 * The user's absolute limits (inputs max-error-rate and max-p99-latency), as the summary shows
 * them. Not the judge's `Thresholds`, which are the log-thresholds its tests decide at.
 */
export type UserLimits = Pick<RolloutConfig, 'maxErrorRate' | 'maxP99Ms'>

/** Who stopped a rollout by hand, and how. */
export type StoppedBy = NonNullable<RolloutRecord['stoppedBy']>

/** Where a rollout stands, as a person (and a commit status) sees it. */
export type Outcome = 'in-progress' | 'promoted' | 'rolled-back' | 'paused' | 'failed'

export function outcomeOf(record: RolloutRecord): Outcome {
  switch (record.phase) {
    case 'promoted':
    case 'rolled-back':
    case 'paused':
    case 'failed':
      return record.phase
    default:
      return 'in-progress'
  }
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
    metrics: JSON.stringify(metricsSummary(record)),
    reason: record.reason ?? ''
  }
}

/** One metric over the whole rollout, as the outputs and the report carry it. */
export interface MetricSummary {
  /** Candidate's bad share over every check (ratio metrics). */
  candidate?: number
  stable?: number
  /** Candidate's bad events and total, over every check. */
  counts?: { bad: number; total: number; stableBad: number; stableTotal: number }
  /** The gauge's last value. */
  value?: number
  /** The last check's share of the way to a rollback and to shown safe, 0..1. */
  rollbackEvidence?: number
  safety?: number
}

function addCounts(
  checks: readonly CheckEntry[],
  name: string
): { bad: number; total: number; stableBad: number; stableTotal: number } {
  const sum = { bad: 0, total: 0, stableBad: 0, stableTotal: 0 }
  for (const c of checks) {
    const m = c.metrics?.[name]
    if (m?.c) {
      sum.bad += m.c[0]
      sum.total += m.c[1]
    }
    if (m?.s) {
      sum.stableBad += m.s[0]
      sum.stableTotal += m.s[1]
    }
  }
  return sum
}

/** Every judged metric over the rollout: the shares its checks add up to, and its last evidence. */
export function metricsSummary(record: RolloutRecord): Record<string, MetricSummary> {
  const out: Record<string, MetricSummary> = {}
  for (const spec of metricSpecsOf(record.config)) {
    const last = record.checks.findLast((c) => c.metrics?.[spec.name] !== undefined)?.metrics?.[
      spec.name
    ]
    const m: MetricSummary = {}
    if (spec.kind === 'ratio') {
      const counts = addCounts(record.checks, spec.name)
      if (counts.total > 0) m.candidate = counts.bad / counts.total
      if (counts.stableTotal > 0) m.stable = counts.stableBad / counts.stableTotal
      m.counts = counts
    } else {
      const value = record.checks.findLast((c) => c.metrics?.[spec.name]?.v !== undefined)
        ?.metrics?.[spec.name]?.v
      if (value !== undefined) m.value = value
    }
    if (last?.r !== undefined) m.rollbackEvidence = last.r
    if (last?.ok !== undefined) m.safety = last.ok
    out[spec.name] = m
  }
  return out
}

function shareOf(bad: number, total: number): string {
  return total > 0 ? pct(bad / total) : '–'
}

/** One metric's cell in a step row: the candidate's figure in the step, beside the stable's. */
function metricCell(spec: MetricSpec, checks: readonly CheckEntry[]): string {
  if (spec.kind === 'gauge') {
    const v = checks.findLast((c) => c.metrics?.[spec.name]?.v !== undefined)?.metrics?.[spec.name]
      ?.v
    return v === undefined ? 'no data' : String(Number(v.toPrecision(4)))
  }
  const c = addCounts(checks, spec.name)
  if (c.total === 0) return checks.some((x) => x.metrics?.[spec.name]) ? 'no requests' : '–'
  const last = checks.findLast((x) => x.metrics?.[spec.name] !== undefined)?.metrics?.[spec.name]
  const evidence = [
    last?.r !== undefined && last.r > 0 ? `⚠ ${Math.round(last.r * 100)}%` : '',
    last?.ok !== undefined ? `safe ${Math.round(last.ok * 100)}%` : ''
  ]
    .filter(Boolean)
    .join(', ')
  return `${shareOf(c.bad, c.total)} vs ${shareOf(c.stableBad, c.stableTotal)}${evidence ? ` (${evidence})` : ''}`
}

/** `1.2 rps; errors 0.12%, latency 0.40% slow` */
function trafficText(traffic: TrafficNow): string {
  const shares = Object.entries(traffic.badShare).map(
    ([name, share]) =>
      `${name} ${share > 0 && share < 0.0001 ? '<0.01%' : share < 0.01 ? `${(share * 100).toFixed(3)}%` : pct(share)}`
  )
  return `${Number(traffic.rps.toPrecision(3))} rps${shares.length ? `; bad shares: ${shares.join(', ')}` : ''}`
}

function within(ms: number | undefined): string {
  return ms === undefined ? 'not within the steps' : `after about ${roughDuration(ms)}`
}

function rolledBackWithin(ms: number | undefined): string {
  return ms === undefined
    ? 'would not be rolled back within the steps (it would pause as inconclusive before 100%)'
    : `is rolled back after about ${roughDuration(ms)}`
}

/**
 * What the judge is expected to decide at the stable's current traffic, for `plan` and the log;
 * with `perStep`, how long each step would need on its own.
 */
export function estimateLines(
  estimate: DecisionEstimate,
  perStep: readonly StepEstimate[],
  judge: JudgeSettings,
  traffic: TrafficNow
): string[] {
  const lines = [
    `Expected decisions at the stable's current traffic (${trafficText(traffic)}), for 99% of runs:`
  ]
  for (const m of estimate.metrics) {
    lines.push(
      m.relative
        ? `- ${m.metric}: a healthy release is shown safe for 100% ${within(m.safeByMs)}; a ${judge.maxRegression}× regression ${rolledBackWithin(m.regressionByMs)}`
        : `- ${m.metric}: judged against its limit only${m.regressionByMs === undefined ? '' : `; a ${judge.maxRegression}× regression over it is rolled back after about ${roughDuration(m.regressionByMs)}`}`
    )
  }
  lines.push(
    `(the steps bake ${roughDuration(estimate.gateMs)} before the step to 100%, with every extension)`
  )
  if (perStep.length > 0) {
    lines.push(
      '',
      `| step | healthy shown safe at this weight alone | ${judge.maxRegression}× regression rolled back at this weight alone |`,
      '|---:|---|---|',
      ...perStep.map(
        (s) =>
          `| ${s.weight}% | ${s.safeMs === undefined ? 'over 1h' : roughDuration(s.safeMs)} | ${s.regressionMs === undefined ? 'over 1h' : roughDuration(s.regressionMs)} |`
      )
    )
  }
  return lines
}

/** A warning when a healthy release would not be shown safe within the steps, else undefined. */
export function estimateWarning(
  estimate: DecisionEstimate,
  judge: JudgeSettings,
  traffic: TrafficNow
): string | undefined {
  if (!estimate.compared) {
    return 'the steps go straight to 100%: the candidate is never compared with the stable, and only the limits (max-error-rate, max-p99-latency, max-rate) can roll it back; add a step below 100 (e.g. steps: 10,100) for the comparison'
  }
  const short = estimate.metrics.filter((m) => m.relative && m.safeByMs === undefined)
  if (short.length === 0) return undefined
  return `at the stable's current traffic (${trafficText(traffic)}), the steps (${roughDuration(estimate.gateMs)} of bake before 100%, with every extension) are not expected to gather enough evidence to show a healthy release less than ${judge.maxRegression}× worse on ${short.map((m) => m.metric).join(', ')}: it would end inconclusive. Lengthen step-duration or max-inconclusive, release at a busier time, or raise max-regression (see "plan" for how long each step needs)`
}

/** The decision of a run in words: what the summary opens with and the JSON report carries. */
export interface Decision {
  outcome: Outcome
  /** e.g. `rolled back to blue`, `paused at 25%`. */
  headline: string
  /** The recorded reason, or one inferred from the record when it has none. */
  reason?: string
  pausedAt?: number
  stoppedBy?: StoppedBy
  instant?: boolean
}

/** The color that carries the service's traffic now: after a rollback, the one rolled back to. */
function leadingColor(record: RolloutRecord): Color {
  const stable = record.stable.color
  const candidate = record.candidate.color
  return record.weights[candidate] > record.weights[stable] ? candidate : stable
}

/** The candidate weight a paused rollout stopped at: the weights it left in place. */
function pausedWeight(record: RolloutRecord): number {
  return record.weights[record.candidate.color]
}

function inferredReason(record: RolloutRecord): string | undefined {
  if (record.reason) return record.reason
  const stop = record.stoppedBy
  if (stop)
    return `${stop.command === 'abort' ? 'aborted' : 'rolled back'} by ${stop.actor ? `@${stop.actor}` : 'hand'}`
  if (record.phase === 'paused' && record.step < 0)
    return `paused before the first step (pause-at: 0): the candidate is ready and only the test route reaches it; run the action with \`command: promote\` to start the steps or \`command: rollback\` to go back`
  if (record.phase === 'paused')
    return `paused at ${pausedWeight(record)}% after its analysis passed; run the action with \`command: promote\` to continue or \`command: rollback\` to go back`
  if (record.phase === 'promoted') {
    const passed = record.steps.every((_, i) => lastCheckOfStep(record, i)?.verdict === 'pass')
    if (passed && record.steps.length > 0)
      return `all ${record.steps.length} steps passed their analysis`
  }
  return undefined
}

function lastCheckOfStep(record: RolloutRecord, step: number): CheckEntry | undefined {
  return record.checks.findLast((c) => c.step === step)
}

export function decisionOf(record: RolloutRecord): Decision {
  const outcome = outcomeOf(record)
  const candidate = record.candidate.color
  let headline: string
  switch (outcome) {
    case 'promoted':
      headline = `${candidate} promoted`
      break
    case 'rolled-back':
      headline = `rolled back to ${leadingColor(record)}${record.instant ? ' (instant switch back after promotion)' : ''}`
      break
    case 'paused':
      headline = `paused at ${pausedWeight(record)}%`
      break
    case 'failed':
      headline = 'failed'
      break
    case 'in-progress':
      headline =
        record.step < 0
          ? `${record.phase}: ${candidate} not yet receiving traffic`
          : `${record.phase}: ${candidate} at ${record.weights[candidate]}%`
  }
  const decision: Decision = { outcome, headline }
  const reason = inferredReason(record)
  if (reason !== undefined) decision.reason = reason
  if (record.phase === 'paused') decision.pausedAt = pausedWeight(record)
  if (record.stoppedBy !== undefined) decision.stoppedBy = record.stoppedBy
  if (record.instant !== undefined) decision.instant = record.instant
  return decision
}

const ICON: Record<Outcome, string> = {
  promoted: '✅',
  'rolled-back': '❌',
  paused: '⏸',
  failed: '⚠',
  'in-progress': '🔄'
}

function pct(rate: number | undefined): string {
  return rate === undefined ? '–' : `${(rate * 100).toFixed(2)}%`
}

function msText(value: number | undefined): string {
  return value === undefined ? '–' : `${Math.round(value)} ms`
}

/** `4m 10s`, `1h 2m`, `45s`. */
function durationText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  if (h > 0) return `${h}h ${m}m`
  if (m > 0) return `${m}m ${s % 60}s`
  return `${s}s`
}

/** `10:03:12 UTC` from an ISO timestamp; the date is in the run's own header. */
function clockText(iso: string): string {
  return `${iso.slice(11, 19)} UTC`
}

/** Who started the run, the run link, how long it took and who stopped it, as one line. */
function provenanceLine(record: RolloutRecord): string {
  const parts: string[] = []
  if (record.owner.actor) parts.push(`started by @${record.owner.actor}`)
  if (record.owner.runUrl) parts.push(`[workflow run](${record.owner.runUrl})`)
  if (record.finishedAt) {
    const took = Date.parse(record.finishedAt) - Date.parse(record.startedAt)
    if (Number.isFinite(took)) parts.push(`took ${durationText(took)}`)
  }
  const stop = record.stoppedBy
  if (stop)
    parts.push(
      `stopped by ${stop.actor ? `@${stop.actor}` : 'hand'} with \`${stop.command}\`${stop.runUrl ? ` ([run](${stop.runUrl}))` : ''} at ${clockText(stop.at)}`
    )
  if (parts.length === 0) return ''
  const line = parts.join(' · ')
  return line.charAt(0).toUpperCase() + line.slice(1)
}

/** What became of the Deployment a first release adopted; '' when none was. */
export function adoptionLine(record: RolloutRecord): string {
  const a = record.adopted
  if (!a) return ''
  const copy = `\`${deploymentName(record.service, 'blue')}\``
  return a.scaledDownAt !== undefined
    ? `**Adopted:** Deployment \`${a.deployment}\` was copied into ${copy} for this first release; now that the release has ended it is scaled to 0 (kept, not deleted: delete it when you no longer need it).`
    : `**Adopted:** Deployment \`${a.deployment}\` was copied into ${copy} for this first release; it keeps its replicas until the release ends, then is scaled to 0.`
}

/**
 * While the test route is in place (a rollout with test-header, shifting or paused), which
 * requests it sends where, for the summary; '' otherwise.
 */
export function testRouteLine(record: RolloutRecord): string {
  const header = record.config.testHeader
  if (!header || (record.phase !== 'shifting' && record.phase !== 'paused')) return ''
  return `**Test route:** requests with header \`${header.name}: ${header.value}\` go to ${record.candidate.color} whatever the weights, until the rollout is promoted, rolled back or aborted.`
}

/** What `status` read from the cluster and the record, to be shown as text. */
export interface StatusView {
  service: string
  namespace: string
  /** The live weights as `blue=…,green=…`, or why they could not be read. */
  weights: string
  /** Router objects after the first whose weights differ from it, as `<object>: <weights>`. */
  differing?: string[]
  /** The router objects that hold the action's test route now (`VirtualService reviews`). */
  testRoutes?: string[]
  /** Each color's Deployment; undefined where there is none. */
  deployments: Partial<Record<Color, DeploymentObject>>
  record?: RolloutRecord
  /** The lock's holder (undefined: free), and whether it stopped renewing its lease. */
  lock: { holder?: string; expired: boolean }
}

/** The text `status` prints: the live weights, each color, then the record, its lock, its last five checks. */
export function statusText(view: StatusView): string {
  const { service, record } = view
  const lines = [`service ${service} in ${view.namespace}: weights ${view.weights}`]
  for (const d of view.differing ?? []) lines.push(`  ${d}`)
  const tested = view.testRoutes ?? []
  if (tested.length > 0) {
    const header = record?.config.testHeader
    lines.push(
      header && inFlight(record.phase)
        ? `  test route: requests with header "${header.name}: ${header.value}" go to ${record.candidate.color} (${tested.join(', ')})`
        : `  test route left in ${tested.join(', ')} with no rollout running: remove its routes named ${TEST_ROUTE_NAME}… by hand, or release with test-header, which replaces it`
    )
  }
  for (const color of COLORS) {
    const name = deploymentName(service, color)
    const dep = view.deployments[color]
    lines.push(
      dep
        ? `  ${name}: ${imageOf(dep) ?? '?'} · ${dep.spec?.replicas ?? 0} replicas · ${readiness(dep).summary}`
        : `  ${name}: none`
    )
  }
  if (!record) {
    lines.push('no rollout recorded')
    return lines.join('\n')
  }
  const { holder, expired } = view.lock
  lines.push(
    `rollout ${record.id}: ${record.phase}${record.phase === 'paused' ? (record.step < 0 ? ' before the first step (0%)' : ` at ${record.steps[record.step]}%`) : ''} · ${record.stable.color} ${record.stable.image ?? '?'} → ${record.candidate.color} ${record.candidate.image ?? '?'}`,
    `  steps ${record.steps.join(', ')} · reached ${record.step + 1}/${record.steps.length} · recorded weights ${formatWeights(record.weights)}`,
    `  started ${record.startedAt} by ${record.owner.actor ?? '?'}${record.owner.runUrl ? ` (${record.owner.runUrl})` : ''} · last heartbeat ${record.heartbeatAt}`,
    holder
      ? `  lock held by ${holder}${expired ? ' (expired: its run stopped renewing it)' : ''}`
      : '  lock free'
  )
  if (record.reason) lines.push(`  reason: ${record.reason}`)
  for (const c of record.checks.slice(-5)) {
    lines.push(
      `  check ${c.at}: ${c.weight}% · ${c.verdict}${c.errorRate === undefined ? '' : ` · error rate ${(c.errorRate * 100).toFixed(2)}%`}${c.p99Ms === undefined ? '' : ` · p99 ${Math.round(c.p99Ms)}ms`}`
    )
  }
  return lines.join('\n')
}

/** What `plan` found and expects, to be shown as text. */
export interface PlanView {
  service: string
  stable: Color
  candidate: Color
  stableImage?: string
  candidateImage?: string
  /** The uncolored Deployment the release would adopt as `<service>-blue`. */
  adoptFrom?: string
  steps: readonly number[]
  stepDurationMs: number
  pauseAt?: number
  testHeader?: TestHeader
  estimate: DecisionEstimate
  perStep: readonly StepEstimate[]
  judge: JudgeSettings
  traffic: TrafficNow
}

/**
 * The weights each router object holds now, one line per object (`HTTPRoute reviews: #0
 * blue=100,green=0`), as `plan` prints them before the steps.
 */
export function routerWeightsText(objects: readonly RouterObjectState[]): string {
  return objects
    .map((o) => {
      if (!o.found) return `${o.what}: not found`
      if ('error' in o.routes) return `${o.what}: ${o.routes.error}`
      const routes = o.routes.map((r) => `${r.name} ${formatWeights(r.weights)}`).join(' · ')
      return `${o.what}: ${routes}${o.bare ? ' (not adopted yet: the first release names the colors)' : ''}`
    })
    .join('\n')
}

/** The text `plan` prints: the colors, one row per step with its bake time, then the estimates. */
export function planText(view: PlanView): string {
  const bake = formatDuration(view.stepDurationMs)
  const rows = view.steps.map((w, i) => {
    const at = formatDuration(view.stepDurationMs * (i + 1))
    return `| ${i + 1} | ${view.candidate} ${w}% | ${view.stable} ${100 - w}% | ${bake} | ${at}${view.pauseAt === w ? ' (pause)' : ''} |`
  })
  return [
    `stable ${view.stable} (${view.stableImage ?? '?'}) → candidate ${view.candidate} (${view.candidateImage ?? '?'})${view.adoptFrom ? `, adopting ${view.adoptFrom} as ${deploymentName(view.service, 'blue')}` : ''}`,
    '',
    '| step | candidate | stable | bake | done after |',
    '|---:|---|---|---|---|',
    ...rows,
    '',
    ...(view.testHeader
      ? [
          `test route: requests with header "${view.testHeader.name}: ${view.testHeader.value}" go to ${view.candidate} from before step 1 until the rollout ends${view.pauseAt === 0 ? '; pause-at 0: the run pauses there, at 0%, for promote to start the steps' : ''}`,
          ''
        ]
      : []),
    ...estimateLines(view.estimate, view.perStep, view.judge, view.traffic)
  ].join('\n')
}

/**
 * Markdown for the job summary: the decision and its reason first, then one row per step, then
 * charts of the candidate's weight and error rate over the checks.
 */
export function summaryMarkdown(
  record: RolloutRecord,
  limits: UserLimits,
  options: { maxChartPoints?: number } = {}
): string {
  const decision = decisionOf(record)
  const title = `${record.service} (${record.namespace})`
  const lines = [
    `## ${ICON[decision.outcome]} ${title}: ${decision.headline}`,
    '',
    decision.reason ? `**Reason:** ${decision.reason}\n` : '',
    `${record.stable.color} \`${record.stable.image ?? '?'}\` → ${record.candidate.color} \`${record.candidate.image ?? '?'}\` · final weights \`${formatWeights(record.weights)}\``,
    '',
    provenanceLine(record),
    '',
    adoptionLine(record),
    '',
    testRouteLine(record),
    '',
    ...stepTable(record, limits)
  ]
  lines.push('', ...chartsMarkdown(record, limits, options.maxChartPoints ?? MAX_CHART_POINTS))
  // Optional lines above are '' when absent; collapse the blank runs they leave.
  return lines.filter((l, i) => l !== '' || (i > 0 && lines[i - 1] !== '')).join('\n') + '\n'
}

/**
 * One row per step: its checks, then for every metric the candidate's figure in the step beside
 * the stable's (with how far its tests got), the p99 seen, the verdict and when it ended.
 */
function stepTable(record: RolloutRecord, limits: UserLimits): string[] {
  const specs = metricSpecsOf(record.config)
  const header = [
    'step',
    'weight',
    'checks',
    'requests',
    ...specs.map((m) =>
      m.kind === 'gauge'
        ? `${m.name} (${[m.min === undefined ? '' : `≥ ${m.min}`, m.max === undefined ? '' : `≤ ${m.max}`].filter(Boolean).join(', ')})`
        : `${m.name}: ${m.what}${m.maxRate === undefined ? '' : ` (≤ ${pct(m.maxRate)})`}`
    ),
    `p99${limits.maxP99Ms === undefined ? '' : ` (≤ ${limits.maxP99Ms} ms)`}`,
    'verdict',
    'time'
  ]
  const rows = [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < 4 ? '---:' : '---')).join('|')}|`
  ]
  for (const [i, weight] of record.steps.entries()) {
    const checks = record.checks.filter((c) => c.step === i)
    const last = checks.at(-1)
    if (!last) {
      rows.push(
        `| ${i + 1} | ${weight}% | 0 | – | ${specs.map(() => '–').join(' | ')} | – | not reached | – |`
      )
      continue
    }
    const requests = checks.reduce((sum, c) => sum + (c.requests ?? 0), 0)
    rows.push(
      `| ${i + 1} | ${weight}% | ${checks.length} | ${Math.round(requests)} | ${specs.map((m) => metricCell(m, checks)).join(' | ')} | ${msText(last.p99Ms)} vs ${msText(last.stable?.p99Ms)} | ${last.verdict} | ${last.at.slice(11, 19)} |`
    )
  }
  return rows
}

/** More points than this make the x-axis labels of a summary-width chart unreadable. */
export const MAX_CHART_POINTS = 40

/**
 * Splits items into at most `max` contiguous groups of near-equal size, in order; the last group
 * always ends with the last item, so the chart ends where the run ended.
 */
export function evenGroups<T>(items: readonly T[], max: number): T[][] {
  const k = Math.min(items.length, Math.max(1, Math.floor(max)))
  const groups: T[][] = []
  for (let g = 0; g < k; g++)
    groups.push(
      items.slice(Math.floor((g * items.length) / k), Math.floor(((g + 1) * items.length) / k))
    )
  return groups
}

/** A number as xychart-beta reads it: plain decimal, no exponent, no unit. */
function plain(value: number, decimals: number): string {
  const fixed = Number(value.toFixed(decimals))
  return Object.is(fixed, -0) ? '0' : String(fixed)
}

/** Smallest of 1, 2, 2.5, 5 × 10^k that is at least `value`: a readable top for a y-axis. */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1
  const magnitude = 10 ** Math.floor(Math.log10(value))
  for (const f of [1, 2, 2.5, 5, 10]) {
    const candidate = Number((f * magnitude).toPrecision(12))
    if (candidate >= value) return candidate
  }
  return 10 * magnitude
}

/** Characters that end or open a construct in a Mermaid xychart line; titles never need them. */
function chartText(text: string): string {
  return text.replace(/["`;#\n\r]/g, '').replace(/%%/g, '%')
}

export interface XyChart {
  title: string
  xTitle: string
  /** Category labels of the x-axis. */
  x: string[]
  yTitle: string
  yMin: number
  yMax: number
  series: Array<{ kind: 'line' | 'bar'; values: string[] }>
}

/** One fenced mermaid block. Categories are quoted: older Mermaid parsers reject bare numbers there. */
export function xychartBlock(chart: XyChart): string {
  return [
    '```mermaid',
    'xychart-beta',
    `  title "${chartText(chart.title)}"`,
    `  x-axis "${chartText(chart.xTitle)}" [${chart.x.map((l) => `"${chartText(l)}"`).join(', ')}]`,
    `  y-axis "${chartText(chart.yTitle)}" ${plain(chart.yMin, 3)} --> ${plain(chart.yMax, 3)}`,
    ...chart.series.map((s) => `  ${s.kind} [${s.values.join(', ')}]`),
    '```'
  ].join('\n')
}

/** Elapsed time of a check, in the unit the x-axis uses. */
function elapsedLabel(check: CheckEntry, startMs: number, unit: 's' | 'min'): string {
  const ms = Math.max(0, Date.parse(check.at) - startMs)
  return unit === 's' ? plain(ms / 1000, 0) : plain(ms / 60_000, 1)
}

/**
 * Weight and error rate share no scale (0–100% against fractions of 1%), so they get a chart
 * each. The weight chart has a bar per point; the error rate chart a line for the candidate and
 * a flat line for the threshold. When checks are grouped to fit, a point carries the group's
 * last weight but its worst error rate, so a short spike never disappears from the chart.
 */
export function chartsOf(record: RolloutRecord, limits: UserLimits, maxPoints: number): XyChart[] {
  if (record.checks.length === 0) return []
  const startMs = Date.parse(record.startedAt)
  const lastMs = Date.parse(record.checks.at(-1)?.at ?? record.startedAt)
  // Seconds stay readable up to a quarter of an hour; longer runs count in minutes.
  const unit = lastMs - startMs > 15 * 60_000 ? 'min' : 's'
  const xTitle = unit === 's' ? 'seconds since start' : 'minutes since start'
  const candidate = record.candidate.color

  const weightGroups = evenGroups(record.checks, maxPoints)
  const charts: XyChart[] = [
    {
      title: `${candidate} weight (%) at each check`,
      xTitle,
      x: weightGroups.map((g) => elapsedLabel(lastOf(g), startMs, unit)),
      yTitle: 'weight (%)',
      yMin: 0,
      yMax: 100,
      series: [{ kind: 'bar', values: weightGroups.map((g) => plain(lastOf(g).weight, 1)) }]
    }
  ]

  const measured = record.checks.filter((c) => c.errorRate !== undefined)
  if (measured.length > 0) {
    const rateGroups = evenGroups(measured, maxPoints)
    const worst = rateGroups.map((g) => Math.max(...g.map((c) => (c.errorRate ?? 0) * 100)))
    const thresholdPct = limits.maxErrorRate * 100
    charts.push({
      title: `${candidate} error rate vs threshold (%)`,
      xTitle,
      x: rateGroups.map((g) => elapsedLabel(lastOf(g), startMs, unit)),
      yTitle: 'error rate (%)',
      yMin: 0,
      yMax: niceCeiling(Math.max(thresholdPct * 2, ...worst.map((w) => w * 1.1), 0.1)),
      series: [
        { kind: 'line', values: worst.map((w) => plain(w, 3)) },
        { kind: 'line', values: worst.map(() => plain(thresholdPct, 3)) }
      ]
    })
  }
  return charts
}

function lastOf<T>(group: readonly T[]): T {
  const last = group.at(-1)
  if (last === undefined) throw new Error('evenGroups never returns an empty group')
  return last
}

function chartsMarkdown(record: RolloutRecord, limits: UserLimits, maxPoints: number): string[] {
  const charts = chartsOf(record, limits, maxPoints)
  if (charts.length === 0) return []
  const [weight, rate] = charts
  const out: string[] = []
  const grouped = record.checks.length > maxPoints
  if (weight) {
    out.push('### Traffic to the candidate', '', xychartBlock(weight), '')
    if (grouped)
      out.push(
        `_${record.checks.length} checks shown as ${weight.x.length} points (the last check of each group)._`,
        ''
      )
  }
  if (rate) {
    const unmeasured = record.checks.filter((c) => c.errorRate === undefined).length
    out.push('### Candidate error rate', '', xychartBlock(rate), '')
    // xychart-beta draws no legend: say in words which line is which.
    const notes = [
      `The moving line is ${record.candidate.color}'s share of 5xx responses at each check${grouped ? ' (the worst check of each group)' : ''}, the flat line the ${pct(limits.maxErrorRate)} threshold.`
    ]
    if (unmeasured > 0)
      notes.push(`${unmeasured} check(s) without data are left out: no data is not a pass.`)
    out.push(`_${notes.join(' ')}_`, '')
  } else {
    out.push('_No error rate was measured: no chart._', '')
  }
  for (const { spec, chart } of customCharts(record, maxPoints)) {
    const bound =
      spec.kind === 'gauge'
        ? [
            spec.max === undefined ? '' : `max ${spec.max}`,
            spec.min === undefined ? '' : `min ${spec.min}`
          ]
            .filter(Boolean)
            .join(', ')
        : spec.maxRate === undefined
          ? ''
          : `max-rate ${pct(spec.maxRate)}`
    out.push(`### ${spec.name}`, '', xychartBlock(chart), '')
    out.push(
      `_The moving line is ${record.candidate.color}'s ${spec.kind === 'gauge' ? 'value' : 'bad share'} at each check${grouped ? ' (the worst check of each group)' : ''}${bound ? `, the flat line its limit (${bound})` : ''}._`,
      ''
    )
  }
  return out
}

const BUILTIN_METRICS = new Set(['errors', 'latency', 'latency-limit'])

/**
 * A chart per custom metric that has data: a gauge's value, or a ratio's bad share (%) at each
 * check, with its limit as a flat line. Grouped points keep the group's worst value.
 */
export function customCharts(
  record: RolloutRecord,
  maxPoints: number
): Array<{ spec: MetricSpec; chart: XyChart }> {
  const startMs = Date.parse(record.startedAt)
  const lastMs = Date.parse(record.checks.at(-1)?.at ?? record.startedAt)
  const unit = lastMs - startMs > 15 * 60_000 ? 'min' : 's'
  const charts: Array<{ spec: MetricSpec; chart: XyChart }> = []
  for (const spec of metricSpecsOf(record.config)) {
    if (BUILTIN_METRICS.has(spec.name)) continue
    const valueOf = (c: CheckEntry): number | undefined => {
      const m = c.metrics?.[spec.name]
      if (spec.kind === 'gauge') return m?.v
      return m?.c && m.c[1] > 0 ? (m.c[0] / m.c[1]) * 100 : undefined
    }
    const measured = record.checks.filter((c) => valueOf(c) !== undefined)
    if (measured.length === 0) continue
    const groups = evenGroups(measured, maxPoints)
    // For a gauge bounded below only, the worst is the lowest; otherwise the highest.
    const low = spec.kind === 'gauge' && spec.max === undefined && spec.min !== undefined
    const worst = groups.map((g) => {
      const values = g.map((c) => valueOf(c) as number)
      return low ? Math.min(...values) : Math.max(...values)
    })
    const limit =
      spec.kind === 'gauge'
        ? (spec.max ?? spec.min)
        : spec.maxRate === undefined
          ? undefined
          : spec.maxRate * 100
    const top = niceCeiling(Math.max(...worst.map((w) => w * 1.1), (limit ?? 0) * 1.5, 0.1))
    const bottom = Math.min(0, ...worst)
    charts.push({
      spec,
      chart: {
        title: `${record.candidate.color} ${spec.name}${spec.kind === 'ratio' ? ' bad share (%)' : ''}`,
        xTitle: unit === 's' ? 'seconds since start' : 'minutes since start',
        x: groups.map((g) => elapsedLabel(lastOf(g), startMs, unit)),
        yTitle: spec.kind === 'ratio' ? 'bad share (%)' : spec.name,
        yMin: bottom,
        yMax: top,
        series: [
          { kind: 'line', values: worst.map((w) => plain(w, 3)) },
          ...(limit === undefined
            ? []
            : [{ kind: 'line' as const, values: worst.map(() => plain(limit, 3)) }])
        ]
      }
    })
  }
  return charts
}

/** The whole rollout as JSON-serialisable data, for the `report` output's file. */
export interface RolloutReport {
  /** Bumped when a field changes meaning, so consumers can tell versions apart. */
  schema: 'istio-bluegreen/report@1'
  decision: Decision
  outputs: Record<string, string>
  thresholds: UserLimits
  record: RolloutRecord
  [extra: string]: unknown
}

/**
 * The JSON report. `extra` carries the thresholds and anything else the caller wants alongside
 * (the command, say), copied as given, so never secrets; `outputs` defaults to outputsOf(record).
 */
export function reportJson(
  record: RolloutRecord,
  extra: { thresholds: UserLimits; outputs?: Record<string, string>; [key: string]: unknown }
): RolloutReport {
  const { thresholds, outputs, ...rest } = extra
  // A deep copy through JSON: what the file will hold, with no shared references to the record.
  const copy = JSON.parse(JSON.stringify(record)) as RolloutRecord
  return {
    ...rest,
    schema: 'istio-bluegreen/report@1',
    decision: decisionOf(record),
    outputs: { ...(outputs ?? outputsOf(record)) },
    // Only the two numbers: callers pass their whole settings as thresholds, and the settings
    // hold the kubeconfig, which must never reach a file an artifact step may upload.
    thresholds:
      thresholds.maxP99Ms === undefined
        ? { maxErrorRate: thresholds.maxErrorRate }
        : { maxErrorRate: thresholds.maxErrorRate, maxP99Ms: thresholds.maxP99Ms },
    record: copy
  }
}
