/**
 * Inputs that shape where and what the action deploys, in-process: manifests and container,
 * adoption of an uncolored service with a custom color label, custom object and route names,
 * reporter, thresholds, previous-color and fail-on-rollback. (Moved from
 * __tests__/e2e/inputs.test.ts, which keeps the kubeconfig input, and runs the adoption paused
 * half-way and one release with manifests, custom names, reporter source and previous-color
 * scale-down, from the same fixtures: ../fixtures/releases.ts.)
 */
import { SEED_IMAGE } from '../../sandbox/seed.js'
import type { KubeObject, ResourceName } from '../../sandbox/types.js'
import { meshFailures, readLease } from '../fixtures/cluster.js'
import {
  expectAdoptedAndPromoted,
  expectCustomNamesPromoted,
  expectGreenFromTemplate,
  makeUncolored,
  replicasOf,
  templateManifests,
  useCustomNames
} from '../fixtures/releases.js'
import { expectRun, release, World } from './world.js'

let world: World
beforeEach(async () => {
  world = await World.create()
})
afterEach(() => world.close())

function get(resource: ResourceName, name: string): KubeObject {
  const o = world.store.get(resource, 'demo', name)
  if (!o) throw new Error(`${resource}/${name} not found`)
  return o
}

const replicas = (name: string): number => replicasOf(world, name)

/** Requests the mesh could not route so far, all flags together. */
const failures = (): number => Object.values(meshFailures(world)).reduce((a, b) => a + b, 0)

/** The hand-made service (makeUncolored), then two minutes of traffic for Prometheus. */
async function uncolored(): Promise<void> {
  makeUncolored(world)
  await world.time.advance(120_000)
}

it('manifests as the template, image set on the named container', async () => {
  const run = await world.run(
    release({
      manifests: await templateManifests(),
      container: 'reviews',
      image: 'example.com/reviews:3.0.0',
      steps: '50,100'
    })
  )
  expectRun(run, 'success')
  expectGreenFromTemplate(world, 'example.com/reviews:3.0.0')
})

it('adopts a hand-made service (one Deployment, a gateway route without subset) with color-label track, dropping no request', async () => {
  await uncolored()
  const failuresBefore = failures()
  const run = await world.run(
    release({ image: 'example.com/reviews:2.0.0', 'color-label': 'track', steps: '50,100' })
  )
  expectRun(run, 'success')
  expect(run.outputs).toMatchObject({
    result: 'promoted',
    'stable-color': 'green',
    weights: 'blue=0,green=100'
  })
  expectAdoptedAndPromoted(world, 'track')
  expect(failures()).toBe(failuresBefore)
  // The release has ended: the original is scaled to 0, kept, and the user is told.
  expect(replicas('reviews')).toBe(0)
  expect(run.log).toContain(
    'scaled Deployment reviews to 0 (from 2): it was adopted as reviews-blue, which now serves the service; it is kept, not deleted'
  )
  expect(run.summary).toContain('**Adopted:** Deployment `reviews` was copied into `reviews-blue`')
  expect(readLease(world)?.record?.adopted).toEqual({
    deployment: 'reviews',
    scaledDownAt: expect.any(String)
  })
  // Adoption is what needs `list deployments` of the README's Role (least-privilege.test.ts).
  expect(world.api.audit()).toContainEqual({
    verb: 'list',
    group: 'apps',
    resource: 'deployments',
    namespace: 'demo'
  })
})

it('adoption paused half-way: the original keeps its replicas until a later promote ends the release', async () => {
  await uncolored()
  const paused = await world.run(
    release({ image: 'example.com/reviews:2.0.0', steps: '50,100', 'pause-at': '50' })
  )
  expectRun(paused, 'success')
  expect(paused.outputs.result).toBe('paused')
  expect(replicas('reviews')).toBe(2)
  expect(paused.log).toContain(
    'Deployment reviews keeps its replicas for now: the release through it is paused'
  )
  expect(readLease(world)?.record?.adopted).toEqual({ deployment: 'reviews' })

  const promoted = await world.run({ ...release(), command: 'promote' })
  expectRun(promoted, 'success')
  expect(promoted.outputs.result).toBe('promoted')
  expect(replicas('reviews')).toBe(0)
  expect(promoted.log).toContain('scaled Deployment reviews to 0 (from 2)')
  expect(readLease(world)?.record?.adopted?.scaledDownAt).toEqual(expect.any(String))

  // Idempotent: a later command that ends nothing new touches the original no more.
  const original = get('deployments', 'reviews')
  world.store.replace('deployments', { ...original, spec: { ...original.spec, replicas: 1 } })
  const back = await world.run({ ...release(), command: 'rollback' })
  expectRun(back, 'success')
  expect(replicas('reviews')).toBe(1)
})

it('custom virtual-service, destination-rule and routes: only the named route shifts', async () => {
  const names = useCustomNames(world)
  const run = await world.run(
    release({ image: 'example.com/reviews:2.0.0', ...names, steps: '50,100' })
  )
  expectRun(run, 'success')
  expectCustomNamesPromoted(world)
})

it('reporter source, a looser max-error-rate and previous-color scale-down', async () => {
  // The stable answers 5% 5xx too: a candidate no worse than it passes the comparison, and the
  // looser limit lets it through. (With a healthy stable, four minutes of checks show a 5% candidate
  // 50× worse and roll it back, whatever max-error-rate says; the e2e version of this case, 20 s
  // in all, promoted it for lack of evidence.)
  world.image(SEED_IMAGE, { errorRate: 0.05 })
  world.image('example.com/reviews:2.0.0-flaky', { errorRate: 0.05 })
  const run = await world.run(
    release({
      image: 'example.com/reviews:2.0.0-flaky',
      reporter: 'source',
      'max-error-rate': '10%',
      'previous-color': 'scale-down',
      steps: '50,100'
    })
  )
  expectRun(run, 'success')
  expect(run.outputs.result).toBe('promoted')
  expect(Number(run.outputs['error-rate'])).toBeGreaterThan(0.02)
  expect(replicas('reviews-blue')).toBe(0)
  expect(run.log).toContain('reporter="source"')
  // The checks read the client side's series.
  expect(world.prometheus.queries.some((q) => q.includes('reporter="source"'))).toBe(true)
  expect(world.prometheus.queries.some((q) => q.includes('reporter="destination"'))).toBe(false)
})

it('fail-on-rollback false succeeds with result=rolled-back; a higher confidence needs more evidence', async () => {
  world.image('example.com/reviews:2.0.0-bad', { errorRate: 0.3 })
  const run = await world.run(
    release({
      image: 'example.com/reviews:2.0.0-bad',
      'fail-on-rollback': 'false',
      confidence: '99.99%'
    })
  )
  expectRun(run, 'success')
  expect(run.outputs.result).toBe('rolled-back')
  expect(run.outputs.reason).toMatch(
    /^errors: candidate \d+\/\d+ = [\d.]+% 5xx, above the limit 1\.00% at 99\.99% confidence$/
  )
  expect(run.lines).toContain(`warning: rolled back: ${run.outputs.reason}`)
  expect(run.log).toContain('judge: rolls back at 99.99% confidence')
  expect(run.failure).toBeUndefined()
})
