/**
 * Operating rollouts in-process: pause-at, promote, resume, rollback (also instant, after a
 * promotion), abort, status and plan, and the refusals of commands that make no sense in a phase,
 * on the sandbox's cluster and mesh in virtual time. (Moved from __tests__/e2e/commands.test.ts;
 * the runner's protocol around them stays end to end there.)
 */
import { deploymentState, readLease } from '../fixtures/cluster.js'
import { expectRun, release, World } from './world.js'

const IMAGE = 'example.com/reviews:2.0.0'

interface Dest {
  destination: { subset?: string }
  weight?: number
}

let world: World
beforeEach(async () => {
  world = await World.create()
})
afterEach(() => world.close())

function weights(): string {
  const vs = world.store.get('virtualservices', 'demo', 'reviews')
  const route = ((vs?.spec?.http ?? []) as Array<{ route?: Dest[] }>)[0]?.route ?? []
  return route.map((d) => `${d.destination.subset}=${d.weight}`).join(',')
}

const OCTOCAT = { GITHUB_ACTOR: 'octocat' }

function command(name: string, extra: Record<string, string> = {}) {
  return world.run({ service: 'reviews', namespace: 'demo', command: name, ...extra }, OCTOCAT)
}

it('deploy with pause-at stops after that step passes; status shows it; promote finishes it', async () => {
  const idle = await command('status')
  expectRun(idle, 'success')
  expect(idle.outputs).toMatchObject({ result: 'idle', phase: 'idle', weights: 'blue=100,green=0' })

  const paused = await world.run(release({ image: IMAGE, 'pause-at': '25' }))
  expectRun(paused, 'success')
  expect(paused.outputs).toMatchObject({
    result: 'paused',
    phase: 'paused',
    weights: 'blue=75,green=25'
  })
  expect(weights()).toBe('blue=75,green=25')
  expect(paused.summary).toContain('paused')

  const st = await command('status')
  expectRun(st, 'success')
  expect(st.outputs).toMatchObject({
    result: 'paused',
    phase: 'paused',
    weights: 'blue=75,green=25'
  })
  expect(st.log).toContain('paused at 25%')

  const refused = await world.run(release({ image: 'example.com/reviews:3.0.0' }))
  expectRun(refused, 'failure')
  expect(refused.failure).toBe(
    'deploy refused: a rollout is paused; promote it, or roll it back (rollback or abort), before deploying a new release'
  )

  const promoted = await command('promote')
  expectRun(promoted, 'success')
  expect(promoted.outputs).toMatchObject({
    result: 'promoted',
    phase: 'promoted',
    weights: 'blue=0,green=100'
  })
  // Promote continues with the plan the deploy recorded: steps 50 and 100, with analysis.
  expect(promoted.lines).toContain('group: Step 3/4: green 50%')
  expect(promoted.lines).toContain('group: Step 4/4: green 100%')
  expect(weights()).toBe('blue=0,green=100')

  const after = await command('status')
  expect(after.outputs).toMatchObject({ phase: 'promoted', 'stable-color': 'green' })
})

it('deploy paused then rollback: stable back to 100%, candidate scaled to 0, recorded as a person', async () => {
  const paused = await world.run(release({ image: IMAGE, 'pause-at': '10' }))
  expect(paused.outputs.result).toBe('paused')
  const rb = await command('rollback')
  expectRun(rb, 'success')
  expect(rb.outputs).toMatchObject({
    result: 'rolled-back',
    phase: 'rolled-back',
    weights: 'blue=100,green=0',
    reason: 'rolled back by octocat'
  })
  expect(weights()).toBe('blue=100,green=0')
  expect(deploymentState(world, 'reviews-green')?.replicas).toBe(0)
  const again = await command('rollback')
  expectRun(again, 'failure')
  expect(again.failure).toBe(
    'rollback refused: nothing to roll back: the last rollout was already rolled back, and the stable color has 100%'
  )
})

it('abort a paused rollout; abort and promote refuse when nothing is in flight', async () => {
  const nothing = await command('promote')
  expectRun(nothing, 'failure')
  expect(nothing.failure).toBe(
    'promote refused: nothing to promote: promote continues a paused rollout, and the rollout is not started'
  )
  const resume = await command('resume')
  expect(resume.failure).toMatch(/^resume refused: nothing to resume/)

  await world.run(release({ image: IMAGE, 'pause-at': '10' }))
  const aborted = await command('abort')
  expectRun(aborted, 'success')
  expect(aborted.outputs).toMatchObject({ result: 'rolled-back', reason: 'aborted by octocat' })
  expect(weights()).toBe('blue=100,green=0')
  expect(readLease(world)?.record?.stoppedBy).toMatchObject({ command: 'abort', actor: 'octocat' })
  const abortAgain = await command('abort')
  expect(abortAgain.failure).toBe(
    'abort refused: nothing to abort: no rollout is in flight (rolled-back)'
  )
})

it('promote then instant rollback to the previous color, which still runs', async () => {
  const done = await world.run(release({ image: IMAGE, steps: '50,100' }))
  expect(done.outputs.result).toBe('promoted')
  expect(deploymentState(world, 'reviews-blue')?.replicas).toBe(3)
  const abort = await command('abort')
  expect(abort.failure).toBe(
    'abort refused: nothing to abort: the last rollout was promoted; rollback switches back to the previous color'
  )
  const rb = await command('rollback')
  expectRun(rb, 'success')
  expect(rb.outputs).toMatchObject({
    result: 'rolled-back',
    weights: 'blue=100,green=0',
    reason: 'instant switch back to blue, rolled back by octocat'
  })
  expect(weights()).toBe('blue=100,green=0')
  expect(deploymentState(world, 'reviews-green')?.replicas).toBe(0)
  const st = await command('status')
  expect(st.outputs).toMatchObject({ phase: 'rolled-back', 'stable-color': 'blue' })
})

it('instant rollback refuses when the previous color was scaled down', async () => {
  await world.run(release({ image: IMAGE, steps: '100', 'previous-color': 'scale-down' }))
  const rb = await command('rollback')
  expectRun(rb, 'failure')
  expect(rb.failure).toMatch(
    /^rollback refused: the previous color blue is not running \(.*\), so there is nothing to switch back to instantly; deploy its image \(example.com\/reviews:1.0.0\) again instead$/
  )
  expect(weights()).toBe('blue=0,green=100')
})

it('status and other commands while a deploy is in flight: shifting, the live run is named, rollback takes over', async () => {
  const running = world.start(release({ image: IMAGE }), {
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_RUN_ID: '99'
  })
  await world.until('the first weight write', () => weights() === 'blue=90,green=10')
  const st = await command('status')
  expectRun(st, 'success')
  expect(st.outputs).toMatchObject({ phase: 'shifting', weights: 'blue=90,green=10' })
  expect(st.log).toContain('lock held by acme/shop#99.1')
  const promote = await command('promote')
  expect(promote.failure).toMatch(
    /^promote refused: acme\/shop#99\.1 \(https:\/\/github\.com\/acme\/shop\/actions\/runs\/99\) is running a rollout of this service right now \(it last renewed the lock at [\dT:.Z-]+; if that run died, the lock expires at [\dT:.Z-]+\); wait for it to finish, or let this run wait with wait-for-lock/
  )
  const resume = await command('resume')
  expect(resume.failure).toMatch(/^resume refused: acme\/shop#99\.1/)
  // A person's rollback does not wait: it takes the lock over, and the deploy stops.
  const rollback = await command('rollback')
  expectRun(rollback, 'success')
  expect(rollback.outputs).toMatchObject({ result: 'rolled-back', weights: 'blue=100,green=0' })
  expect(rollback.lines).toContain(
    'warning: took over the rollout lock from acme/shop#99.1 (https://github.com/acme/shop/actions/runs/99) while it was live: rollback wins at once; if that run still runs, it stops at its next check without writing weights'
  )
  const deploy = await world.finish(running)
  expectRun(deploy, 'failure')
  expect(deploy.failure).toMatch(/^the rollout was taken over by `rollback` by @octocat/)
  expect(weights()).toBe('blue=100,green=0')
  expect(readLease(world)?.record).toMatchObject({
    phase: 'rolled-back',
    stoppedBy: { command: 'rollback', actor: 'octocat' }
  })
})

it('plan passes with the weight plan and changes nothing; fails when preflight would', async () => {
  const before = world.store.get('virtualservices', 'demo', 'reviews')?.metadata.resourceVersion
  const ok = await world.run(release({ command: 'plan', image: IMAGE, 'pause-at': '50' }))
  expectRun(ok, 'success')
  expect(ok.outputs).toMatchObject({
    result: 'planned',
    'stable-color': 'blue',
    'candidate-color': 'green'
  })
  expect(ok.summary).toContain('| 3 | green 50% | blue 50% | 1m | 3m (pause) |')
  expect(ok.summary).toContain('| 4 | green 100% | blue 0% | 1m | 4m |')
  expect(world.store.get('deployments', 'demo', 'reviews-green')).toBeUndefined()
  expect(world.store.get('leases', 'demo', 'istio-bluegreen-reviews')).toBeUndefined()
  expect(world.store.get('virtualservices', 'demo', 'reviews')?.metadata.resourceVersion).toBe(
    before
  )

  const bad = await world.run(release({ command: 'plan', image: IMAGE, routes: 'canary' }))
  expectRun(bad, 'failure')
  expect(bad.failure).toContain(
    'VirtualService reviews: input "routes": no HTTP route named "canary"'
  )
})

it('resume continues a paused rollout from the step it reached', async () => {
  const paused = await world.run(release({ image: IMAGE, 'pause-at': '25' }))
  expect(paused.outputs.result).toBe('paused')
  const resumed = await command('resume')
  expectRun(resumed, 'success')
  expect(resumed.outputs.result).toBe('promoted')
  expect(resumed.log).toContain('resuming the paused rollout at 25%')
  expect(resumed.lines).toContain('group: Step 2/4: green 25%')
})
