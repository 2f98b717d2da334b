/**
 * Istio's standard HTTP metrics as the sidecars expose them for Prometheus:
 * `istio_requests_total` (counter) and `istio_request_duration_milliseconds`
 * (histogram), with Istio's label names and default buckets, rendered in the
 * Prometheus text exposition format 0.0.4.
 */

/** Label names of Istio's standard request metrics, in the order they are rendered. */
export const ISTIO_LABEL_NAMES = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_canonical_service',
  'source_canonical_revision',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy'
] as const

export type IstioLabelName = (typeof ISTIO_LABEL_NAMES)[number]
export type IstioLabels = Record<IstioLabelName, string>

/** Istio's default buckets for istio_request_duration_milliseconds (+Inf implied). */
export const DURATION_BUCKETS_MS: readonly number[] = Object.freeze([
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000,
  1800000, 3600000
])

interface Series {
  labels: IstioLabels
  requests: number
  /** Per-bucket (not cumulative) counts; the last slot is +Inf. */
  buckets: number[]
  sum: number
  lastChangeMs: number
  /** The labels of each bucket sample (with `le`), made once: samples() is read every scrape. */
  bucketLabels?: Array<Readonly<Record<string, string>>>
}

/** One sample of the metrics page: a metric name, its labels (with `le` for buckets), a value. */
export interface MetricSample {
  name: string
  labels: Readonly<Record<string, string>>
  value: number
}

/** Counters of one simulated mesh. Counters start at 0 and only grow. */
export class IstioMetrics {
  private readonly series = new Map<string, Series>()
  /** Bumped by every observation and prune: samples() is the same while it is. */
  private changes = 0

  get version(): number {
    return this.changes
  }

  /** Records requests that share one label set, one latency (ms) per request. */
  observe(labels: IstioLabels, latenciesMs: readonly number[], nowMs: number): void {
    if (latenciesMs.length === 0) return
    this.changes++
    const key = ISTIO_LABEL_NAMES.map((n) => labels[n]).join('\u0000')
    let s = this.series.get(key)
    if (!s) {
      s = {
        labels: { ...labels },
        requests: 0,
        buckets: new Array<number>(DURATION_BUCKETS_MS.length + 1).fill(0),
        sum: 0,
        lastChangeMs: nowMs
      }
      this.series.set(key, s)
    }
    for (const ms of latenciesMs) {
      s.requests += 1
      s.sum += ms
      const i = DURATION_BUCKETS_MS.findIndex((le) => ms <= le)
      const slot = i < 0 ? DURATION_BUCKETS_MS.length : i
      s.buckets[slot] = (s.buckets[slot] ?? 0) + 1
    }
    s.lastChangeMs = nowMs
  }

  /**
   * Forgets series untouched for `ttlMs` whose destination workload is gone, as
   * a sidecar's stats disappear with its pod. Live workloads keep their series
   * even when idle, so a color at weight 0 still reports (flat) counters.
   */
  prune(
    nowMs: number,
    ttlMs: number,
    isLive: (namespace: string, workload: string) => boolean
  ): void {
    for (const [key, s] of this.series) {
      if (nowMs - s.lastChangeMs < ttlMs) continue
      const { destination_workload_namespace: ns, destination_workload: wl } = s.labels
      if (wl === 'unknown' || !isLive(ns, wl)) {
        this.series.delete(key)
        this.changes++
      }
    }
  }

  /** Label sets currently exported (for tests and state). */
  labelSets(): IstioLabels[] {
    return [...this.series.values()].map((s) => ({ ...s.labels }))
  }

  /**
   * Every sample the metrics page holds, in its order: each series' request counter, then each
   * series' histogram (cumulative buckets with `le` as rendered, +Inf, sum, count). What a scrape
   * reads, without the text: `render` is these samples written out.
   */
  samples(): MetricSample[] {
    const all = [...this.series.values()]
    const out: MetricSample[] = all.map((s) => ({
      name: 'istio_requests_total',
      labels: s.labels,
      value: s.requests
    }))
    for (const s of all) {
      s.bucketLabels ??= [...DURATION_BUCKETS_MS.map(String), '+Inf'].map((le) => ({
        ...s.labels,
        le
      }))
      let cumulative = 0
      s.bucketLabels.forEach((labels, i) => {
        cumulative += s.buckets[i] ?? 0
        out.push({ name: 'istio_request_duration_milliseconds_bucket', labels, value: cumulative })
      })
      out.push({ name: 'istio_request_duration_milliseconds_sum', labels: s.labels, value: s.sum })
      out.push({
        name: 'istio_request_duration_milliseconds_count',
        labels: s.labels,
        value: s.requests
      })
    }
    return out
  }

  /** Renders the text exposition format 0.0.4. */
  render(): string {
    const lines: string[] = [
      '# HELP istio_requests_total Total requests.',
      '# TYPE istio_requests_total counter'
    ]
    const samples = this.samples()
    const histogram = samples.findIndex((s) => s.name !== 'istio_requests_total')
    const counters = histogram < 0 ? samples : samples.slice(0, histogram)
    for (const s of counters) lines.push(sampleLine(s))
    lines.push(
      '# HELP istio_request_duration_milliseconds Request duration in milliseconds.',
      '# TYPE istio_request_duration_milliseconds histogram'
    )
    if (histogram >= 0) for (const s of samples.slice(histogram)) lines.push(sampleLine(s))
    return lines.join('\n') + '\n'
  }
}

/** One line of the text format: Istio's labels in their order, then `le` for a bucket. */
function sampleLine(s: MetricSample): string {
  const labels = ISTIO_LABEL_NAMES.map((n) => `${n}="${escapeLabelValue(s.labels[n] ?? '')}"`)
  if (s.labels.le !== undefined) labels.push(`le="${s.labels.le}"`)
  return `${s.name}{${labels.join(',')}} ${formatFloat(s.value)}`
}

/** Escaping required by the text format for label values: backslash, double quote, newline. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function formatFloat(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(3)
}
