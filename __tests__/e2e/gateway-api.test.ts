/**
 * The Gateway API router end to end (issue 12's done-when): dist/index.js against a sandbox whose
 * service `reviews` is routed by an HTTPRoute with a Service parent (mesh) and one bare backendRef
 * to `reviews`: the first release promoted, a faulty one rolled back, on the real Prometheus. The
 * Gateway parent, the ambient waypoint, two HTTPRoutes, status, plan and drift run in-process
 * (__tests__/inprocess/gateway-api.test.ts).
 */
import { jest } from '@jest/globals'
import type { Sandbox } from '../../sandbox/index.js'
import type { KubeObject } from '../../sandbox/types.js'
import {
  control,
  deploymentState,
  expectExit,
  fastInputs,
  gatewayApiSandbox,
  httpRoute,
  kubeEnv,
  meshFailures,
  runAction,
  withSandbox
} from './harness.js'

jest.setTimeout(240_000)

const IMAGE = 'example.com/reviews:2.0.0'
/** An image answering 20% 5xx (as the faults suite's FAILING). */
const FAILING = 'example.com/reviews:2.0.1'

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
  it.concurrent(
    'promotes the first release from a bare backendRef: every step, no request dropped, color Services created',
    () =>
      withSandbox(gatewayApiSandbox, async (sb) => {
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
        expect((route.spec?.rules as Array<{ backendRefs: BackendRef[] }>)[0]?.backendRefs).toEqual(
          [
            { group: '', kind: 'Service', name: 'reviews-blue', port: 9080, weight: 0 },
            { group: '', kind: 'Service', name: 'reviews-green', port: 9080, weight: 100 }
          ]
        )
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
  )

  it.concurrent('rolls a faulty release back to the stable color', () =>
    withSandbox(gatewayApiSandbox, async (sb) => {
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
  )
})
