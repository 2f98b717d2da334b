/**
 * What a rollout measures, as data: the built-in Istio metrics and the user's own, each with its
 * PromQL (with placeholders for the color) and how the judge weighs it. The `MetricsSource` port
 * reads them; `sampleCounts` turns two readings of raw counters into the counts between them.
 */
import { type Color, deploymentName } from './color.js'
import { type MetricDefinition, type PlaceholderValues, renderQuery } from './custom-metrics.js'
import type { GaugeMetric, JudgedMetric, MetricSample, RatioMetric } from './judge.js'
import { promString, type Reporter, type WorkloadSelector } from './queries.js'

/** A ratio metric with the PromQL of its counters (raw series; the judge differences them). */
export interface RatioSpec extends RatioMetric {
  total: string
  badQuery: string
}

/** A gauge with its PromQL. */
export interface GaugeSpec extends GaugeMetric {
  query: string
}

export type MetricSpec = RatioSpec | GaugeSpec

/** A histogram bucket bound as Prometheus labels it (`le="250"`) and its value in ms. */
export interface Bucket {
  le: string
  ms: number
}

/** The histogram buckets the latency tests count against, chosen when the rollout starts. */
export interface LatencyBuckets {
  /** The bucket at or above the stable's p99: the relative test counts requests above it. */
  relative?: Bucket
  /** The bucket at or above max-p99-latency: the limit test counts requests above it. */
  limit?: Bucket
}

/** Matchers of the Istio series of one workload, with the workload and namespace as placeholders. */
function istioMatchers(reporter: Reporter, extra = ''): string {
  return `{reporter=${promString(reporter)},destination_workload="{{ workload }}",destination_workload_namespace="{{ namespace }}"${extra}}`
}

function slowQuery(reporter: Reporter, bucket: Bucket): string {
  const count = `istio_request_duration_milliseconds_count${istioMatchers(reporter)}`
  const under = `istio_request_duration_milliseconds_bucket${istioMatchers(reporter, `,le=${promString(bucket.le)}`)}`
  return `${count} - ignoring(le) ${under}`
}

/**
 * The candidate's and stable's p99 for the log and the summary: shown, never judged (an
 * interpolation across wide buckets, close to the maximum on a few dozen requests).
 */
export function p99Display(reporter: Reporter): GaugeSpec {
  return {
    kind: 'gauge',
    name: 'p99',
    query: `histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket${istioMatchers(reporter)}[{{ window }}])))`
  }
}

/**
 * How long ago (in seconds, at the query's time) a workload's newest request counter sample was
 * scraped: the checks read just after a scrape lands (cadence.ts). Never judged; no series (no
 * requests yet) is no value.
 */
export function scrapeAge(reporter: Reporter): GaugeSpec {
  return {
    kind: 'gauge',
    name: 'scrape-age',
    query: `time() - max(timestamp(istio_requests_total${istioMatchers(reporter)}))`
  }
}

/** The metrics every rollout judges: 5xx share, and the share of slow requests. */
export function builtinMetrics(o: {
  reporter: Reporter
  maxErrorRate: number
  buckets: LatencyBuckets
}): MetricSpec[] {
  const specs: MetricSpec[] = [
    {
      kind: 'ratio',
      name: 'errors',
      what: '5xx',
      relative: true,
      maxRate: o.maxErrorRate,
      total: `istio_requests_total${istioMatchers(o.reporter)}`,
      badQuery: `istio_requests_total${istioMatchers(o.reporter, ',response_code=~"5.."')}`
    }
  ]
  const { relative, limit } = o.buckets
  if (relative) {
    specs.push({
      kind: 'ratio',
      name: 'latency',
      what: `slower than ${relative.le}ms`,
      relative: true,
      total: `istio_request_duration_milliseconds_count${istioMatchers(o.reporter)}`,
      badQuery: slowQuery(o.reporter, relative)
    })
  }
  if (limit) {
    // p99 ≤ X is "at most 1% of requests slower than X"; counting above a bucket at or above X
    // can only undercount the slow ones, so the test never fails a candidate that meets X.
    specs.push({
      kind: 'ratio',
      name: 'latency-limit',
      what: `slower than ${limit.le}ms`,
      relative: false,
      maxRate: 0.01,
      total: `istio_request_duration_milliseconds_count${istioMatchers(o.reporter)}`,
      badQuery: slowQuery(o.reporter, limit)
    })
  }
  return specs
}

/** The user's metrics as specs: ratios are judged against stable and their max-rate. */
export function customMetrics(defs: readonly MetricDefinition[]): MetricSpec[] {
  return defs.map((d): MetricSpec => {
    if (d.kind === 'gauge') {
      return {
        kind: 'gauge',
        name: d.name,
        query: d.query,
        ...(d.min === undefined ? {} : { min: d.min }),
        ...(d.max === undefined ? {} : { max: d.max })
      }
    }
    return {
      kind: 'ratio',
      name: d.name,
      what: 'bad',
      relative: true,
      ...(d.maxRate === undefined ? {} : { maxRate: d.maxRate }),
      total: d.total,
      badQuery: d.bad
    }
  })
}

/** The judge's view of the specs (no PromQL). */
export function judged(specs: readonly MetricSpec[]): JudgedMetric[] {
  return specs.map((s): JudgedMetric => {
    if (s.kind === 'gauge') {
      return {
        kind: 'gauge',
        name: s.name,
        ...(s.min === undefined ? {} : { min: s.min }),
        ...(s.max === undefined ? {} : { max: s.max })
      }
    }
    return {
      kind: 'ratio',
      name: s.name,
      what: s.what,
      relative: s.relative,
      ...(s.maxRate === undefined ? {} : { maxRate: s.maxRate })
    }
  })
}

/** One query to run: a ratio's two counters, or a gauge's value. */
export type MetricQuery =
  | { kind: 'ratio'; name: string; total: string; bad: string }
  | { kind: 'gauge'; name: string; query: string }

/** One series of an instant vector: its labels and value. */
export interface SeriesValue {
  labels: Readonly<Record<string, string>>
  value: number
}

/** What a MetricsSource read for one metric. */
export type Reading =
  | { kind: 'counters'; total: readonly SeriesValue[]; bad: readonly SeriesValue[] }
  | { kind: 'gauge'; value: number }
  | { kind: 'none'; reason: string }

/**
 * The port every metrics provider implements: read a list of queries, all at one instant. A
 * query that fails or has no value comes back as `none` with the reason; it never throws for
 * that, so one broken metric does not hide the others.
 */
export interface MetricsSource {
  read(queries: readonly MetricQuery[], atMs: number): Promise<Record<string, Reading>>
  /** The stable workload's request rate and 5xx share over a window, for preflight's estimates. */
  traffic(selector: WorkloadSelector, windowMs: number): Promise<StableTraffic>
  /** A workload's latency histogram over a window: its bucket bounds, to choose the ones judged. */
  latency(selector: WorkloadSelector, windowMs: number): Promise<LatencyHistogram>
}

/** The stable's traffic over a window, or why it could not be read; no `rps`: no series. */
export interface StableTraffic {
  rps?: number
  errorShare?: number
  failure?: string
}

/** A workload's latency histogram over a window (the p99 only chooses a bucket, never judges). */
export interface LatencyHistogram {
  buckets: Array<{ le: string; ms: number }>
  p99Ms?: number
  failure?: string
}

/** Placeholder values for one color of a service. */
export function placeholders(
  service: string,
  namespace: string,
  color: Color,
  window: string
): PlaceholderValues {
  return { namespace, service, workload: deploymentName(service, color), color, window }
}

/** The specs' PromQL for one color. */
export function queriesFor(specs: readonly MetricSpec[], values: PlaceholderValues): MetricQuery[] {
  return specs.map((s): MetricQuery =>
    s.kind === 'gauge'
      ? { kind: 'gauge', name: s.name, query: renderQuery(s.query, values) }
      : {
          kind: 'ratio',
          name: s.name,
          total: renderQuery(s.total, values),
          bad: renderQuery(s.badQuery, values)
        }
  )
}

/** Last value of every counter series seen, by series key: kept even when a series vanishes. */
export type CounterSnapshot = Readonly<Record<string, number>>

/** A series' identity: its labels, sorted. */
export function seriesKey(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',')
}

/**
 * How much a set of counters grew since `before`. A series that went down was reset (its pod
 * restarted) and counts from zero; a series not seen before appeared since (a new pod, or the
 * first request of a code) and counts whole. `before` undefined: this is the baseline.
 */
export function counterIncrease(
  before: CounterSnapshot | undefined,
  series: readonly SeriesValue[]
): { increase: number; snapshot: CounterSnapshot } {
  const snapshot: Record<string, number> = { ...before }
  let increase = 0
  for (const s of series) {
    if (!Number.isFinite(s.value) || s.value < 0) continue
    const key = seriesKey(s.labels)
    const previous = before?.[key]
    if (before !== undefined)
      increase += previous === undefined || s.value < previous ? s.value : s.value - previous
    snapshot[key] = s.value
  }
  return { increase, snapshot }
}

/** The counter snapshots of one color, per metric and counter. */
export type ColorSnapshots = Readonly<
  Record<string, { total: CounterSnapshot; bad: CounterSnapshot }>
>

/**
 * A ratio reading's counts since `before`: total and bad events (bad never above total), or why
 * there are none. The first reading of a metric is its baseline.
 */
export function ratioSince(
  before: { total: CounterSnapshot; bad: CounterSnapshot } | undefined,
  reading: Reading | undefined
): {
  counts?: { total: number; bad: number }
  reason?: string
  snapshot?: { total: CounterSnapshot; bad: CounterSnapshot }
} {
  if (!reading) return { reason: 'not measured' }
  if (reading.kind === 'none') return { reason: reading.reason }
  if (reading.kind !== 'counters')
    return { reason: 'the query returned a single value, not counters' }
  const total = counterIncrease(before?.total, reading.total)
  const bad = counterIncrease(before?.bad, reading.bad)
  const snapshot = { total: total.snapshot, bad: bad.snapshot }
  if (!before) return { reason: 'first reading (the baseline for the next check)', snapshot }
  return {
    counts: { total: total.increase, bad: Math.min(bad.increase, total.increase) },
    snapshot
  }
}

/**
 * The judge's samples from one check's readings of both colors, and the snapshots for the next.
 * `stableServes`: false once the candidate has 100%, when there is no stable to compare with.
 */
export function sampleCounts(
  specs: readonly MetricSpec[],
  before: { candidate: ColorSnapshots; stable: ColorSnapshots },
  readings: { candidate: Record<string, Reading>; stable: Record<string, Reading> },
  stableServes: boolean
): {
  samples: Record<string, MetricSample>
  snapshots: { candidate: ColorSnapshots; stable: ColorSnapshots }
} {
  const samples: Record<string, MetricSample> = {}
  const candidate: Record<string, { total: CounterSnapshot; bad: CounterSnapshot }> = {
    ...before.candidate
  }
  const stable: Record<string, { total: CounterSnapshot; bad: CounterSnapshot }> = {
    ...before.stable
  }
  for (const spec of specs) {
    if (spec.kind === 'gauge') {
      const r = readings.candidate[spec.name]
      samples[spec.name] =
        r?.kind === 'gauge'
          ? { kind: 'gauge', value: r.value }
          : { kind: 'none', reason: r?.kind === 'none' ? r.reason : 'no value' }
      continue
    }
    const c = ratioSince(before.candidate[spec.name], readings.candidate[spec.name])
    const s = ratioSince(before.stable[spec.name], readings.stable[spec.name])
    if (c.snapshot) candidate[spec.name] = c.snapshot
    if (s.snapshot) stable[spec.name] = s.snapshot
    if (!c.counts) {
      samples[spec.name] = { kind: 'none', reason: `candidate: ${c.reason}` }
      continue
    }
    // Without the stable's counts the check still judges the candidate against its limit.
    samples[spec.name] = {
      kind: 'ratio',
      candidate: c.counts,
      ...(stableServes && s.counts ? { stable: s.counts } : {})
    }
  }
  return { samples, snapshots: { candidate, stable } }
}

/**
 * The latency buckets to count against, from the stable's histogram: the first bound at or above
 * its p99 for the relative test, and the first at or above max-p99-latency for the limit. A
 * bound that does not exist (p99 unknown, or above the largest finite bucket) leaves that test
 * out, with the reason.
 */
export function chooseBuckets(
  bounds: readonly Bucket[],
  stableP99Ms: number | undefined,
  maxP99Ms: number | undefined
): { buckets: LatencyBuckets; notes: string[] } {
  const sorted = [...bounds].sort((a, b) => a.ms - b.ms)
  const atOrAbove = (ms: number): Bucket | undefined => sorted.find((b) => b.ms >= ms)
  const buckets: LatencyBuckets = {}
  const notes: string[] = []
  if (stableP99Ms === undefined) {
    notes.push('the stable has no p99 latency over the analysis window: latency is not compared')
  } else {
    const b = atOrAbove(stableP99Ms)
    if (b) buckets.relative = b
    else
      notes.push(
        `the stable's p99 (${Math.round(stableP99Ms)}ms) is above the largest histogram bucket: latency is not compared`
      )
  }
  if (maxP99Ms !== undefined) {
    const b = atOrAbove(maxP99Ms)
    if (b) buckets.limit = b
    else
      notes.push(
        sorted.length === 0
          ? `max-p99-latency ${maxP99Ms}ms cannot be judged: the stable's latency histogram has no buckets`
          : `max-p99-latency ${maxP99Ms}ms is above the largest histogram bucket (${sorted.at(-1)?.ms}ms): it cannot be judged`
      )
  }
  return { buckets, notes }
}

/** Lifetime bad share of a ratio reading (Σ bad / Σ total over its series); undefined: no total. */
export function lifetimeShare(reading: Reading | undefined): number | undefined {
  if (reading?.kind !== 'counters') return undefined
  const total = reading.total.reduce((s, x) => s + x.value, 0)
  const bad = reading.bad.reduce((s, x) => s + x.value, 0)
  return total > 0 ? Math.min(1, bad / total) : undefined
}
