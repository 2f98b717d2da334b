/**
 * A service reached two ways, from the mesh (VirtualService `reviews`) and through the ingress
 * gateway (VirtualService `reviews-edge`), shifted as one with `virtual-service: reviews,
 * reviews-edge`: both objects get the same weights at every step, after a rollback, and after the
 * recovery of a runner killed between the two writes of one step.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals'
import type { Sandbox } from '../../sandbox/index.js'
import type { KubeObject } from '../../sandbox/types.js'
import {
  control,
  expectExit,
  fastInputs,
  formatWeights,
  kubeEnv,
  meshFailures,
  readLease,
  runAction,
  sandbox,
  waitForLockExpiry,
  weightsOf
} from './harness.js'

jest.setTimeout(180_000)

const HEALTHY = 'example.com/reviews:2.0.0'
const FAILING = 'example.com/reviews:2.0.1'
const OBJECTS = ['reviews', 'reviews-edge'] as const
const PLAN = ['blue=90,green=10', 'blue=75,green=25', 'blue=50,green=50', 'blue=0,green=100']

/** The ingress side: the same service, bound to the `edge` gateway under a public host name. */
const EDGE: KubeObject = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'reviews-edge', namespace: 'demo' },
  spec: {
    hosts: ['reviews.example.com'],
    gateways: ['edge'],
    http: [
      {
        name: 'public',
        timeout: '10s',
        route: [{ destination: { host: 'reviews', subset: 'blue' }, weight: 100 }]
      }
    ]
  }
}

let sb: Sandbox | undefined
afterEach(async () => {
  await sb?.stop()
  sb = undefined
})

async function twoWaySandbox(): Promise<Sandbox> {
  const s = await sandbox()
  s.api.store.create('virtualservices', structuredClone(EDGE))
  return s
}

function weights(s: Sandbox, name: string): string {
  const [route] = weightsOf(s.api.store.get('virtualservices', 'demo', name))
  return route ? formatWeights(route) : 'no route'
}

/** Every weight change of either object, in order, as `name blue=…,green=…`. */
function recordWeightChanges(s: Sandbox): string[] {
  const changes: string[] = []
  const last = new Map(OBJECTS.map((n) => [n, weights(s, n)]))
  s.api.store.onChange((e) => {
    if (e.resource !== 'virtualservices' || e.type !== 'MODIFIED') return
    const name = e.object.metadata.name
    const [route] = weightsOf(e.object)
    const now = route ? formatWeights(route) : 'no route'
    if (last.get(name as (typeof OBJECTS)[number]) === now) return
    last.set(name as (typeof OBJECTS)[number], now)
    changes.push(`${name} ${now}`)
  })
  return changes
}

/** Each weight written to `reviews` first and to `reviews-edge` right after it. */
const inPairs = (plan: readonly string[]): string[] =>
  plan.flatMap((w) => OBJECTS.map((name) => `${name} ${w}`))

const env = (s: Sandbox, runId: string): Record<string, string> => ({
  ...kubeEnv(s),
  GITHUB_REPOSITORY: 'acme/shop',
  GITHUB_RUN_ID: runId,
  GITHUB_ACTOR: 'octocat'
})

describe('virtual-service: reviews,reviews-edge', () => {
  it('a healthy image: both objects take every step together and end on the candidate', async () => {
    sb = await twoWaySandbox()
    const changes = recordWeightChanges(sb)
    const run = await runAction(
      fastInputs(sb, { image: HEALTHY, 'virtual-service': OBJECTS.join(',') }),
      kubeEnv(sb)
    )
    expectExit(run, 'success')
    expect(run.outputs.result).toBe('promoted')
    expect(changes).toEqual(inPairs(PLAN))
    // The edge object kept what the action does not own.
    const edge = sb.api.store.get('virtualservices', 'demo', 'reviews-edge') as KubeObject
    expect(edge.spec?.gateways).toEqual(['edge'])
    expect((edge.spec?.http as Array<{ timeout?: string }>)[0]?.timeout).toBe('10s')
    expect(readLease(sb)?.record).toMatchObject({
      phase: 'promoted',
      routerVersions: {
        reviews: sb.api.store.get('virtualservices', 'demo', 'reviews')?.metadata.resourceVersion,
        'reviews-edge': edge.metadata.resourceVersion
      }
    })
    expect(meshFailures(sb)).toEqual({})
  })

  it('a 20%-5xx image: both objects are back on the stable color after the rollback', async () => {
    sb = await twoWaySandbox()
    await control(sb, '/images', { image: FAILING, errorRate: 0.2 })
    const changes = recordWeightChanges(sb)
    const run = await runAction(
      fastInputs(sb, { image: FAILING, 'virtual-service': OBJECTS.join(',') }),
      kubeEnv(sb)
    )
    expectExit(run, 'failure')
    expect(run.outputs.result).toBe('rolled-back')
    // Some prefix of the plan on both, then both back to the stable color.
    const steps = changes.length / 2 - 1
    expect(steps).toBeGreaterThanOrEqual(1)
    expect(changes).toEqual(inPairs([...PLAN.slice(0, steps), 'blue=100,green=0']))
    for (const name of OBJECTS) expect(weights(sb, name)).toBe('blue=100,green=0')
    expect(meshFailures(sb)).toEqual({})
  })

  it.each([
    ['the post step rolls it back', 'post'],
    ['a resume after the lock expired promotes it', 'resume']
  ] as const)(
    'killed between the two writes of step 2: %s, and both objects agree',
    async (_, recovery) => {
      sb = await twoWaySandbox()
      const s = sb
      const inputs = fastInputs(s, {
        image: HEALTHY,
        'virtual-service': OBJECTS.join(','),
        'step-duration': '4s',
        'lease-duration': '6s',
        'on-interrupt': 'rollback'
      })
      // The runner dies the moment `reviews` holds step 2, before `reviews-edge` is written.
      let kill: (() => void) | undefined
      s.api.store.onChange((e) => {
        if (e.resource !== 'virtualservices' || e.object.metadata.name !== 'reviews') return
        const [route] = weightsOf(e.object)
        if (route && formatWeights(route) === PLAN[1]) kill?.()
      })
      const killed = await runAction(inputs, env(s, '100'), { killSwitch: (k) => (kill = k) })
      expect({ killed: killed.killed, log: killed.killed ? '' : killed.log }).toEqual({
        killed: true,
        log: ''
      })
      expect(weights(s, 'reviews')).toBe(PLAN[1])
      expect(weights(s, 'reviews-edge')).toBe(PLAN[0])

      if (recovery === 'post') {
        const post = await runAction(inputs, env(s, '100'), {
          entry: 'post',
          state: killed.state
        })
        expectExit(post, 'success')
        expect(post.log).toContain('the main step did not finish while the rollout was')
        expect(readLease(s)?.record?.phase).toBe('rolled-back')
        for (const name of OBJECTS) expect(weights(s, name)).toBe('blue=100,green=0')
      } else {
        await waitForLockExpiry(s)
        const resumed = await runAction({ ...inputs, command: 'resume' }, env(s, '101'))
        expectExit(resumed, 'success')
        expect(resumed.outputs.result).toBe('promoted')
        for (const name of OBJECTS) expect(weights(s, name)).toBe('blue=0,green=100')
      }
      expect(readLease(s)?.holder).toBeUndefined()
      expect(meshFailures(s)).toEqual({})
    }
  )
})
