import { BehaviourRegistry, type KubeObject } from '../../sandbox/types.js'
import { MeshSimulator, type NoiseMode } from '../../sandbox/mesh/simulator.js'
import { resolveHost } from '../../sandbox/mesh/routing.js'
import { ISTIO_LABEL_NAMES } from '../../sandbox/mesh/metrics.js'
import { startMesh } from '../../sandbox/mesh/server.js'
import { seed, SEED_IMAGE } from '../../sandbox/seed.js'
import { MemoryStore, pod } from './memoryStore.js'
import { histogramQuantile, parseMetrics, select, total } from './promtext.js'

const GREEN_IMAGE = 'example.com/reviews:2.0.0'

class FakeClock {
  t = 1_000_000
  now(): number {
    return this.t
  }
}

interface Setup {
  store: MemoryStore
  behaviours: BehaviourRegistry
  clock: FakeClock
  sim: MeshSimulator
  /** Advances the clock by `ms` in 100 ms ticks. */
  run(ms: number): void
}

function setup(
  o: {
    rps?: number
    greenPods?: number
    greenReady?: boolean
    greenSubset?: boolean
    noise?: NoiseMode
    seed?: number
  } = {}
): Setup {
  const store = new MemoryStore()
  seed(store)
  for (let i = 0; i < 3; i++) {
    store.create(
      'pods',
      pod('reviews-blue', i, { image: SEED_IMAGE, labels: { app: 'reviews', version: 'blue' } })
    )
  }
  for (let i = 0; i < (o.greenPods ?? 3); i++) {
    store.create(
      'pods',
      pod('reviews-green', i, {
        image: GREEN_IMAGE,
        labels: { app: 'reviews', version: 'green' },
        ready: o.greenReady ?? true
      })
    )
  }
  if (o.greenSubset ?? true) {
    const dr = store.get('destinationrules', 'demo', 'reviews') as KubeObject
    dr.spec = {
      host: 'reviews',
      subsets: [
        { name: 'blue', labels: { version: 'blue' } },
        { name: 'green', labels: { version: 'green' } }
      ]
    }
    store.replace('destinationrules', dr)
  }
  const behaviours = new BehaviourRegistry()
  const clock = new FakeClock()
  const sim = new MeshSimulator({
    store,
    behaviours,
    clock,
    ...(o.rps !== undefined ? { rps: o.rps } : {}),
    ...(o.noise !== undefined ? { noise: o.noise } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {})
  })
  return {
    store,
    behaviours,
    clock,
    sim,
    run(ms) {
      for (let t = 0; t < ms; t += 100) {
        clock.t += 100
        sim.tick()
      }
    }
  }
}

function setWeights(store: MemoryStore, blue: number, green: number, host = 'reviews'): void {
  const vs = store.get('virtualservices', 'demo', 'reviews') as KubeObject
  vs.spec = {
    hosts: ['reviews'],
    http: [
      {
        name: 'primary',
        route: [
          { destination: { host, subset: 'blue' }, weight: blue },
          { destination: { host, subset: 'green' }, weight: green }
        ]
      }
    ]
  }
  store.replace('virtualservices', vs)
}

const dest = (workload: string) => ({ reporter: 'destination', destination_workload: workload })

describe('mesh simulator', () => {
  it('splits 90/10 at 100 rps exactly', () => {
    const s = setup({ rps: 100 })
    setWeights(s.store, 90, 10)
    s.run(60_000)
    const st = s.sim.state()
    expect(st.workloads['demo/reviews-blue']?.requests).toBe(5400)
    expect(st.workloads['demo/reviews-green']?.requests).toBe(600)
    const m = parseMetrics(s.sim.metricsText())
    expect(total(m, 'istio_requests_total', dest('reviews-blue'))).toBe(5400)
    expect(total(m, 'istio_requests_total', dest('reviews-green'))).toBe(600)
    expect(total(m, 'istio_requests_total', { reporter: 'source' })).toBe(6000)
  })

  it('keeps every running total within one request of its exact share', () => {
    const s = setup({ rps: 7 })
    setWeights(s.store, 33, 67)
    for (let tick = 1; tick <= 300; tick++) {
      s.run(100)
      const sent = Math.floor((7 * tick) / 10)
      const w = s.sim.state().workloads
      const green = w['demo/reviews-green']?.requests ?? 0
      const blue = w['demo/reviews-blue']?.requests ?? 0
      expect(green + blue).toBe(sent)
      expect(Math.abs(green - sent * 0.67)).toBeLessThanOrEqual(1)
    }
  })

  it('applies a weight change within a second and reports the resourceVersion applied', () => {
    const s = setup({ rps: 100 })
    setWeights(s.store, 100, 0)
    s.run(1000)
    const vs = s.store.get('virtualservices', 'demo', 'reviews') as KubeObject
    expect(s.sim.state().flows[0]?.config.resourceVersion).toBe(vs.metadata.resourceVersion)
    setWeights(s.store, 0, 100)
    s.run(1000)
    const st = s.sim.state()
    const flow = st.flows[0]
    expect(flow?.destinations.map((d) => [d.subset, d.weight, d.share])).toEqual([
      ['blue', 0, 0],
      ['green', 100, 1]
    ])
    expect(flow?.config.resourceVersion).toBe(
      s.store.get('virtualservices', 'demo', 'reviews')?.metadata.resourceVersion
    )
    expect(st.workloads['demo/reviews-blue']?.requests).toBe(100)
    expect(st.workloads['demo/reviews-green']?.requests).toBe(100)
  })

  it.each([
    ['reviews'],
    ['reviews.demo'],
    ['reviews.demo.svc'],
    ['reviews.demo.svc.cluster.local']
  ])('resolves destination host %s to Service demo/reviews', (host) => {
    expect(resolveHost(host, 'demo')).toEqual({ namespace: 'demo', name: 'reviews' })
    const s = setup({ rps: 10 })
    setWeights(s.store, 50, 50, host)
    s.run(2000)
    const m = parseMetrics(s.sim.metricsText())
    expect(total(m, 'istio_requests_total', dest('reviews-green'))).toBe(10)
    expect(
      select(m, 'istio_requests_total', {}).every(
        (x) => x.labels['destination_service'] === 'reviews.demo.svc.cluster.local'
      )
    ).toBe(true)
  })

  it('answers 503 NR, reported by the source only, when the subset is not defined', () => {
    const s = setup({ rps: 10, greenSubset: false })
    setWeights(s.store, 50, 50)
    s.run(2000)
    const m = parseMetrics(s.sim.metricsText())
    const nr = select(m, 'istio_requests_total', { response_flags: 'NR' })
    expect(nr).toHaveLength(1)
    expect(nr[0]?.labels).toMatchObject({
      reporter: 'source',
      response_code: '503',
      destination_workload: 'unknown',
      destination_service_name: 'reviews'
    })
    expect(nr[0]?.value).toBe(10)
    expect(total(m, 'istio_requests_total', { reporter: 'destination' })).toBe(10)
    expect(s.sim.state().flows[0]?.failures).toEqual({ NR: 10, UH: 0, NC: 0 })
  })

  it('answers 503 UH when the subset has no ready pods', () => {
    const s = setup({ rps: 10, greenReady: false })
    setWeights(s.store, 50, 50)
    s.run(2000)
    const m = parseMetrics(s.sim.metricsText())
    expect(
      total(m, 'istio_requests_total', {
        reporter: 'source',
        response_flags: 'UH',
        response_code: '503',
        destination_workload: 'unknown'
      })
    ).toBe(10)
    expect(
      select(m, 'istio_requests_total', {
        reporter: 'destination',
        destination_workload: 'reviews-green'
      })
    ).toHaveLength(0)
    expect(s.sim.state().flows[0]?.destinations[1]?.failure).toBe('UH')
  })

  it('gives the configured error share through the error accumulator', () => {
    const s = setup({ rps: 50 })
    s.behaviours.set(GREEN_IMAGE, { errorRate: 0.2 })
    setWeights(s.store, 50, 50)
    s.run(20_000)
    const green = s.sim.state().workloads['demo/reviews-green']
    expect(green).toEqual({ requests: 500, errors: 100 })
    const m = parseMetrics(s.sim.metricsText())
    expect(
      total(m, 'istio_requests_total', { ...dest('reviews-green'), response_code: '503' })
    ).toBe(100)
    expect(
      total(m, 'istio_requests_total', { ...dest('reviews-green'), response_code: '200' })
    ).toBe(400)
    // The blue default (0.1%) over 500 requests: exactly floor(0.5) = 0 so far, 1 at the 1000th.
    expect(s.sim.state().workloads['demo/reviews-blue']?.errors).toBe(0)
  })

  it.each([[50], [900]])(
    'shapes latency so histogram_quantile(0.99) is about p99Ms=%d',
    (p99Ms) => {
      const s = setup({ rps: 200 })
      s.behaviours.set(GREEN_IMAGE, { p99Ms })
      setWeights(s.store, 0, 100)
      s.run(50_000)
      const m = parseMetrics(s.sim.metricsText())
      const p99 = histogramQuantile(0.99, m, dest('reviews-green'))
      // Interpolating inside a coarse bucket (500..1000) is off by up to ~10%, as in PromQL.
      expect(p99 / p99Ms).toBeGreaterThan(0.9)
      expect(p99 / p99Ms).toBeLessThan(1.1)
      const sum = total(m, 'istio_request_duration_milliseconds_sum', dest('reviews-green'))
      const count = total(m, 'istio_request_duration_milliseconds_count', dest('reviews-green'))
      expect(count).toBe(10_000)
      // Exponential with mean p99 / ln(100).
      expect(sum / count / (p99Ms / Math.log(100))).toBeCloseTo(1, 1)
    }
  )

  it.each([[100], [1000], [5000]])('puts 99%% of latencies at or under p99Ms=%d', (p99Ms) => {
    // With p99Ms on a bucket bound the true p99 can be read off the buckets directly.
    const s = setup({ rps: 200 })
    s.behaviours.set(GREEN_IMAGE, { p99Ms })
    setWeights(s.store, 0, 100)
    s.run(50_000)
    const m = parseMetrics(s.sim.metricsText())
    const match = { ...dest('reviews-green'), response_code: '200' }
    const under = total(m, 'istio_request_duration_milliseconds_bucket', {
      ...match,
      le: String(p99Ms)
    })
    const all = total(m, 'istio_request_duration_milliseconds_count', match)
    expect(under / all).toBeCloseTo(0.99, 3)
  })

  it('labels series exactly as Istio sidecars do', () => {
    const s = setup({ rps: 10 })
    setWeights(s.store, 50, 50)
    s.run(1000)
    const m = parseMetrics(s.sim.metricsText())
    const names = [
      'connection_security_policy',
      'destination_app',
      'destination_canonical_revision',
      'destination_canonical_service',
      'destination_cluster',
      'destination_principal',
      'destination_service',
      'destination_service_name',
      'destination_service_namespace',
      'destination_version',
      'destination_workload',
      'destination_workload_namespace',
      'grpc_response_status',
      'reporter',
      'request_protocol',
      'response_code',
      'response_flags',
      'source_app',
      'source_canonical_revision',
      'source_canonical_service',
      'source_cluster',
      'source_principal',
      'source_version',
      'source_workload',
      'source_workload_namespace'
    ]
    expect([...ISTIO_LABEL_NAMES].sort()).toEqual(names)
    for (const x of select(m, 'istio_requests_total', {}))
      expect(Object.keys(x.labels).sort()).toEqual(names)
    const [d] = select(m, 'istio_requests_total', {
      ...dest('reviews-green'),
      response_code: '200'
    })
    expect(d?.labels).toEqual({
      reporter: 'destination',
      source_workload: 'loadgenerator',
      source_workload_namespace: 'demo',
      source_principal: 'spiffe://cluster.local/ns/demo/sa/loadgenerator',
      source_app: 'loadgenerator',
      source_version: 'unknown',
      source_canonical_service: 'loadgenerator',
      source_canonical_revision: 'latest',
      source_cluster: 'Kubernetes',
      destination_workload: 'reviews-green',
      destination_workload_namespace: 'demo',
      destination_principal: 'spiffe://cluster.local/ns/demo/sa/default',
      destination_app: 'reviews',
      destination_version: 'green',
      destination_service: 'reviews.demo.svc.cluster.local',
      destination_service_name: 'reviews',
      destination_service_namespace: 'demo',
      destination_canonical_service: 'reviews',
      destination_canonical_revision: 'green',
      destination_cluster: 'Kubernetes',
      request_protocol: 'http',
      response_code: '200',
      grpc_response_status: '',
      response_flags: '-',
      connection_security_policy: 'mutual_tls'
    })
    const [src] = select(m, 'istio_requests_total', {
      reporter: 'source',
      destination_workload: 'reviews-green'
    })
    expect(src?.labels['connection_security_policy']).toBe('unknown')
    const buckets = select(m, 'istio_request_duration_milliseconds_bucket', {
      ...dest('reviews-green'),
      response_code: '200'
    })
    expect(buckets.map((b) => b.labels['le'])).toEqual([
      '0.5',
      '1',
      '5',
      '10',
      '25',
      '50',
      '100',
      '250',
      '500',
      '1000',
      '2500',
      '5000',
      '10000',
      '30000',
      '60000',
      '300000',
      '600000',
      '1800000',
      '3600000',
      '+Inf'
    ])
  })

  it('spreads a subset-less destination over ready pods, proportional to pod count', () => {
    const s = setup({ rps: 40, greenPods: 1 })
    const vs = s.store.get('virtualservices', 'demo', 'reviews') as KubeObject
    vs.spec = { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] }
    s.store.replace('virtualservices', vs)
    s.run(10_000)
    expect(s.sim.state().workloads).toEqual({
      'demo/reviews-blue': { requests: 300, errors: 0 },
      'demo/reviews-green': { requests: 100, errors: 0 }
    })
  })

  it('takes the first route without match', () => {
    const s = setup({ rps: 10 })
    const vs = s.store.get('virtualservices', 'demo', 'reviews') as KubeObject
    vs.spec = {
      hosts: ['reviews'],
      http: [
        {
          name: 'canary-header',
          match: [{ headers: { x: { exact: '1' } } }],
          route: [{ destination: { host: 'reviews', subset: 'green' } }]
        },
        { name: 'primary', route: [{ destination: { host: 'reviews', subset: 'blue' } }] }
      ]
    }
    s.store.replace('virtualservices', vs)
    s.run(1000)
    expect(s.sim.state().flows[0]?.route).toEqual({ index: 1, name: 'primary' })
    expect(s.sim.state().workloads).toEqual({ 'demo/reviews-blue': { requests: 10, errors: 0 } })
  })

  it('reports no destination series for pods without a sidecar', () => {
    const s = setup({ rps: 10, greenPods: 0 })
    for (const p of s.store.list('pods', 'demo')) s.store.delete('pods', 'demo', p.metadata.name)
    s.store.create(
      'pods',
      pod('reviews-blue', 0, {
        image: SEED_IMAGE,
        labels: { app: 'reviews', version: 'blue' },
        sidecar: false
      })
    )
    s.run(1000)
    const m = parseMetrics(s.sim.metricsText())
    expect(select(m, 'istio_requests_total', { reporter: 'destination' })).toHaveLength(0)
    expect(
      total(m, 'istio_requests_total', {
        reporter: 'source',
        destination_workload: 'reviews-blue',
        destination_principal: 'unknown'
      })
    ).toBe(10)
    expect(s.sim.state().flows[0]?.destinations[0]?.endpoints[0]?.sidecar).toBe(false)
  })

  it('sends nothing at rps 0 and follows rps changes', () => {
    const s = setup({ rps: 0 })
    s.run(5000)
    expect(s.sim.state().workloads).toEqual({})
    s.sim.setRps(30)
    s.run(2000)
    expect(s.sim.state().workloads['demo/reviews-blue']?.requests).toBe(60)
    expect(() => s.sim.setRps(-1)).toThrow(RangeError)
  })

  it('keeps counters monotonic and forgets series of vanished workloads after the TTL', () => {
    const s = setup({ rps: 10 })
    setWeights(s.store, 50, 50)
    s.run(2000)
    setWeights(s.store, 100, 0)
    for (const p of s.store.list('pods', 'demo')) {
      if (p.metadata.labels?.['version'] === 'green')
        s.store.delete('pods', 'demo', p.metadata.name)
    }
    s.run(60_000)
    let m = parseMetrics(s.sim.metricsText())
    expect(total(m, 'istio_requests_total', dest('reviews-green'))).toBe(10)
    s.run(5 * 60_000)
    m = parseMetrics(s.sim.metricsText())
    expect(select(m, 'istio_requests_total', dest('reviews-green'))).toHaveLength(0)
    expect(total(m, 'istio_requests_total', dest('reviews-blue'))).toBe(10 + 600 + 3000)
  })
})

/** Runs `n` intervals of `ms` and returns how much `read()` grew in each. */
function perInterval(s: Setup, n: number, ms: number, read: () => number): number[] {
  const out: number[] = []
  let last = read()
  for (let i = 0; i < n; i++) {
    s.run(ms)
    const now = read()
    out.push(now - last)
    last = now
  }
  return out
}

function moments(xs: readonly number[]): { sum: number; mean: number; variance: number } {
  const sum = xs.reduce((a, x) => a + x, 0)
  const mean = sum / xs.length
  const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)
  return { sum, mean, variance }
}

/**
 * Bounds for a Poisson count's dispersion (sample variance / sample mean) over n intervals: it
 * is 1 with a standard error of about sqrt(2 / (n - 1)); exact counting gives about 0.
 */
function expectPoissonDispersion(xs: readonly number[]): void {
  const { mean, variance } = moments(xs)
  const se = Math.sqrt(2 / (xs.length - 1))
  expect(variance / mean).toBeGreaterThan(1 - 5 * se)
  expect(variance / mean).toBeLessThan(1 + 5 * se)
}

const requestsTo = (s: Setup, workload: string) => (): number =>
  s.sim.state().workloads[`demo/${workload}`]?.requests ?? 0
const errorsOf = (s: Setup, workload: string) => (): number =>
  s.sim.state().workloads[`demo/${workload}`]?.errors ?? 0

// Statistical bounds are 5 standard deviations: with the fixed seeds they never flake, and a
// broken sampler (exact counts, a wrong mean, round robin) lands far outside them.
describe('mesh simulator with Poisson noise', () => {
  it('replays the same counts for the same seed and other counts for another', () => {
    const runWith = (seed: number) => {
      const s = setup({ rps: 50, noise: 'poisson', seed })
      s.behaviours.set(GREEN_IMAGE, { errorRate: 0.05, p99Ms: 300 })
      setWeights(s.store, 90, 10)
      s.run(30_000)
      return { state: s.sim.state(), metrics: s.sim.metricsText() }
    }
    const a = runWith(7)
    expect(a.state).toMatchObject({ rps: 50, noise: 'poisson', seed: 7 })
    expect(runWith(7)).toEqual(a)
    const b = runWith(8)
    expect(b.state.workloads).not.toEqual(a.state.workloads)
    expect(b.metrics).not.toEqual(a.metrics)
  })

  it('restarts the generator from the seed when traffic is set again', () => {
    const s = setup({ rps: 0 })
    setWeights(s.store, 50, 50)
    s.run(1000)
    s.sim.setTraffic({ rps: 40, noise: 'poisson', seed: 7 })
    const first = perInterval(s, 20, 500, requestsTo(s, 'reviews-green'))
    s.sim.setTraffic({ rps: 40, noise: 'poisson', seed: 7 })
    expect(perInterval(s, 20, 500, requestsTo(s, 'reviews-green'))).toEqual(first)
    expect(s.sim.traffic).toEqual({ rps: 40, noise: 'poisson', seed: 7 })
  })

  it('sends Poisson(rps × time) requests: total within 5 sd, per-second variance ≈ mean', () => {
    const s = setup({ rps: 20, noise: 'poisson', seed: 7 })
    const perSecond = perInterval(s, 600, 1000, () => s.sim.state().flows[0]?.requests ?? 0)
    const { sum } = moments(perSecond)
    expect(Math.abs(sum - 20 * 600)).toBeLessThan(5 * Math.sqrt(20 * 600))
    expectPoissonDispersion(perSecond)
    // What exact counting gives for the same measurement: no spread at all.
    const exact = setup({ rps: 20 })
    const exactPerSecond = perInterval(
      exact,
      60,
      1000,
      () => exact.sim.state().flows[0]?.requests ?? 0
    )
    expect(new Set(exactPerSecond)).toEqual(new Set([20]))
  })

  it('answers 5xx as Bernoulli draws: share within 5 sd of errorRate, varying per second', () => {
    const s = setup({ rps: 200, noise: 'poisson', seed: 7 })
    s.behaviours.set(GREEN_IMAGE, { errorRate: 0.1 })
    setWeights(s.store, 0, 100)
    const errorsPerSecond = perInterval(s, 300, 1000, errorsOf(s, 'reviews-green'))
    const green = s.sim.state().workloads['demo/reviews-green']
    const requests = green?.requests ?? 0
    const errors = green?.errors ?? 0
    expect(Math.abs(requests - 200 * 300)).toBeLessThan(5 * Math.sqrt(200 * 300))
    expect(Math.abs(errors / requests - 0.1)).toBeLessThan(5 * Math.sqrt((0.1 * 0.9) / requests))
    // Poisson arrivals thinned by independent failures: 5xx per second is Poisson(20) too.
    expectPoissonDispersion(errorsPerSecond)
    const m = parseMetrics(s.sim.metricsText())
    expect(
      total(m, 'istio_requests_total', { ...dest('reviews-green'), response_code: '503' })
    ).toBe(errors)
    expect(
      total(m, 'istio_requests_total', { ...dest('reviews-green'), response_code: '200' })
    ).toBe(requests - errors)
  })

  it('splits by weight with independent draws, not round robin', () => {
    const s = setup({ rps: 100, noise: 'poisson', seed: 7 })
    setWeights(s.store, 90, 10)
    const greenPerSecond = perInterval(s, 300, 1000, requestsTo(s, 'reviews-green'))
    const w = s.sim.state().workloads
    const all = (w['demo/reviews-blue']?.requests ?? 0) + (w['demo/reviews-green']?.requests ?? 0)
    const green = moments(greenPerSecond).sum
    expect(Math.abs(green / all - 0.1)).toBeLessThan(5 * Math.sqrt((0.1 * 0.9) / all))
    // Round robin would send exactly 10 a second to green.
    expectPoissonDispersion(greenPerSecond)
  })

  it('spreads a subset-less destination over ready pods by random draws', () => {
    const s = setup({ rps: 40, greenPods: 1, noise: 'poisson', seed: 7 })
    const vs = s.store.get('virtualservices', 'demo', 'reviews') as KubeObject
    vs.spec = { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] }
    s.store.replace('virtualservices', vs)
    s.run(300_000)
    const w = s.sim.state().workloads
    const blue = w['demo/reviews-blue']?.requests ?? 0
    const all = blue + (w['demo/reviews-green']?.requests ?? 0)
    expect(Math.abs(blue / all - 0.75)).toBeLessThan(5 * Math.sqrt((0.75 * 0.25) / all))
  })

  it.each([[100], [1000]])(
    'fills latency buckets with random draws, about 1%% above p99Ms=%d',
    (p99Ms) => {
      const bucketsOf = (s: Setup) =>
        select(parseMetrics(s.sim.metricsText()), 'istio_request_duration_milliseconds_bucket', {
          ...dest('reviews-green'),
          response_code: '200'
        }).map((b) => b.value)
      const noisy = setup({ rps: 200, noise: 'poisson', seed: 7 })
      const exact = setup({ rps: 200 })
      for (const s of [noisy, exact]) {
        s.behaviours.set(GREEN_IMAGE, { p99Ms })
        setWeights(s.store, 0, 100)
        s.run(50_000)
      }
      const m = parseMetrics(noisy.sim.metricsText())
      const match = { ...dest('reviews-green'), response_code: '200' }
      const all = total(m, 'istio_request_duration_milliseconds_count', match)
      const under = total(m, 'istio_request_duration_milliseconds_bucket', {
        ...match,
        le: String(p99Ms)
      })
      const above = 1 - under / all
      expect(Math.abs(above - 0.01)).toBeLessThan(5 * Math.sqrt((0.01 * 0.99) / all))
      // Exponential with mean p99 / ln(100): the sample mean is within 5 sd (sd = mean / sqrt(n)).
      const mean = p99Ms / Math.log(100)
      const sum = total(m, 'istio_request_duration_milliseconds_sum', match)
      expect(Math.abs(sum / all - mean)).toBeLessThan((5 * mean) / Math.sqrt(all))
      // Not the exact mode's quantiles: the buckets hold other counts.
      expect(bucketsOf(noisy)).not.toEqual(bucketsOf(exact))
      expect(new Set(bucketsOf(noisy)).size).toBeGreaterThan(5)
    }
  )

  it.each([
    ['NR', { greenSubset: false }],
    ['UH', { greenReady: false }]
  ] as const)('keeps failure flag %s under noise: 503s from the source only', (flag, o) => {
    const s = setup({ rps: 10, noise: 'poisson', seed: 7, ...o })
    setWeights(s.store, 50, 50)
    s.run(120_000)
    const failed = s.sim.state().flows[0]?.failures[flag] ?? 0
    expect(Math.abs(failed - 600)).toBeLessThan(5 * Math.sqrt(600))
    const m = parseMetrics(s.sim.metricsText())
    const flagged = select(m, 'istio_requests_total', { response_flags: flag })
    expect(flagged.map((x) => x.labels['reporter'])).toEqual(['source'])
    expect(flagged[0]?.labels).toMatchObject({
      response_code: '503',
      destination_workload: 'unknown'
    })
    expect(flagged[0]?.value).toBe(failed)
    expect(total(m, 'istio_request_duration_milliseconds_sum', { response_flags: flag })).toBe(0)
  })

  it('leaves noise "none" exact whatever the seed, and resumes exact counting after noise', () => {
    const plain = setup({ rps: 37 })
    const seeded = setup({ rps: 37, noise: 'none', seed: 99 })
    for (const s of [plain, seeded]) {
      s.behaviours.set(GREEN_IMAGE, { errorRate: 0.2 })
      setWeights(s.store, 70, 30)
      s.run(20_000)
    }
    expect(seeded.sim.metricsText()).toBe(plain.sim.metricsText())
    expect(seeded.sim.state()).toEqual({ ...plain.sim.state(), seed: 99 })

    const s = seeded
    s.sim.setTraffic({ rps: 37, noise: 'poisson', seed: 3 })
    s.run(10_000)
    s.sim.setTraffic({ rps: 37, noise: 'none', seed: 3 })
    const perSecond = perInterval(s, 10, 1000, () => s.sim.state().flows[0]?.requests ?? 0)
    expect(perSecond).toEqual(new Array<number>(10).fill(37))
  })

  it('refuses an unknown noise mode or a bad seed', () => {
    const s = setup()
    expect(() => s.sim.setTraffic({ rps: 1, noise: 'gauss' as NoiseMode, seed: 1 })).toThrow(
      /noise must be one of none, poisson/
    )
    expect(() => s.sim.setTraffic({ rps: 1, noise: 'poisson', seed: -1 })).toThrow(
      /seed must be a non-negative integer/
    )
    expect(s.sim.traffic).toEqual({ rps: 20, noise: 'none', seed: 1 })
  })
})

describe('mesh HTTP endpoints', () => {
  it('serves /metrics in the text format and /state as JSON', async () => {
    const store = new MemoryStore()
    seed(store)
    store.create(
      'pods',
      pod('reviews-blue', 0, { image: SEED_IMAGE, labels: { app: 'reviews', version: 'blue' } })
    )
    const mesh = await startMesh({ store, behaviours: new BehaviourRegistry(), rps: 50 })
    try {
      await new Promise((r) => setTimeout(r, 300))
      const res = await fetch(`${mesh.url}/metrics`)
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
      const text = await res.text()
      expect(text).toContain('# TYPE istio_requests_total counter')
      expect(text).toContain('# TYPE istio_request_duration_milliseconds histogram')
      expect(
        total(parseMetrics(text), 'istio_requests_total', dest('reviews-blue'))
      ).toBeGreaterThan(0)
      const state = (await (await fetch(`${mesh.url}/state`)).json()) as {
        rps: number
        flows: unknown[]
      }
      expect(state.rps).toBe(50)
      expect(state.flows).toHaveLength(1)
      expect((await fetch(`${mesh.url}/nope`)).status).toBe(404)
    } finally {
      await mesh.close()
    }
  })
})
