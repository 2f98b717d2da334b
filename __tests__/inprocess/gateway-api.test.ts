/**
 * The Gateway API router in-process: a world whose service `reviews` is routed by an HTTPRoute
 * (one rule, one bare backendRef to `reviews`), with a Service parent (mesh) or a Gateway parent,
 * on sidecars or on ambient waypoints. (Moved from __tests__/e2e/gateway-api.test.ts, which keeps
 * the first-release promotion and the rollback of a faulty release through dist/index.js on the
 * real Prometheus.)
 */
import type { KubeObject } from '../../sandbox/types.js'
import { seedHttpRoute, type SeedOptions } from '../../sandbox/seed.js'
import { deploymentState, httpRoute, meshFailures, readLease } from '../fixtures/cluster.js'
import { expectRun, release, World } from './world.js'

const IMAGE = 'example.com/reviews:2.0.0'
/** An image answering 20% 5xx. */
const FAILING = 'example.com/reviews:2.0.1'
const ROUTE_PATH = '/apis/gateway.networking.k8s.io/v1/namespaces/demo/httproutes/reviews'

interface BackendRef {
  name: string
  port?: number
  weight?: number
}

let world: World | undefined
afterEach(() => {
  world?.close()
  world = undefined
})

async function gatewayWorld(seed: SeedOptions = { router: 'http-route-mesh' }): Promise<World> {
  world = await World.create({ seed })
  return world
}

/** The backendRefs of the HTTPRoute's first rule as `name=weight`, in order. */
function refsOf(route: KubeObject | undefined): string {
  const rules = (route?.spec?.rules ?? []) as Array<{ backendRefs?: BackendRef[] }>
  return (rules[0]?.backendRefs ?? []).map((r) => `${r.name}=${r.weight ?? ''}`).join(',')
}

/** Every backendRef set the HTTPRoute `reviews` went through, in order. */
function recordRefs(w: World): string[] {
  const history: string[] = []
  w.store.onChange((e) => {
    if (e.resource !== 'httproutes' || e.object.metadata.name !== 'reviews') return
    const refs = refsOf(e.object)
    if (history[history.length - 1] !== refs) history.push(refs)
  })
  return history
}

function gatewayInputs(extra: Record<string, string> = {}): Record<string, string> {
  return release({ router: 'gateway-api', image: IMAGE, ...extra })
}

/** The per-color Service `reviews-<color>` as stored: its selector, ports and managed-by label. */
function colorService(w: World, color: string): unknown {
  const s = w.store.get('services', 'demo', `reviews-${color}`)
  if (!s) return undefined
  return {
    selector: s.spec?.selector,
    ports: s.spec?.ports,
    managedBy: s.metadata.labels?.['app.kubernetes.io/managed-by']
  }
}

const PORTS = [{ name: 'http', port: 9080, targetPort: 9080, protocol: 'TCP' }]
const PROMOTED = [
  'reviews=',
  'reviews-blue=100,reviews-green=0',
  'reviews-blue=90,reviews-green=10',
  'reviews-blue=75,reviews-green=25',
  'reviews-blue=50,reviews-green=50',
  'reviews-blue=0,reviews-green=100'
]

describe('router gateway-api, Service parent (mesh)', () => {
  it('promotes the first release from a bare backendRef: every step, no request dropped, color Services created', async () => {
    const w = await gatewayWorld()
    const history = recordRefs(w)
    history.push(refsOf(httpRoute(w)))
    const run = await w.run(gatewayInputs())
    expectRun(run, 'success')
    expect(run.outputs).toMatchObject({
      result: 'promoted',
      'stable-color': 'green',
      'candidate-color': 'blue',
      weights: 'blue=0,green=100'
    })
    expect(history).toEqual(PROMOTED)
    // The bare backendRef was renamed in place: its port stays, the parentRefs are untouched.
    const route = httpRoute(w) as KubeObject
    expect((route.spec?.rules as Array<{ backendRefs: BackendRef[] }>)[0]?.backendRefs).toEqual([
      { group: '', kind: 'Service', name: 'reviews-blue', port: 9080, weight: 0 },
      { group: '', kind: 'Service', name: 'reviews-green', port: 9080, weight: 100 }
    ])
    expect(route.spec?.parentRefs).toEqual([
      { group: '', kind: 'Service', name: 'reviews', port: 9080 }
    ])
    for (const color of ['blue', 'green']) {
      expect(colorService(w, color)).toEqual({
        selector: { app: 'reviews', version: color },
        ports: PORTS,
        managedBy: 'istio-bluegreen'
      })
    }
    expect(run.log).toContain('created Service reviews-blue (selector app=reviews,version=blue')
    expect(meshFailures(w)).toEqual({})
    expect(run.summary).toContain('green promoted')
  })

  it('rolls a faulty release back to the stable color', async () => {
    const w = await gatewayWorld()
    w.image(FAILING, { errorRate: 0.2 })
    const history = recordRefs(w)
    const run = await w.run(gatewayInputs({ image: FAILING }))
    expectRun(run, 'failure')
    expect(run.outputs).toMatchObject({
      result: 'rolled-back',
      'stable-color': 'blue',
      weights: 'blue=100,green=0'
    })
    expect(history).toEqual([
      'reviews-blue=100,reviews-green=0',
      'reviews-blue=90,reviews-green=10',
      'reviews-blue=100,reviews-green=0'
    ])
    expect(deploymentState(w, 'reviews-green')?.replicas).toBe(0)
    expect(meshFailures(w)).toEqual({})
  })

  it('status and plan show the HTTPRoute weights', async () => {
    const w = await gatewayWorld()
    const idle = await w.run({
      service: 'reviews',
      namespace: 'demo',
      router: 'gateway-api',
      command: 'status'
    })
    expectRun(idle, 'success')
    expect(idle.outputs).toMatchObject({ result: 'idle', weights: 'blue=100,green=0' })

    const plan = await w.run(gatewayInputs({ command: 'plan' }))
    expectRun(plan, 'success')
    expect(plan.log).toContain(
      'HTTPRoute reviews: #0 blue=100,green=0 (not adopted yet: the first release names the colors)'
    )

    const paused = await w.run(gatewayInputs({ 'pause-at': '25' }))
    expectRun(paused, 'success')
    expect(paused.outputs).toMatchObject({ result: 'paused', weights: 'blue=75,green=25' })
    const st = await w.run({ service: 'reviews', namespace: 'demo', command: 'status' })
    expectRun(st, 'success')
    expect(st.outputs).toMatchObject({ result: 'paused', weights: 'blue=75,green=25' })
    expect(st.log).toContain('service reviews in demo: weights blue=75,green=25')

    const promoted = await w.run({ service: 'reviews', namespace: 'demo', command: 'promote' })
    expectRun(promoted, 'success')
    expect(refsOf(httpRoute(w))).toBe('reviews-blue=0,reviews-green=100')
  })

  it('drift: an edit of the HTTPRoute weights mid-rollout pauses it, weights left as found', async () => {
    const w = await gatewayWorld()
    let fired = false
    let landed = false
    w.store.onChange((e) => {
      if (fired || e.resource !== 'httproutes') return
      if (refsOf(e.object) !== 'reviews-blue=75,reviews-green=25') return
      fired = true
      // A person edits the weights 5 s later, between two checks.
      w.time.setTimeout(() => {
        void w.api
          .call({
            method: 'PATCH',
            url: `${ROUTE_PATH}?fieldManager=kubectl-edit`,
            body: JSON.stringify([
              { op: 'replace', path: '/spec/rules/0/backendRefs/0/weight', value: 60 },
              { op: 'replace', path: '/spec/rules/0/backendRefs/1/weight', value: 40 }
            ]),
            contentType: 'application/json-patch+json'
          })
          .then((o) => (landed = o.kind === 'answer' && o.answer.code === 200))
      }, 5000)
    })
    const run = await w.run(gatewayInputs())
    expect(landed).toBe(true)
    expectRun(run, 'failure')
    expect(run.outputs).toMatchObject({ result: 'paused', weights: 'blue=60,green=40' })
    expect(run.failure).toMatch(
      /^drift: the weights of HTTPRoute reviews are blue=60,green=40, not blue=75,green=25 as this rollout last wrote them; last changed by kubectl-edit \(Update at /
    )
    expect(refsOf(httpRoute(w))).toBe('reviews-blue=60,reviews-green=40')
    expect(readLease(w)?.record?.phase).toBe('paused')

    const rb = await w.run({ service: 'reviews', namespace: 'demo', command: 'rollback' })
    expectRun(rb, 'success')
    expect(refsOf(httpRoute(w))).toBe('reviews-blue=100,reviews-green=0')
  })
})

describe('router gateway-api: a Gateway parent, an ambient data plane', () => {
  it('promotes through an HTTPRoute attached to a Gateway', async () => {
    const w = await gatewayWorld({ router: 'http-route-gateway' })
    const history = recordRefs(w)
    history.push(refsOf(httpRoute(w)))
    const run = await w.run(gatewayInputs())
    expectRun(run, 'success')
    expect(run.outputs).toMatchObject({ result: 'promoted', weights: 'blue=0,green=100' })
    expect(history).toEqual(PROMOTED)
    expect(httpRoute(w)?.spec?.parentRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'edge' }
    ])
    expect(meshFailures(w)).toEqual({})
  })

  it('reporter waypoint: an ambient namespace is promoted on the waypoint metrics', async () => {
    const w = await gatewayWorld({ router: 'http-route-mesh', dataPlane: 'ambient' })
    const run = await w.run(gatewayInputs({ reporter: 'waypoint' }))
    expectRun(run, 'success')
    expect(run.outputs).toMatchObject({ result: 'promoted', weights: 'blue=0,green=100' })
    expect(run.log).toContain('reporter="waypoint"')
    expect(Number(run.outputs['error-rate'])).toBeLessThan(0.01)
    // Every check read the waypoint's series, and found the candidate's requests there.
    expect(readLease(w)?.record?.checks.at(-1)?.requests).toBeGreaterThan(0)
    expect(meshFailures(w)).toEqual({})
  })

  it('shifts two HTTPRoutes of one service (mesh and Gateway parents) alike at every step', async () => {
    const w = await gatewayWorld()
    const edge = seedHttpRoute('gateway')
    w.store.create('httproutes', { ...edge, metadata: { ...edge.metadata, name: 'reviews-edge' } })
    const histories: Record<string, string[]> = { reviews: [], 'reviews-edge': [] }
    w.store.onChange((e) => {
      const h = e.resource === 'httproutes' ? histories[e.object.metadata.name] : undefined
      const refs = refsOf(e.object)
      if (h && h[h.length - 1] !== refs) h.push(refs)
    })
    const run = await w.run(gatewayInputs({ 'http-route': 'reviews,reviews-edge' }))
    expectRun(run, 'success')
    expect(run.outputs).toMatchObject({ result: 'promoted', weights: 'blue=0,green=100' })
    expect(histories.reviews).toEqual(PROMOTED.slice(1))
    expect(histories['reviews-edge']).toEqual(PROMOTED.slice(1))
    expect(Object.keys(readLease(w)?.record?.routerVersions ?? {})).toEqual([
      'reviews',
      'reviews-edge'
    ])
    expect(meshFailures(w)).toEqual({})
  })
})
