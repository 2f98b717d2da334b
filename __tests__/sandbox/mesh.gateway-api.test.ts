/**
 * The mesh simulator routing Gateway API HTTPRoutes (Service and Gateway parents, relative
 * backendRef weights, the Gateway API's match precedence) and header matches of both routers;
 * probes with headers; metrics as sidecars and ambient waypoints report them.
 */
import { BehaviourRegistry, type KubeObject } from '../../sandbox/types.js'
import { MeshSimulator, type NoiseMode } from '../../sandbox/mesh/simulator.js'
import { rankMatches, firstMatching, requestShape } from '../../sandbox/mesh/matching.js'
import { seed, seedHttpRoute, SEED_IMAGE, type SeedOptions } from '../../sandbox/seed.js'
import { MemoryStore, pod } from './memoryStore.js'
import { parseMetrics, select, total } from './promtext.js'

const GREEN_IMAGE = 'example.com/reviews:2.0.0'

class FakeClock {
  t = 1_000_000
  now(): number {
    return this.t
  }
}

function colorService(color: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `reviews-${color}`, namespace: 'demo' },
    spec: { selector: { app: 'reviews', version: color }, ports: [{ name: 'http', port: 9080 }] }
  }
}

function setup(o: SeedOptions & { noise?: NoiseMode; seed?: number; rps?: number } = {}) {
  const store = new MemoryStore()
  seed(store, {
    router: o.router ?? 'http-route-mesh',
    ...(o.dataPlane ? { dataPlane: o.dataPlane } : {})
  })
  const sidecar = (o.dataPlane ?? 'sidecar') === 'sidecar'
  for (const [color, image] of [
    ['blue', SEED_IMAGE],
    ['green', GREEN_IMAGE]
  ] as const) {
    for (let i = 0; i < 3; i++) {
      store.create(
        'pods',
        pod(`reviews-${color}`, i, {
          image,
          labels: { app: 'reviews', version: color },
          ...(sidecar ? {} : { sidecar: false })
        })
      )
    }
    store.create('services', colorService(color))
  }
  const behaviours = new BehaviourRegistry()
  const clock = new FakeClock()
  const sim = new MeshSimulator({
    store,
    behaviours,
    clock,
    rps: o.rps ?? 100,
    ...(o.noise ? { noise: o.noise } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {})
  })
  return {
    store,
    sim,
    run(ms: number) {
      for (let t = 0; t < ms; t += 100) {
        clock.t += 100
        sim.tick()
      }
    }
  }
}

type Store = ReturnType<typeof setup>['store']

function setRules(store: Store, rules: unknown[], name = 'reviews'): void {
  const hr = store.get('httproutes', 'demo', name) as KubeObject
  hr.spec = { ...hr.spec, rules }
  store.replace('httproutes', hr)
}

const backend = (color: string, weight?: number) => ({
  name: `reviews-${color}`,
  port: 9080,
  ...(weight !== undefined ? { weight } : {})
})
const HEADER_RULE = {
  name: 'canary-header',
  matches: [{ headers: [{ type: 'Exact', name: 'x-canary', value: 'true' }] }],
  backendRefs: [backend('green')]
}

describe('HTTPRoute routing', () => {
  it('sends a bare backendRef to the service itself to its ready pods', () => {
    const s = setup()
    s.run(1000)
    const flow = s.sim.state().flows[0]
    expect(flow).toMatchObject({
      id: 'httproute/service:demo/reviews',
      config: { kind: 'HTTPRoute', namespace: 'demo', name: 'reviews' },
      client: 'mesh',
      target: { namespace: 'demo', name: 'reviews' },
      route: { index: 0, name: null },
      requests: 100
    })
    // The service's selector is app=reviews: both colors' pods, evenly.
    expect(s.sim.state().workloads).toEqual({
      'demo/reviews-blue': { requests: 50, errors: 0 },
      'demo/reviews-green': { requests: 50, errors: 0 }
    })
  })

  it.each([
    ['90/10', [backend('blue', 90), backend('green', 10)], 900, 100],
    ['relative, not percent: 3 and 1', [backend('blue', 3), backend('green', 1)], 750, 250],
    ['weight 0 gets nothing', [backend('blue', 1), backend('green', 0)], 1000, 0],
    ['default weight 1 each', [backend('blue'), backend('green')], 500, 500],
    ['one backend at weight 7 takes everything', [backend('green', 7)], 0, 1000]
  ])('splits by backendRef weights exactly: %s', (_what, refs, blue, green) => {
    const s = setup()
    setRules(s.store, [{ backendRefs: refs }])
    s.run(10_000)
    const w = s.sim.state().workloads
    expect(w['demo/reviews-blue']?.requests ?? 0).toBe(blue)
    expect(w['demo/reviews-green']?.requests ?? 0).toBe(green)
  })

  it('splits 75/25 by Poisson draws within 4 sd, and replays the seed', () => {
    const counts = (seedValue: number) => {
      const s = setup({ noise: 'poisson', seed: seedValue })
      setRules(s.store, [{ backendRefs: [backend('blue', 300), backend('green', 100)] }])
      s.run(20_000)
      const w = s.sim.state().workloads
      return [w['demo/reviews-blue']?.requests ?? 0, w['demo/reviews-green']?.requests ?? 0]
    }
    const [blue = 0, green = 0] = counts(7)
    const n = blue + green
    const sd = Math.sqrt(n * 0.25 * 0.75)
    expect(Math.abs(green - n * 0.25)).toBeLessThan(4 * sd)
    expect(counts(7)).toEqual([blue, green])
    expect(counts(8)).not.toEqual([blue, green])
  })

  it.each([
    ['all weights 0', [backend('blue', 0), backend('green', 0)], { '500': 1000 }],
    [
      'a backendRef to a missing Service gets its share as 500',
      [backend('blue', 1), backend('purple', 1)],
      { '500': 500 }
    ]
  ])('answers %s', (_what, refs, failed) => {
    const s = setup()
    setRules(s.store, [{ backendRefs: refs }])
    const r = s.sim.probe({ namespace: 'demo', service: 'reviews', count: 1000 })
    expect(r.failed).toEqual(failed)
  })

  it('routes a Gateway parent from the gateway workload, reported by source and destination', () => {
    const s = setup({ router: 'http-route-gateway' })
    setRules(s.store, [{ backendRefs: [backend('blue', 9), backend('green', 1)] }])
    s.run(1000)
    const flow = s.sim.state().flows[0]
    expect(flow).toMatchObject({
      id: 'httproute/gateway:demo/edge',
      client: 'gateway',
      target: null
    })
    const m = parseMetrics(s.sim.metricsText())
    const green = { destination_workload: 'reviews-green', source_workload: 'edge-istio' }
    expect(total(m, 'istio_requests_total', { ...green, reporter: 'source' })).toBe(10)
    expect(total(m, 'istio_requests_total', { ...green, reporter: 'destination' })).toBe(10)
  })

  it('refuses a Service routed by both a VirtualService and an HTTPRoute, and says why', () => {
    const s = setup()
    seed(s.store) // adds the VirtualService and DestinationRule beside the HTTPRoute
    s.run(1000)
    const flows = s.sim.state().flows
    expect(flows.map((f) => f.id)).toEqual(['demo/reviews', 'httproute/service:demo/reviews'])
    for (const f of flows) {
      expect(f.requests).toBe(0)
      expect(f.conflict).toMatch(
        /routed by VirtualService reviews and by HTTPRoute reviews.*delete one/
      )
    }
    expect(() => s.sim.probe({ namespace: 'demo', service: 'reviews', count: 1 })).toThrow(
      /routed by VirtualService reviews and by HTTPRoute reviews/
    )
  })
})

describe('header matches', () => {
  it('HTTPRoute: background traffic never reaches a header-only rule; probes with the header do', () => {
    const s = setup()
    setRules(s.store, [
      HEADER_RULE,
      { name: 'primary', backendRefs: [backend('blue', 1), backend('green', 0)] }
    ])
    s.run(5000)
    expect(s.sim.state().flows[0]?.route).toEqual({ index: 1, name: 'primary' })
    expect(s.sim.state().workloads).toEqual({ 'demo/reviews-blue': { requests: 500, errors: 0 } })
    const canary = s.sim.probe({
      namespace: 'demo',
      service: 'reviews',
      headers: { 'X-Canary': 'true' },
      count: 40
    })
    expect(canary).toEqual({
      flow: 'httproute/service:demo/reviews',
      route: { kind: 'HTTPRoute', name: 'reviews', index: 0, ruleName: 'canary-header' },
      workloads: { 'demo/reviews-green': { requests: 40, errors: 0 } },
      failed: {}
    })
    const other = s.sim.probe({
      namespace: 'demo',
      service: 'reviews',
      headers: { 'x-canary': 'false' },
      count: 10
    })
    expect(other.workloads).toEqual({ 'demo/reviews-blue': { requests: 10, errors: 0 } })
  })

  it('HTTPRoute: the header rule wins over the catch-all whatever the rule order (precedence)', () => {
    const s = setup()
    setRules(s.store, [{ name: 'primary', backendRefs: [backend('blue')] }, HEADER_RULE])
    const r = s.sim.probe({
      namespace: 'demo',
      service: 'reviews',
      headers: { 'x-canary': 'true' },
      count: 5
    })
    expect(r.route?.ruleName).toBe('canary-header')
    expect(r.workloads).toEqual({ 'demo/reviews-green': { requests: 5, errors: 0 } })
  })

  it('HTTPRoute: a header-only route with no catch-all answers the background 404 NR', () => {
    const s = setup()
    setRules(s.store, [HEADER_RULE])
    s.run(1000)
    const flow = s.sim.state().flows[0]
    expect(flow?.route).toEqual({ index: -1, name: null })
    expect(flow?.failures.NR).toBe(100)
    expect(s.sim.state().workloads).toEqual({})
  })

  it('VirtualService: headers {x-canary: {exact: "true"}} before the weighted route', () => {
    const s = setup({ router: 'virtual-service' })
    const dr = s.store.get('destinationrules', 'demo', 'reviews') as KubeObject
    dr.spec = {
      host: 'reviews',
      subsets: [
        { name: 'blue', labels: { version: 'blue' } },
        { name: 'green', labels: { version: 'green' } }
      ]
    }
    s.store.replace('destinationrules', dr)
    const vs = s.store.get('virtualservices', 'demo', 'reviews') as KubeObject
    vs.spec = {
      hosts: ['reviews'],
      http: [
        {
          name: 'canary-header',
          match: [{ headers: { 'x-canary': { exact: 'true' } } }],
          route: [{ destination: { host: 'reviews', subset: 'green' } }]
        },
        {
          name: 'primary',
          route: [
            { destination: { host: 'reviews', subset: 'blue' }, weight: 100 },
            { destination: { host: 'reviews', subset: 'green' }, weight: 0 }
          ]
        }
      ]
    }
    s.store.replace('virtualservices', vs)
    s.run(5000)
    expect(s.sim.state().workloads).toEqual({ 'demo/reviews-blue': { requests: 500, errors: 0 } })
    const canary = s.sim.probe({
      namespace: 'demo',
      service: 'reviews',
      headers: { 'x-canary': 'true' },
      count: 30
    })
    expect(canary.route).toEqual({
      kind: 'VirtualService',
      name: 'reviews',
      index: 0,
      ruleName: 'canary-header'
    })
    expect(canary.workloads).toEqual({ 'demo/reviews-green': { requests: 30, errors: 0 } })
    const wrong = s.sim.probe({
      namespace: 'demo',
      service: 'reviews',
      headers: { 'x-canary': 'TRUE' },
      count: 10
    })
    expect(wrong.workloads).toEqual({ 'demo/reviews-blue': { requests: 10, errors: 0 } })
  })
})

describe('Gateway API match precedence', () => {
  const entry = (match: unknown, id: string, ruleIndex = 0, created = '2026-01-01T00:00:00Z') => ({
    match,
    target: id,
    route: { created, id: `demo/${id}` },
    ruleIndex,
    matchIndex: 0
  })
  it.each([
    [
      'exact path beats a longer prefix',
      '/api',
      [
        entry({ path: { type: 'PathPrefix', value: '/api' } }, 'prefix'),
        entry({ path: { type: 'Exact', value: '/api' } }, 'exact')
      ],
      'exact'
    ],
    [
      'the longest prefix wins',
      '/api/v1',
      [
        entry({ path: { type: 'PathPrefix', value: '/' } }, 'root'),
        entry({ path: { type: 'PathPrefix', value: '/api' } }, 'api')
      ],
      'api'
    ],
    [
      'a prefix matches whole path elements only',
      '/apiv2',
      [
        entry({ path: { type: 'PathPrefix', value: '/api' } }, 'api'),
        entry({ path: { type: 'PathPrefix', value: '/' } }, 'root')
      ],
      'root'
    ],
    [
      'method beats headers',
      '/',
      [
        entry({ headers: [{ name: 'a', value: '1' }] }, 'header'),
        entry({ method: 'GET' }, 'method')
      ],
      'method'
    ],
    [
      'more headers win',
      '/',
      [
        entry({ headers: [{ name: 'a', value: '1' }] }, 'one'),
        entry(
          {
            headers: [
              { name: 'a', value: '1' },
              { name: 'b', value: '2' }
            ]
          },
          'two'
        )
      ],
      'two'
    ],
    [
      'on a tie the oldest route wins',
      '/',
      [entry({}, 'young', 0, '2026-02-01T00:00:00Z'), entry({}, 'old', 0, '2026-01-01T00:00:00Z')],
      'old'
    ]
  ])('%s', (_what, path, entries, winner) => {
    const r = requestShape({ path, headers: { a: '1', b: '2' } })
    expect(firstMatching(rankMatches(entries), r)?.target).toBe(winner)
  })
})

describe('metrics for HTTPRoute traffic', () => {
  it('sidecars: source and destination series with the backend Service and workload', () => {
    const s = setup()
    setRules(s.store, [{ backendRefs: [backend('blue', 1), backend('green', 1)] }])
    s.run(1000)
    const m = parseMetrics(s.sim.metricsText())
    for (const reporter of ['source', 'destination']) {
      const series = select(m, 'istio_requests_total', {
        reporter,
        destination_workload: 'reviews-green'
      })
      expect(series).toHaveLength(1)
      expect(series[0]?.labels).toMatchObject({
        destination_service: 'reviews-green.demo.svc.cluster.local',
        destination_service_name: 'reviews-green',
        destination_service_namespace: 'demo',
        destination_version: 'green',
        source_workload: 'loadgenerator'
      })
      expect(series[0]?.value).toBe(50)
    }
    expect(select(m, 'istio_requests_total', { reporter: 'waypoint' })).toEqual([])
  })

  it('ambient with a waypoint: only reporter="waypoint", requests and duration buckets', () => {
    const s = setup({ dataPlane: 'ambient' })
    setRules(s.store, [{ backendRefs: [backend('blue', 3), backend('green', 1)] }])
    s.run(2000)
    const m = parseMetrics(s.sim.metricsText())
    expect(new Set(select(m, 'istio_requests_total', {}).map((x) => x.labels.reporter))).toEqual(
      new Set(['waypoint'])
    )
    expect(
      total(m, 'istio_requests_total', {
        reporter: 'waypoint',
        destination_workload: 'reviews-green'
      })
    ).toBe(50)
    expect(
      total(m, 'istio_requests_total', {
        reporter: 'waypoint',
        destination_workload: 'reviews-blue'
      })
    ).toBe(150)
    const inf = select(m, 'istio_request_duration_milliseconds_bucket', {
      reporter: 'waypoint',
      destination_workload: 'reviews-green',
      le: '+Inf'
    })
    expect(inf.map((x) => x.value)).toEqual([50])
    expect(inf[0]?.labels.destination_service_name).toBe('reviews-green')
    expect(s.sim.state().flows[0]?.telemetry).toBe('waypoint')
  })

  it('ambient without a waypoint label reports no HTTP metrics from the server side', () => {
    const s = setup({ dataPlane: 'ambient' })
    const ns = s.store.get('namespaces', undefined, 'demo') as KubeObject
    ns.metadata.labels = { 'istio.io/dataplane-mode': 'ambient' }
    s.store.replace('namespaces', ns)
    s.run(1000)
    const m = parseMetrics(s.sim.metricsText())
    expect(select(m, 'istio_requests_total', { reporter: 'waypoint' })).toEqual([])
    expect(select(m, 'istio_requests_total', { reporter: 'destination' })).toEqual([])
  })
})

describe('seeds', () => {
  it.each([
    ['mesh', { group: '', kind: 'Service', name: 'reviews', port: 9080 }],
    ['gateway', { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'edge' }]
  ] as const)('seeds an HTTPRoute with a %s parent and one bare backendRef', (parent, ref) => {
    const hr = seedHttpRoute(parent)
    expect(hr.spec?.['parentRefs']).toEqual([ref])
    expect(hr.spec?.['rules']).toEqual([{ backendRefs: [{ name: 'reviews', port: 9080 }] }])
    const store = new MemoryStore()
    seed(store, { router: parent === 'mesh' ? 'http-route-mesh' : 'http-route-gateway' })
    expect(store.list('virtualservices')).toEqual([])
    expect(store.list('httproutes')).toHaveLength(1)
  })
})
