/**
 * The deploy command in-process, on the sandbox's cluster and mesh in virtual time: promotion,
 * rollback on errors and on latency, a candidate that never becomes ready, no traffic
 * (inconclusive), routes the rollout does not own, and the failed phase when traffic cannot be
 * put back. (Moved from __tests__/e2e/deploy.test.ts, which keeps a promotion and a rollback
 * through dist/index.js on the real Prometheus.)
 */
import type { KubeObject } from '../../sandbox/types.js'
import { deploymentState, meshFailures, readLease } from '../fixtures/cluster.js'
import { addOtherRoutes, expectOtherRoutesKept } from '../fixtures/releases.js'
import { expectRun, release, World } from './world.js'

interface Dest {
  destination: { host: string; subset?: string }
  weight?: number
}

let world: World
beforeEach(async () => {
  world = await World.create()
})
afterEach(() => world.close())

/** Every weight set the VirtualService went through, as `subset=weight` strings, in order. */
function recordWeights(): string[] {
  const history: string[] = []
  world.store.onChange((e) => {
    if (e.resource !== 'virtualservices' || e.object.metadata.name !== 'reviews') return
    const http = (e.object.spec?.http ?? []) as Array<{ name?: string; route?: Dest[] }>
    const primary = http.find((r) => r.name === 'primary')
    history.push(
      (primary?.route ?? [])
        .map((d) => `${d.destination.subset ?? d.destination.host}=${d.weight ?? ''}`)
        .join(',')
    )
  })
  return history
}

function vs(): KubeObject {
  return world.store.get('virtualservices', 'demo', 'reviews') as KubeObject
}

function primaryRoute(): Dest[] {
  const http = (vs().spec?.http ?? []) as Array<{ name?: string; route?: Dest[] }>
  return http.find((r) => r.name === 'primary')?.route ?? []
}

it('promotes a healthy image: the old color ends at 0, the new one at 100, no request dropped', async () => {
  const history = recordWeights()
  const run = await world.run(release({ image: 'example.com/reviews:2.0.0' }))
  expectRun(run, 'success')
  expect(run.outputs).toMatchObject({
    result: 'promoted',
    'stable-color': 'green',
    'candidate-color': 'blue',
    weights: 'blue=0,green=100',
    reason: ''
  })
  expect(Number(run.outputs['error-rate'])).toBeLessThan(0.01)
  expect(primaryRoute()).toEqual([
    { destination: { host: 'reviews', subset: 'blue' }, weight: 0 },
    { destination: { host: 'reviews', subset: 'green' }, weight: 100 }
  ])
  expect(history).toEqual([
    'blue=90,green=10',
    'blue=75,green=25',
    'blue=50,green=50',
    'blue=0,green=100'
  ])
  const green = world.store.get('deployments', 'demo', 'reviews-green')
  expect(
    (green?.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec
      .containers[0]?.image
  ).toBe('example.com/reviews:2.0.0')
  expect(deploymentState(world, 'reviews-blue')?.replicas).toBe(3)
  expect(run.summary).toContain('green promoted')
  expect(run.summary.match(/^\| [1-4] \| /gm)).toHaveLength(4)
  const dr = world.store.get('destinationrules', 'demo', 'reviews')
  expect((dr?.spec as { subsets: unknown[] }).subsets).toEqual([
    { name: 'blue', labels: { version: 'blue' } },
    { name: 'green', labels: { version: 'green' } }
  ])
  expect(run.notifier).toEqual(['started deploying green', 'finished promoted'])
  expect(meshFailures(world)).toEqual({})
})

it('rolls back an image with 20% 5xx during its first step, before the second weight is written', async () => {
  world.image('example.com/reviews:2.0.0-bad', { errorRate: 0.2 })
  const history = recordWeights()
  const run = await world.run(release({ image: 'example.com/reviews:2.0.0-bad' }))
  expectRun(run, 'failure')
  expect(run.outputs).toMatchObject({
    result: 'rolled-back',
    'stable-color': 'blue',
    weights: 'blue=100,green=0'
  })
  expect(run.outputs.reason).toMatch(
    /^errors: candidate \d+\/\d+ = \d+(\.\d+)?% 5xx, above the limit 1\.00% at 99% confidence$/
  )
  expect(Number(run.outputs['error-rate'])).toBeGreaterThan(0.1)
  expect(history).toEqual(['blue=90,green=10', 'blue=100,green=0'])
  expect(deploymentState(world, 'reviews-green')?.replicas).toBe(0)
  expect(run.failure).toMatch(/^rolled back: errors: candidate/)
  expect(run.summary).toContain('rolled back to blue')
  expect(run.summary).toMatch(/\*\*Reason:\*\* errors: candidate \d+\/\d+ = /)
  expect(run.summary).toContain('```mermaid\nxychart-beta')
  expect(meshFailures(world)).toEqual({})
})

it('rolls back an image whose p99 is above max-p99-latency', async () => {
  world.image('example.com/reviews:2.0.0-slow', { p99Ms: 900 })
  const run = await world.run(
    release({ image: 'example.com/reviews:2.0.0-slow', 'max-p99-latency': '300ms' })
  )
  expectRun(run, 'failure')
  expect(run.outputs.result).toBe('rolled-back')
  // p99 ≤ 300ms is judged as at most 1% of requests above the bucket at or above 300ms.
  expect(run.outputs.reason).toMatch(
    /latency(-limit)?: candidate \d+\/\d+ = [\d.]+% slower than \d+ms, (above the limit 1\.00%|worse than stable)/
  )
  expect(primaryRoute().map((d) => d.weight)).toEqual([100, 0])
})

it('rolls back an image that never becomes ready, with no weight change at all', async () => {
  world.image('example.com/reviews:broken', { ready: false, notReadyReason: 'ImagePullBackOff' })
  const history = recordWeights()
  const before = vs()
  const run = await world.run(
    release({ image: 'example.com/reviews:broken', 'ready-timeout': '2m' })
  )
  expectRun(run, 'failure')
  expect(run.outputs.result).toBe('rolled-back')
  expect(run.outputs.reason).toContain('did not become ready within 2m: 3 pods: ImagePullBackOff')
  expect(history).toEqual([])
  expect(vs().metadata.resourceVersion).toBe(before.metadata.resourceVersion)
  expect(deploymentState(world, 'reviews-green')?.replicas).toBe(0)
})

it('never promotes without traffic: inconclusive pauses where it stands, and fails the step', async () => {
  world.mesh.setRps(0)
  const run = await world.run(
    release({ image: 'example.com/reviews:2.0.0', 'max-inconclusive': '1' })
  )
  expectRun(run, 'failure')
  expect(run.outputs.result).toBe('paused')
  expect(run.outputs.reason).toMatch(
    /^inconclusive after 2 step durations at 10%: no data for errors in this step/
  )
  expect(run.failure).toMatch(/^paused: inconclusive after 2 step durations at 10%/)
  expect(primaryRoute().map((d) => d.weight)).toEqual([90, 10])
  expect(readLease(world)?.record?.phase).toBe('paused')
})

it('with on-inconclusive: rollback, no evidence rolls back instead of pausing', async () => {
  world.mesh.setRps(0)
  const run = await world.run(
    release({
      image: 'example.com/reviews:2.0.0',
      'max-inconclusive': '0',
      'on-inconclusive': 'rollback'
    })
  )
  expectRun(run, 'failure')
  expect(run.outputs.result).toBe('rolled-back')
  expect(run.outputs.reason).toMatch(
    /^inconclusive after 1 step duration at 10%: no data for errors in this step.*\(on-inconclusive: rollback\)$/
  )
  expect(primaryRoute().map((d) => d.weight)).toEqual([100, 0])
})

it('keeps extra routes and destinations of the VirtualService untouched', async () => {
  addOtherRoutes(world)
  const run = await world.run(release({ image: 'example.com/reviews:2.0.0', steps: '50,100' }))
  expectRun(run, 'success')
  expectOtherRoutesKept(world)
  expect(run.outputs.weights).toBe('blue=0,green=100')
})

it('records failed, with what a person must do, when it cannot put traffic back by itself', async () => {
  // Once the candidate exists, the API server starts refusing VirtualService patches (403).
  world.store.onChange((e) => {
    if (
      e.resource === 'deployments' &&
      e.type === 'ADDED' &&
      e.object.metadata.name === 'reviews-green'
    ) {
      world.api.setDenials([{ verb: 'patch', resource: 'virtualservices', namespace: 'demo' }])
    }
  })
  const before = vs().metadata.resourceVersion
  const run = await world.run(release({ image: 'example.com/reviews:2.0.0' }))
  expectRun(run, 'failure')
  expect(run.failure).toMatch(
    /^the rollout stopped on an error: .*forbidden.*; rolling back failed too \(.*\): set the weights of VirtualService reviews to blue=100,green=0 by hand, then scale reviews-green to 0$/
  )
  expect(vs().metadata.resourceVersion).toBe(before)
  const record = readLease(world)?.record
  expect(record?.phase).toBe('failed')
  expect(record?.reason).toContain('by hand')
  expect(run.notifier.at(-1)).toMatch(/^failed the rollout stopped on an error: /)
})

it('waits for readiness by watching the Deployment, or by reading it every second where the watch fails', async () => {
  const watched = await world.run(release({ image: 'example.com/reviews:2.0.0', steps: '100' }))
  expectRun(watched, 'success')
  expect(world.kube.requests.filter((r) => r === 'watch deployments').length).toBeGreaterThan(0)
  expect(watched.log).not.toContain('could not watch')

  // Every watch of a Deployment is dropped: the release still goes through, reading instead.
  world.api.setFaults([{ dropRate: 1, verbs: ['watch'], resources: ['deployments'] }])
  const polled = await world.run(release({ image: 'example.com/reviews:3.0.0', steps: '100' }))
  expectRun(polled, 'success')
  expect(polled.lines.filter((l) => l.includes('could not watch'))).toEqual([
    expect.stringMatching(
      /^warning: could not watch Deployment reviews-blue \(watch deployments\.apps "reviews-blue" in namespace demo: cannot reach the Kubernetes API server at .*\); reading it every second instead$/
    )
  ])
})
