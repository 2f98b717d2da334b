/**
 * A service reached two ways, from the mesh (VirtualService `reviews`) and through the ingress
 * gateway (VirtualService `reviews-edge`), shifted as one with `virtual-service: reviews,
 * reviews-edge`, in-process: both objects get the same weights at every step and after a
 * rollback. (Moved from __tests__/e2e/many-virtual-services.test.ts, which keeps the runner killed
 * between the two writes of one step.)
 */
import type { KubeObject } from '../../sandbox/types.js'
import { formatWeights, meshFailures, readLease, weightsOf } from '../fixtures/cluster.js'
import { expectRun, release, World } from './world.js'
import { edgeVirtualService } from '../fixtures/releases.js'

const HEALTHY = 'example.com/reviews:2.0.0'
const FAILING = 'example.com/reviews:2.0.1'
const OBJECTS = ['reviews', 'reviews-edge'] as const
const PLAN = ['blue=90,green=10', 'blue=75,green=25', 'blue=50,green=50', 'blue=0,green=100']

let world: World
beforeEach(async () => {
  world = await World.create()
  world.store.create('virtualservices', edgeVirtualService())
})
afterEach(() => world.close())

function weights(name: string): string {
  const [route] = weightsOf(world.store.get('virtualservices', 'demo', name))
  return route ? formatWeights(route) : 'no route'
}

/** Every weight change of either object, in order, as `name blue=…,green=…`. */
function recordWeightChanges(): string[] {
  const changes: string[] = []
  const last = new Map<string, string>(OBJECTS.map((n) => [n, weights(n)]))
  world.store.onChange((e) => {
    if (e.resource !== 'virtualservices' || e.type !== 'MODIFIED') return
    const name = e.object.metadata.name
    const [route] = weightsOf(e.object)
    const now = route ? formatWeights(route) : 'no route'
    if (last.get(name) === now) return
    last.set(name, now)
    changes.push(`${name} ${now}`)
  })
  return changes
}

/** Each weight written to `reviews` first and to `reviews-edge` right after it. */
const inPairs = (plan: readonly string[]): string[] =>
  plan.flatMap((w) => OBJECTS.map((name) => `${name} ${w}`))

it('a healthy image: both objects take every step together and end on the candidate', async () => {
  const changes = recordWeightChanges()
  const run = await world.run(release({ image: HEALTHY, 'virtual-service': OBJECTS.join(',') }))
  expectRun(run, 'success')
  expect(run.outputs.result).toBe('promoted')
  expect(changes).toEqual(inPairs(PLAN))
  // The edge object kept what the action does not own.
  const edge = world.store.get('virtualservices', 'demo', 'reviews-edge') as KubeObject
  expect(edge.spec?.gateways).toEqual(['edge'])
  expect((edge.spec?.http as Array<{ timeout?: string }>)[0]?.timeout).toBe('10s')
  expect(readLease(world)?.record).toMatchObject({
    phase: 'promoted',
    routerVersions: {
      reviews: world.store.get('virtualservices', 'demo', 'reviews')?.metadata.resourceVersion,
      'reviews-edge': edge.metadata.resourceVersion
    }
  })
  expect(meshFailures(world)).toEqual({})
})

it('a 20%-5xx image: both objects are back on the stable color after the rollback', async () => {
  world.image(FAILING, { errorRate: 0.2 })
  const changes = recordWeightChanges()
  const run = await world.run(release({ image: FAILING, 'virtual-service': OBJECTS.join(',') }))
  expectRun(run, 'failure')
  expect(run.outputs.result).toBe('rolled-back')
  // The first step on both, then both back to the stable color.
  expect(changes).toEqual(inPairs([PLAN[0] as string, 'blue=100,green=0']))
  for (const name of OBJECTS) expect(weights(name)).toBe('blue=100,green=0')
  expect(meshFailures(world)).toEqual({})
})
