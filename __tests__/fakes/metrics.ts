/**
 * A MetricsSource over a simulated mesh: the service gets `rps` requests a second, split between
 * the colors by the weights the fake router has at that moment, each color failing a fixed share
 * of them (counts, not draws: no randomness). Counters grow with the fake clock, as Istio's do.
 * With `scrape`, a read sees the counters as of the last scrape (every `everyMs`, at `phaseMs`
 * past each multiple) and the `scrape-age` query says how old that scrape is, as Prometheus
 * answers it; without, a read sees the counters at its own time and no scrape age.
 */
import type { Color } from '../../src/core/color.js'
import type {
  LatencyHistogram,
  MetricQuery,
  MetricsSource,
  Reading,
  StableTraffic
} from '../../src/core/metrics.js'

export class FakeMesh implements MetricsSource {
  private readonly counters: Record<Color, { total: number; bad: number }> = {
    blue: { total: 0, bad: 0 },
    green: { total: 0, bad: 0 }
  }
  private last?: number
  /** Share of 5xx per color. */
  readonly errorRate: Record<Color, number> = { blue: 0, green: 0 }
  reads = 0

  constructor(
    private readonly weights: () => Record<Color, number>,
    private readonly rps = 100,
    private readonly scrape?: { everyMs: number; phaseMs: number }
  ) {}

  /** When the last scrape at or before `atMs` was. */
  private scrapedAt(atMs: number): number {
    if (!this.scrape) return atMs
    const { everyMs, phaseMs } = this.scrape
    return Math.floor((atMs - phaseMs) / everyMs) * everyMs + phaseMs
  }

  /**
   * The counters move on to `atMs` at the weights and error rates in place until now: call it
   * before changing either, so that the time before the change is counted as it was.
   */
  advanceTo(atMs: number): void {
    if (this.last === undefined || atMs > this.last) this.advance(atMs)
  }

  /** Move the counters to `atMs` at the weights in place now. */
  private advance(atMs: number): void {
    const seconds = this.last === undefined ? 60 : Math.max(0, atMs - this.last) / 1000
    this.last = atMs
    const w = this.weights()
    for (const color of ['blue', 'green'] as const) {
      const n = Math.round((this.rps * seconds * w[color]) / 100)
      this.counters[color].total += n
      this.counters[color].bad += Math.round(n * this.errorRate[color])
    }
  }

  /** The whole service's rate, and the stable's (blue's) 5xx share. */
  async traffic(): Promise<StableTraffic> {
    return { rps: this.rps, errorShare: this.errorRate.blue }
  }

  /** Istio's default bucket bounds up to 10 s, and no p99 (the fake times nothing). */
  async latency(): Promise<LatencyHistogram> {
    const bounds = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
    return { buckets: bounds.map((ms) => ({ le: String(ms), ms })) }
  }

  async read(queries: readonly MetricQuery[], atMs: number): Promise<Record<string, Reading>> {
    this.reads++
    const seen = this.scrapedAt(atMs)
    this.advanceTo(seen)
    const out: Record<string, Reading> = {}
    for (const q of queries) {
      if (q.name === 'scrape-age' && this.scrape) {
        out[q.name] = { kind: 'gauge', value: (atMs - seen) / 1000 }
        continue
      }
      const text = q.kind === 'ratio' ? q.total : q.query
      const color: Color | undefined = text.includes('-green"')
        ? 'green'
        : text.includes('-blue"')
          ? 'blue'
          : undefined
      if (!color || q.kind === 'gauge' || q.name !== 'errors') {
        out[q.name] = { kind: 'none', reason: `the fake mesh has no series for ${q.name}` }
        continue
      }
      const c = this.counters[color]
      const labels = { destination_workload: `reviews-${color}` }
      out[q.name] = {
        kind: 'counters',
        total: [{ labels, value: c.total }],
        bad: [{ labels: { ...labels, response_code: '503' }, value: c.bad }]
      }
    }
    return out
  }
}
