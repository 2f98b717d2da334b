/**
 * The Gateway API router end to end: dist/index.js against a sandbox whose service `reviews` is
 * routed by an HTTPRoute (one rule, one bare backendRef to `reviews`), with a Service parent
 * (mesh) or a Gateway parent, on sidecars or on ambient waypoints.
 */
import { jest } from '@jest/globals'
import type { Sandbox } from '../../sandbox/index.js'
import type { KubeObject } from '../../sandbox/types.js'
import { seedHttpRoute } from '../../sandbox/seed.js'
import {
  apiRequest,
  control,
  deploymentState,
  expectExit,
  fastInputs,
  gatewayApiSandbox,
  httpRoute,
  kubeEnv,
  meshFailures,
  readLease,
  runAction
} from './harness.js'

jest.setTimeout(240_000)

const IMAGE = 'example.com/reviews:2.0.0'
/** An image answering 20% 5xx (as the faults suite's FAILING). */
const FAILING = 'example.com/reviews:2.0.1'
const ROUTE_PATH = '/apis/gateway.networking.k8s.io/v1/namespaces/demo/httproutes/reviews'

interface BackendRef {
  name: string
  port?: number
  weight?: number
}

/** The backendRefs of the HTTPRoute's first rule as `name=weight`, in order. */
function refsOf(route: KubeObject | undefined): string {
  const rules = (route?.spec?.rules ?? []) as Array<{ backendRefs?: BackendRef[] }>
  return (rules[0]?.backendRefs ?? []).map((r) => `${r.name}=${r.weight ?? ''}`).join(',')
}

/** Every backendRef set the HTTPRoute `reviews` went through, in order. */
function recordRefs(sb: Sandbox): string[] {
  const history: string[] = []
  sb.api.store.onChange((e) => {
    if (e.resource !== 'httproutes' || e.object.metadata.name !== 'reviews') return
    const refs = refsOf(e.object)
    if (history[history.length - 1] !== refs) history.push(refs)
  })
  return history
}

function gatewayInputs(sb: Sandbox, extra: Record<string, string> = {}): Record<string, string> {
  return fastInputs(sb, { router: 'gateway-api', image: IMAGE, ...extra })
}

/** The per-color Service `reviews-<color>` as stored: its selector, ports and managed-by label. */
function colorService(sb: Sandbox, color: string): unknown {
  const s = sb.api.store.get('services', 'demo', `reviews-${color}`)
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
  let sb: Sandbox
  beforeEach(async () => {
    sb = await gatewayApiSandbox()
  })
  afterEach(async () => {
    await sb.stop()
  })

  it('promotes the first release from a bare backendRef: every step, no request dropped, color Services created', async () => {
    const history = recordRefs(sb)
    history.push(refsOf(httpRoute(sb)))
    const run = await runAction(gatewayInputs(sb), kubeEnv(sb))
    expectExit(run, 'success')
    expect(run.outputs).toMatchObject({
      result: 'promoted',
      'stable-color': 'green',
      'candidate-color': 'blue',
      weights: 'blue=0,green=100'
    })
    expect(history).toEqual(PROMOTED)
    // The bare backendRef was renamed in place: its port stays, the parentRefs are untouched.
    const route = httpRoute(sb) as KubeObject
    expect((route.spec?.rules as Array<{ backendRefs: BackendRef[] }>)[0]?.backendRefs).toEqual([
      { group: '', kind: 'Service', name: 'reviews-blue', port: 9080, weight: 0 },
      { group: '', kind: 'Service', name: 'reviews-green', port: 9080, weight: 100 }
    ])
    expect(route.spec?.parentRefs).toEqual([
      { group: '', kind: 'Service', name: 'reviews', port: 9080 }
    ])
    for (const color of ['blue', 'green']) {
      expect(colorService(sb, color)).toEqual({
        selector: { app: 'reviews', version: color },
        ports: PORTS,
        managedBy: 'istio-bluegreen'
      })
    }
    expect(run.log).toContain('created Service reviews-blue (selector app=reviews,version=blue')
    expect(meshFailures(sb)).toEqual({})
    expect(run.summary).toContain('green promoted')
  })

  it('rolls a faulty release back to the stable color', async () => {
    await control(sb, '/images', { image: FAILING, errorRate: 0.2 })
    const history = recordRefs(sb)
    const run = await runAction(
      gatewayInputs(sb, { image: FAILING, 'step-duration': '20s' }),
      kubeEnv(sb)
    )
    expectExit(run, 'failure')
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
    expect(deploymentState(sb, 'reviews-green')?.replicas).toBe(0)
    expect(meshFailures(sb)).toEqual({})
  })

  it('status and plan show the HTTPRoute weights', async () => {
    const idle = await runAction(
      { service: 'reviews', namespace: 'demo', router: 'gateway-api', command: 'status' },
      kubeEnv(sb)
    )
    expectExit(idle, 'success')
    expect(idle.outputs).toMatchObject({ result: 'idle', weights: 'blue=100,green=0' })

    const plan = await runAction(gatewayInputs(sb, { command: 'plan' }), kubeEnv(sb))
    expectExit(plan, 'success')
    expect(plan.log).toContain(
      'HTTPRoute reviews: #0 blue=100,green=0 (not adopted yet: the first release names the colors)'
    )

    const paused = await runAction(gatewayInputs(sb, { 'pause-at': '25' }), kubeEnv(sb))
    expectExit(paused, 'success')
    expect(paused.outputs).toMatchObject({ result: 'paused', weights: 'blue=75,green=25' })
    const st = await runAction(
      { service: 'reviews', namespace: 'demo', command: 'status' },
      kubeEnv(sb)
    )
    expectExit(st, 'success')
    expect(st.outputs).toMatchObject({ result: 'paused', weights: 'blue=75,green=25' })
    expect(st.log).toContain('service reviews in demo: weights blue=75,green=25')

    const promoted = await runAction(
      { service: 'reviews', namespace: 'demo', command: 'promote' },
      kubeEnv(sb)
    )
    expectExit(promoted, 'success')
    expect(refsOf(httpRoute(sb))).toBe('reviews-blue=0,reviews-green=100')
  })

  it('drift: an edit of the HTTPRoute weights mid-rollout pauses it, weights left as found', async () => {
    let fired = false
    const drifted = new Promise<void>((resolve, reject) => {
      sb.api.store.onChange((e) => {
        if (fired || e.resource !== 'httproutes') return
        if (refsOf(e.object) !== 'reviews-blue=75,reviews-green=25') return
        fired = true
        apiRequest(
          sb,
          'PATCH',
          `${ROUTE_PATH}?fieldManager=kubectl-edit`,
          [
            { op: 'replace', path: '/spec/rules/0/backendRefs/0/weight', value: 60 },
            { op: 'replace', path: '/spec/rules/0/backendRefs/1/weight', value: 40 }
          ],
          'application/json-patch+json'
        ).then((r) => {
          if (r.status !== 200) reject(new Error(`drift patch: ${r.status}`))
          else resolve()
        }, reject)
      })
    })
    const run = await runAction(gatewayInputs(sb, { 'step-duration': '6s' }), kubeEnv(sb))
    await drifted
    expectExit(run, 'failure')
    expect(run.outputs).toMatchObject({ result: 'paused', weights: 'blue=60,green=40' })
    expect(run.log).toContain(
      '::error::drift: the weights of HTTPRoute reviews are blue=60,green=40, not blue=75,green=25 as this rollout last wrote them; last changed by kubectl-edit (Update at '
    )
    expect(refsOf(httpRoute(sb))).toBe('reviews-blue=60,reviews-green=40')
    expect(readLease(sb)?.record?.phase).toBe('paused')

    const rb = await runAction(
      { service: 'reviews', namespace: 'demo', command: 'rollback' },
      kubeEnv(sb)
    )
    expectExit(rb, 'success')
    expect(refsOf(httpRoute(sb))).toBe('reviews-blue=100,reviews-green=0')
  })
})

describe('router gateway-api: a Gateway parent, an ambient data plane', () => {
  let sb: Sandbox
  afterEach(async () => {
    await sb.stop()
  })

  it('promotes through an HTTPRoute attached to a Gateway', async () => {
    sb = await gatewayApiSandbox({ parent: 'gateway' })
    const history = recordRefs(sb)
    history.push(refsOf(httpRoute(sb)))
    const run = await runAction(gatewayInputs(sb), kubeEnv(sb))
    expectExit(run, 'success')
    expect(run.outputs).toMatchObject({ result: 'promoted', weights: 'blue=0,green=100' })
    expect(history).toEqual(PROMOTED)
    expect(httpRoute(sb)?.spec?.parentRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'edge' }
    ])
    expect(meshFailures(sb)).toEqual({})
  })

  it('reporter waypoint: an ambient namespace is promoted on the waypoint metrics', async () => {
    sb = await gatewayApiSandbox({ dataPlane: 'ambient' })
    const run = await runAction(gatewayInputs(sb, { reporter: 'waypoint' }), kubeEnv(sb))
    expectExit(run, 'success')
    expect(run.outputs).toMatchObject({ result: 'promoted', weights: 'blue=0,green=100' })
    expect(run.log).toContain('reporter="waypoint"')
    expect(Number(run.outputs['error-rate'])).toBeLessThan(0.01)
    expect(meshFailures(sb)).toEqual({})
  })

  it('shifts two HTTPRoutes of one service (mesh and Gateway parents) alike at every step', async () => {
    sb = await gatewayApiSandbox()
    const edge = seedHttpRoute('gateway')
    sb.api.store.create('httproutes', {
      ...edge,
      metadata: { ...edge.metadata, name: 'reviews-edge' }
    })
    const histories: Record<string, string[]> = { reviews: [], 'reviews-edge': [] }
    sb.api.store.onChange((e) => {
      const h = e.resource === 'httproutes' ? histories[e.object.metadata.name] : undefined
      const refs = refsOf(e.object)
      if (h && h[h.length - 1] !== refs) h.push(refs)
    })
    const run = await runAction(
      gatewayInputs(sb, { 'http-route': 'reviews,reviews-edge' }),
      kubeEnv(sb)
    )
    expectExit(run, 'success')
    expect(run.outputs).toMatchObject({ result: 'promoted', weights: 'blue=0,green=100' })
    expect(histories.reviews).toEqual(PROMOTED.slice(1))
    expect(histories['reviews-edge']).toEqual(PROMOTED.slice(1))
    expect(Object.keys(readLease(sb)?.record?.routerVersions ?? {})).toEqual([
      'reviews',
      'reviews-edge'
    ])
    expect(meshFailures(sb)).toEqual({})
  })
})
