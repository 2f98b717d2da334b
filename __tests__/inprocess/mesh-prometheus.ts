/**
 * A Prometheus for in-process runs: it scrapes the mesh simulator on virtual time (every
 * `scrapeIntervalMs`, 5 s by default: the sandbox's real Prometheus scrapes every second for
 * its few-second rollouts, the in-process ones bake minutes with a minute's analysis window) and answers
 * `/api/v1/query` forms with the JSON Prometheus would send, evaluating the PromQL subset of
 * promql.ts. The action's own Prometheus adapter (PrometheusMetrics over Prometheus, with this
 * as its transport) reads it, so queries, answers and their parsing are the ones of a real run;
 * only the HTTP connection is left out. A query outside the subset gets an error answer (never a
 * made-up value), which the adapter turns into a `none` reading naming the query.
 */
import type { PrometheusAnswer } from '../../src/adapters/prometheus.js'
import type { MeshSimulator } from '../../sandbox/mesh/simulator.js'
import {
  evaluate,
  type Sample,
  type SampleSource,
  type Scrape,
  scrapeOf,
  UnsupportedQuery
} from './promql.js'

/** How long a series stays visible after its last scrape (Prometheus's lookback delta). */
const LOOKBACK_MS = 5 * 60_000

export interface InProcessPrometheusOptions {
  /** Default 5 s. */
  scrapeIntervalMs?: number
  /** Scrapes older than this are dropped (default 10 minutes): longer than any analysis window. */
  retentionMs?: number
}

/** The clock the scrapes follow: virtual time. */
export interface ScrapeClock {
  now(): number
  every(ms: number, fn: () => void): () => void
}

export class InProcessPrometheus implements SampleSource {
  private readonly scrapes: Scrape[] = []
  private readonly retentionMs: number
  /** Every query asked, in order (the PromQL text). */
  readonly queries: string[] = []
  readonly stop: () => void

  constructor(
    private readonly mesh: MeshSimulator,
    private readonly clock: ScrapeClock,
    options: InProcessPrometheusOptions = {}
  ) {
    this.retentionMs = options.retentionMs ?? 10 * 60_000
    this.scrape()
    this.stop = clock.every(options.scrapeIntervalMs ?? 5000, () => this.scrape())
  }

  /** Read every series now and keep it; drop what is older than the retention. */
  private scrape(): void {
    const now = this.clock.now()
    this.scrapes.push(scrapeOf(now, this.read()))
    while ((this.scrapes[0]?.t ?? now) < now - this.retentionMs) this.scrapes.shift()
  }

  /**
   * Each series' labels with its `__name__`, made once per name and labels object of the
   * simulator (one labels object serves a series' counter, sum and count).
   */
  private readonly named = new WeakMap<object, Map<string, Readonly<Record<string, string>>>>()

  /** The simulator's counters as of now, with the traffic owed so far sent. */
  private read(): Sample[] {
    this.mesh.tick()
    return this.mesh.samples().map((s) => {
      let byName = this.named.get(s.labels)
      if (!byName) {
        byName = new Map()
        this.named.set(s.labels, byName)
      }
      let labels = byName.get(s.name)
      if (!labels) {
        labels = { __name__: s.name, ...s.labels }
        byName.set(s.name, labels)
      }
      return { labels, value: s.value }
    })
  }

  /** The scrape of this instant, made once while the mesh's counters stay as they are. */
  private live?: { version: string; scrape: Scrape }

  private scrapeNow(): Scrape {
    const now = this.clock.now()
    this.mesh.tick()
    const version = `${now}/${this.mesh.metricsVersion}`
    if (this.live?.version !== version) this.live = { version, scrape: scrapeOf(now, this.read()) }
    return this.live.scrape
  }

  at(t: number): Scrape | undefined {
    const now = this.clock.now()
    if (t >= now) return this.scrapeNow()
    for (let i = this.scrapes.length - 1; i >= 0; i--) {
      const s = this.scrapes[i] as Scrape
      if (s.t <= t) return t - s.t <= LOOKBACK_MS ? s : undefined
    }
    return undefined
  }

  range(from: number, to: number): readonly Scrape[] {
    const inside = this.scrapes.filter((s) => s.t > from && s.t <= to)
    const now = this.clock.now()
    if (to >= now && inside.at(-1)?.t !== now) inside.push(this.scrapeNow())
    return inside
  }

  /** Prometheus's answer to an instant query form (`query`, optional `time` in seconds). */
  readonly transport = async (form: string): Promise<PrometheusAnswer> => {
    const params = new URLSearchParams(form)
    const query = params.get('query') ?? ''
    this.queries.push(query)
    const time = params.get('time')
    const t = time === null ? this.clock.now() : Math.round(Number(time) * 1000)
    const seconds = t / 1000
    try {
      const value = evaluate(query, this, t)
      const data =
        value.kind === 'scalar'
          ? { resultType: 'scalar', result: [seconds, String(value.value)] }
          : {
              resultType: 'vector',
              result: value.samples.map((s) => ({
                metric: s.labels,
                value: [seconds, String(s.value)]
              }))
            }
      return { status: 200, text: JSON.stringify({ status: 'success', data }) }
    } catch (error) {
      if (!(error instanceof UnsupportedQuery)) throw error
      return {
        status: 422,
        text: JSON.stringify({
          status: 'error',
          errorType: 'execution',
          error: `the in-process Prometheus of the tests does not evaluate this: ${error.message}`
        })
      }
    }
  }
}
