/**
 * Drift in-process: mid-rollout, a person or a GitOps tool changes the VirtualService weights
 * behind the action's back, through the API server (a JSON patch with its own field manager). The
 * action must notice, name the weights and who changed them, and pause (leaving the weights as
 * found, writing nothing more) or roll back, as on-drift says. (Moved from
 * __tests__/e2e/drift.test.ts, which keeps the case of a real `kubectl patch`.)
 */
import type { JsonPatchOp } from '../../src/core/routes.js'
import {
  deploymentState,
  meshFailures,
  readLease,
  recordVirtualServiceWrites,
  virtualService,
  weightsOf
} from '../fixtures/cluster.js'
import { expectRun, release, World } from './world.js'

const IMAGE = 'example.com/reviews:2.0.0'
const VS_PATH = '/apis/networking.istio.io/v1/namespaces/demo/virtualservices/reviews'
/** The weights the person sets: route `primary` is [blue, green] once the rollout started. */
const DRIFT: JsonPatchOp[] = [
  { op: 'replace', path: '/spec/http/0/route/0/weight', value: 60 },
  { op: 'replace', path: '/spec/http/0/route/1/weight', value: 40 }
]

let world: World
beforeEach(async () => {
  world = await World.create()
})
afterEach(() => world.close())

/**
 * `manager` (kubectl-edit, kubectl-patch) sets 60/40, 5 s after the action's second weight write
 * (75/25) lands: between two of its checks.
 */
function driftAfterSecondStep(manager: string): { landed: () => boolean } {
  let fired = false
  let landed = false
  world.store.onChange((e) => {
    if (fired || e.resource !== 'virtualservices') return
    const w = weightsOf(e.object)[0]
    if (w?.blue !== 75 || w.green !== 25) return
    fired = true
    world.time.setTimeout(() => {
      void world.api
        .call({
          method: 'PATCH',
          url: `${VS_PATH}?fieldManager=${manager}`,
          body: JSON.stringify(DRIFT),
          contentType: 'application/json-patch+json'
        })
        .then((outcome) => {
          if (outcome.kind !== 'answer' || outcome.answer.code !== 200) {
            throw new Error(`drift patch: ${JSON.stringify(outcome)}`)
          }
          landed = true
        })
    }, 5000)
  })
  return { landed: () => landed }
}

it('on-drift: pause (default) stops shifting, keeps the weights found, names them and kubectl-edit', async () => {
  const { writes } = recordVirtualServiceWrites(world, () => world.time.now())
  const drift = driftAfterSecondStep('kubectl-edit')
  const run = await world.run(release({ image: IMAGE }), { GITHUB_ACTOR: 'octocat' })
  expect(drift.landed()).toBe(true)
  expectRun(run, 'failure')
  // The outputs (like the record) report the weights the cluster has now, the ones found.
  expect(run.outputs).toMatchObject({
    result: 'paused',
    phase: 'paused',
    weights: 'blue=60,green=40'
  })
  const message =
    'drift: the weights of VirtualService reviews are blue=60,green=40, not blue=75,green=25 as this rollout last wrote them; last changed by kubectl-edit (Update at '
  expect(run.lines.find((l) => l.startsWith(`warning: ${message}`))).toBeDefined()
  expect(run.failure).toMatch(new RegExp(`^${escape(message)}[\\dT:-]+Z\\)`))
  expect(run.log).toContain('stopped shifting and left the weights as found (on-drift: pause)')
  expect(run.log).not.toContain('Step 3/4')

  // The weights stay as the person left them; the action wrote nothing after them.
  expect(writes.map((w) => w.weights)).toEqual([
    'blue=90,green=10',
    'blue=75,green=25',
    'blue=60,green=40'
  ])
  expect(weightsOf(virtualService(world))).toEqual([
    { route: 'primary', blue: 60, green: 40, other: 0 }
  ])
  const lease = readLease(world)
  expect(lease?.holder).toBeUndefined()
  expect(lease?.record?.phase).toBe('paused')
  expect(lease?.record?.reason).toContain('blue=60,green=40')
  expect(lease?.record?.reason).toContain('kubectl-edit')
  expect(lease?.record?.reason).toContain('(on-drift: pause)')
  // Both colors keep serving their share.
  expect(deploymentState(world, 'reviews-green')).toMatchObject({ replicas: 3, ready: 3 })
  expect(deploymentState(world, 'reviews-blue')).toMatchObject({ replicas: 3, ready: 3 })
  expect(meshFailures(world)).toEqual({})

  // A person decides: roll back puts the stable color back to 100%.
  const rb = await world.run(
    { service: 'reviews', namespace: 'demo', command: 'rollback' },
    { GITHUB_ACTOR: 'octocat' }
  )
  expectRun(rb, 'success')
  expect(rb.outputs).toMatchObject({ result: 'rolled-back', weights: 'blue=100,green=0' })
  expect(weightsOf(virtualService(world))).toEqual([
    { route: 'primary', blue: 100, green: 0, other: 0 }
  ])
})

it('after a drift pause, the record agrees with the cluster and promote continues from there', async () => {
  driftAfterSecondStep('kubectl-edit')
  const run = await world.run(release({ image: IMAGE }))
  expect(run.outputs.result).toBe('paused')
  // The paused rollout holds traffic at the weights found; its record must say so, or every
  // later command compares against weights that are no longer there. A person's promote then
  // continues the remaining steps from there.
  const recorded = readLease(world)?.record?.weights
  const promoted = await world.run({ service: 'reviews', namespace: 'demo', command: 'promote' })
  expect({
    recorded,
    ok: promoted.ok,
    result: promoted.outputs.result,
    weights: weightsOf(virtualService(world))[0],
    drift: promoted.lines.find((l) => l.includes('drift'))
  }).toEqual({
    recorded: { blue: 60, green: 40 },
    ok: true,
    result: 'promoted',
    weights: { route: 'primary', blue: 0, green: 100, other: 0 },
    drift: undefined
  })
})

it('on-drift: rollback puts the stable color back at once, naming the patch', async () => {
  const { writes } = recordVirtualServiceWrites(world, () => world.time.now())
  driftAfterSecondStep('kubectl-patch')
  const run = await world.run(release({ image: IMAGE, 'on-drift': 'rollback' }))
  expectRun(run, 'failure')
  expect(run.outputs).toMatchObject({
    result: 'rolled-back',
    phase: 'rolled-back',
    weights: 'blue=100,green=0'
  })
  expect(run.log).toMatch(
    /warning: drift: the weights of VirtualService reviews are blue=60,green=40, not blue=75,green=25 as this rollout last wrote them; last changed by kubectl-patch \(Update at [^)]+\)/
  )
  expect(run.outputs.reason).toMatch(/kubectl-patch .*\(on-drift: rollback\)$/)
  // One write after the drift: the stable color back to 100%.
  expect(writes.map((w) => w.weights)).toEqual([
    'blue=90,green=10',
    'blue=75,green=25',
    'blue=60,green=40',
    'blue=100,green=0'
  ])
  expect(weightsOf(virtualService(world))).toEqual([
    { route: 'primary', blue: 100, green: 0, other: 0 }
  ])
  expect(deploymentState(world, 'reviews-green')?.replicas).toBe(0)
  const lease = readLease(world)
  expect(lease?.holder).toBeUndefined()
  expect(lease?.record).toMatchObject({ phase: 'rolled-back', weights: { blue: 100, green: 0 } })
  expect(meshFailures(world)).toEqual({})
})

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
