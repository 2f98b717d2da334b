/**
 * The PromQL subset of the in-process Prometheus, over hand-made scrapes: the action's own
 * queries (its counters, the slow-request difference, preflight's rates and histogram) give what
 * Prometheus gives; anything else is refused, never guessed.
 */
import { latencyQueries, trafficQueries } from '../../src/core/queries.js'
import { builtinMetrics, placeholders, queriesFor, scrapeAge } from '../../src/core/metrics.js'
import { evaluate, type Sample, type SampleSource, scrapeOf, UnsupportedQuery } from './promql.js'

const BASE = { reporter: 'destination', destination_workload_namespace: 'demo' }

function series(workload: string, code: string, requests: number): Sample[] {
  const labels = { ...BASE, destination_workload: workload, response_code: code }
  // Half the requests under 10ms, 90% under 100ms, all under 250ms.
  const buckets: Array<[string, number]> = [
    ['10', requests * 0.5],
    ['100', requests * 0.9],
    ['250', requests],
    ['+Inf', requests]
  ]
  return [
    { labels: { __name__: 'istio_requests_total', ...labels }, value: requests },
    {
      labels: { __name__: 'istio_request_duration_milliseconds_count', ...labels },
      value: requests
    },
    ...buckets.map(([le, value]) => ({
      labels: { __name__: 'istio_request_duration_milliseconds_bucket', ...labels, le },
      value
    }))
  ]
}

/** Scrapes every second for a minute: reviews-blue at 10 rps (1% 5xx), reviews-green at 2 rps. */
function source(): SampleSource & { now: number } {
  const scrapes = Array.from({ length: 61 }, (_, s) =>
    scrapeOf(s * 1000, [
      ...series('reviews-blue', '200', 9.9 * s),
      ...series('reviews-blue', '503', 0.1 * s),
      ...series('reviews-green', '200', 2 * s)
    ])
  )
  return {
    now: 60_000,
    at: (t) => [...scrapes].reverse().find((s) => s.t <= t),
    range: (from, to) => scrapes.filter((s) => s.t > from && s.t <= to)
  }
}

const vector = (query: string, src = source()) => {
  const v = evaluate(query, src, src.now)
  if (v.kind !== 'vector') throw new Error('expected a vector')
  return v.samples
}

it('reads the rollout’s counters: plain selectors keep their labels and name', () => {
  const [errors] = builtinMetrics({
    reporter: 'destination',
    maxErrorRate: 0.01,
    buckets: { relative: { le: '100', ms: 100 } }
  })
  const [q] = queriesFor(errors ? [errors] : [], placeholders('reviews', 'demo', 'blue', '60s'))
  if (q?.kind !== 'ratio') throw new Error('expected a ratio query')
  expect(vector(q.total).map((s) => [s.labels.__name__, s.labels.response_code, s.value])).toEqual([
    ['istio_requests_total', '200', 594],
    ['istio_requests_total', '503', 6]
  ])
  expect(vector(q.bad).map((s) => s.value)).toEqual([6])
})

it('counts slow requests as the count minus the bucket, one-to-one ignoring le', () => {
  const slow =
    'istio_request_duration_milliseconds_count{reporter="destination",destination_workload="reviews-blue"} - ignoring(le) istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload="reviews-blue",le="100"}'
  const out = vector(slow)
  expect(out.map((s) => Math.round(s.value * 10) / 10)).toEqual([59.4, 0.6])
  expect(out[0]?.labels).not.toHaveProperty('__name__')
  expect(out[0]?.labels).not.toHaveProperty('le')
})

it('answers preflight: the stable’s rate and 5xx rate, its buckets and its p99', () => {
  const selector = { workload: 'reviews-blue', namespace: 'demo', reporter: 'destination' as const }
  const t = trafficQueries(selector, '60s')
  expect(vector(t.rps)[0]?.value).toBeCloseTo(10, 10)
  expect(vector(t.errorRps)[0]?.value).toBeCloseTo(0.1, 10)
  const l = latencyQueries(selector, '60s')
  expect(vector(l.buckets).map((s) => [s.labels.le, s.value])).toEqual([
    ['10', 2],
    ['100', 2],
    ['250', 2],
    ['+Inf', 2]
  ])
  // 99% of requests: in the 100-250ms bucket, 90% of the way through it (Prometheus interpolates).
  expect(vector(l.p99)[0]?.value).toBeCloseTo(235, 6)
})

it('aggregates with by and without, and subtracts scalars', () => {
  expect(
    vector('sum by (destination_workload) (istio_requests_total)').map((s) => [
      s.labels.destination_workload,
      s.value
    ])
  ).toEqual([
    ['reviews-blue', 600],
    ['reviews-green', 120]
  ])
  expect(vector('max(istio_requests_total{response_code!~"5.."}) - 94')[0]?.value).toBe(500)
  expect(
    vector('count without (response_code) (istio_requests_total)').map((s) => s.value)
  ).toEqual([2, 1])
})

it('says how old the newest scrape is: the engine aims its checks just after the next one', () => {
  const [age] = queriesFor(
    [scrapeAge('destination')],
    placeholders('reviews', 'demo', 'green', '60s')
  )
  if (age?.kind !== 'gauge') throw new Error('scrape-age is a gauge')
  // The last scrape was at 60 s; asked at 60.4 s, its samples are 0.4 s old.
  const src = source()
  const v = evaluate(age.query, src, 60_400)
  expect(v).toEqual({ kind: 'vector', samples: [{ labels: {}, value: expect.closeTo(0.4, 9) }] })
  // No series for the workload: no value, as Prometheus answers an empty vector.
  expect(vector('time() - max(timestamp(istio_requests_total{destination_workload="x"}))')).toEqual(
    []
  )
  expect(() => evaluate('timestamp(istio_requests_total[1m])', src, 60_000)).toThrow(
    UnsupportedQuery
  )
})

it.each([
  'rate(istio_requests_total[5m]) / 2',
  'topk(1, istio_requests_total)',
  'istio_requests_total offset 5m',
  'sum(istio_requests_total{destination_workload="a"}'
])('refuses %s', (query) => {
  expect(() => evaluate(query, source(), 60_000)).toThrow(UnsupportedQuery)
})
