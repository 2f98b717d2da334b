/**
 * Operating rollouts: pause-at, promote, resume, rollback (also instant, after a promotion),
 * abort, status and plan, and the refusals of commands that make no sense in a phase; all through
 * dist/index.js on the sandbox.
 */
import { jest } from '@jest/globals'
import type { Sandbox } from '../../sandbox/index.js'
import {
  control,
  deploymentState,
  expectExit,
  fastInputs,
  kubeEnv,
  readLease,
  runAction,
  sandbox
} from './harness.js'

jest.setTimeout(240_000)

const IMAGE = 'example.com/reviews:2.0.0'

interface Dest {
  destination: { subset?: string }
  weight?: number
}

function weights(sb: Sandbox): string {
  const vs = sb.api.store.get('virtualservices', 'demo', 'reviews')
  const route = ((vs?.spec?.http ?? []) as Array<{ route?: Dest[] }>)[0]?.route ?? []
  return route.map((d) => `${d.destination.subset}=${d.weight}`).join(',')
}

function command(sb: Sandbox, name: string, extra: Record<string, string> = {}) {
  const inputs: Record<string, string> = {
    service: 'reviews',
    namespace: 'demo',
    command: name,
    ...extra
  }
  return runAction(inputs, { ...kubeEnv(sb), GITHUB_ACTOR: 'octocat' })
}

describe('commands', () => {
  let sb: Sandbox
  beforeEach(async () => {
    sb = await sandbox()
  })
  afterEach(async () => {
    await sb.stop()
  })

  it('deploy with pause-at stops after that step passes; status shows it; promote finishes it', async () => {
    const idle = await command(sb, 'status')
    expectExit(idle, 'success')
    expect(idle.outputs).toMatchObject({
      result: 'idle',
      phase: 'idle',
      weights: 'blue=100,green=0'
    })

    const paused = await runAction(fastInputs(sb, { image: IMAGE, 'pause-at': '25' }), kubeEnv(sb))
    expectExit(paused, 'success')
    expect(paused.outputs).toMatchObject({
      result: 'paused',
      phase: 'paused',
      weights: 'blue=75,green=25'
    })
    expect(weights(sb)).toBe('blue=75,green=25')
    expect(paused.summary).toContain('paused')

    const st = await command(sb, 'status')
    expectExit(st, 'success')
    expect(st.outputs).toMatchObject({
      result: 'paused',
      phase: 'paused',
      weights: 'blue=75,green=25'
    })
    expect(st.log).toContain('paused at 25%')

    const refused = await runAction(
      fastInputs(sb, { image: 'example.com/reviews:3.0.0' }),
      kubeEnv(sb)
    )
    expectExit(refused, 'failure')
    expect(refused.log).toContain(
      '::error::deploy refused: a rollout is paused; promote it, or roll it back'
    )

    const promoted = await command(sb, 'promote')
    expectExit(promoted, 'success')
    expect(promoted.outputs).toMatchObject({
      result: 'promoted',
      phase: 'promoted',
      weights: 'blue=0,green=100'
    })
    // Promote continues with the plan the deploy recorded: steps 50 and 100, with analysis.
    expect(promoted.log).toContain('Step 3/4: green 50%')
    expect(promoted.log).toContain('Step 4/4: green 100%')
    expect(weights(sb)).toBe('blue=0,green=100')

    const after = await command(sb, 'status')
    expect(after.outputs).toMatchObject({ phase: 'promoted', 'stable-color': 'green' })
  })

  it('deploy paused then rollback: stable back to 100%, candidate scaled to 0, recorded as a person', async () => {
    const paused = await runAction(fastInputs(sb, { image: IMAGE, 'pause-at': '10' }), kubeEnv(sb))
    expect(paused.outputs.result).toBe('paused')
    const rb = await command(sb, 'rollback')
    expectExit(rb, 'success')
    expect(rb.outputs).toMatchObject({
      result: 'rolled-back',
      phase: 'rolled-back',
      weights: 'blue=100,green=0',
      reason: 'rolled back by octocat'
    })
    expect(weights(sb)).toBe('blue=100,green=0')
    expect(deploymentState(sb, 'reviews-green')?.replicas).toBe(0)
    const again = await command(sb, 'rollback')
    expectExit(again, 'failure')
    expect(again.log).toContain(
      '::error::rollback refused: nothing to roll back: the last rollout was already rolled back'
    )
  })

  it('abort a paused rollout; abort and promote refuse when nothing is in flight', async () => {
    const nothing = await command(sb, 'promote')
    expectExit(nothing, 'failure')
    expect(nothing.log).toContain(
      '::error::promote refused: nothing to promote: promote continues a paused rollout, and the rollout is not started'
    )
    const resume = await command(sb, 'resume')
    expect(resume.log).toContain('::error::resume refused: nothing to resume')

    await runAction(fastInputs(sb, { image: IMAGE, 'pause-at': '10' }), kubeEnv(sb))
    const aborted = await command(sb, 'abort')
    expectExit(aborted, 'success')
    expect(aborted.outputs).toMatchObject({ result: 'rolled-back', reason: 'aborted by octocat' })
    expect(weights(sb)).toBe('blue=100,green=0')
    const record = readLease(sb)?.record
    expect(record?.stoppedBy).toMatchObject({ command: 'abort', actor: 'octocat' })
    const abortAgain = await command(sb, 'abort')
    expect(abortAgain.log).toContain(
      '::error::abort refused: nothing to abort: no rollout is in flight (rolled-back)'
    )
  })

  it('promote then instant rollback to the previous color, which still runs', async () => {
    const done = await runAction(fastInputs(sb, { image: IMAGE, steps: '50,100' }), kubeEnv(sb))
    expect(done.outputs.result).toBe('promoted')
    expect(deploymentState(sb, 'reviews-blue')?.replicas).toBe(3)
    const abort = await command(sb, 'abort')
    expect(abort.log).toContain(
      '::error::abort refused: nothing to abort: the last rollout was promoted; rollback switches back to the previous color'
    )
    const rb = await command(sb, 'rollback')
    expectExit(rb, 'success')
    expect(rb.outputs).toMatchObject({
      result: 'rolled-back',
      weights: 'blue=100,green=0',
      reason: 'instant switch back to blue, rolled back by octocat'
    })
    expect(weights(sb)).toBe('blue=100,green=0')
    expect(deploymentState(sb, 'reviews-green')?.replicas).toBe(0)
    const st = await command(sb, 'status')
    expect(st.outputs).toMatchObject({ phase: 'rolled-back', 'stable-color': 'blue' })
  })

  it('instant rollback refuses when the previous color was scaled down', async () => {
    await runAction(
      fastInputs(sb, { image: IMAGE, steps: '100', 'previous-color': 'scale-down' }),
      kubeEnv(sb)
    )
    const rb = await command(sb, 'rollback')
    expectExit(rb, 'failure')
    expect(rb.log).toMatch(
      /::error::rollback refused: the previous color blue is not running \(.*\), so there is nothing to switch back to instantly; deploy its image \(example.com\/reviews:1.0.0\) again instead/
    )
    expect(weights(sb)).toBe('blue=0,green=100')
  })

  it('status and other commands while a deploy is in flight: shifting, the live run is named, rollback takes over', async () => {
    const shifted = new Promise<void>((resolve) => {
      sb.api.store.onChange((e) => {
        if (e.resource === 'virtualservices' && weights(sb) === 'blue=90,green=10') resolve()
      })
    })
    const running = runAction(fastInputs(sb, { image: IMAGE, 'step-duration': '8s' }), {
      ...kubeEnv(sb),
      GITHUB_REPOSITORY: 'acme/shop',
      GITHUB_RUN_ID: '99'
    })
    await shifted
    const st = await command(sb, 'status')
    expectExit(st, 'success')
    expect(st.outputs).toMatchObject({ phase: 'shifting', weights: 'blue=90,green=10' })
    expect(st.log).toContain('lock held by acme/shop#99.1')
    const promote = await command(sb, 'promote')
    expect(promote.log).toContain(
      '::error::promote refused: acme/shop#99.1 (https://github.com/acme/shop/actions/runs/99) is running a rollout of this service right now'
    )
    // It says when the holder last renewed the lock, when it expires if that run died, and how
    // to wait for it.
    expect(promote.log).toMatch(
      /\(it last renewed the lock at [\dT:.Z-]+; if that run died, the lock expires at [\dT:.Z-]+\); wait for it to finish, or let this run wait with wait-for-lock/
    )
    const resume = await command(sb, 'resume')
    expect(resume.log).toContain('::error::resume refused: acme/shop#99.1')
    // A person's rollback does not wait: it takes the lock over, and the deploy stops.
    const rollback = await command(sb, 'rollback')
    expectExit(rollback, 'success')
    expect(rollback.outputs).toMatchObject({ result: 'rolled-back', weights: 'blue=100,green=0' })
    expect(rollback.log).toContain(
      '::warning::took over the rollout lock from acme/shop#99.1 (https://github.com/acme/shop/actions/runs/99) while it was live: rollback wins at once'
    )
    const deploy = await running
    expectExit(deploy, 'failure')
    expect(deploy.log).toContain('::error::the rollout was taken over by `rollback` by @octocat')
    expect(weights(sb)).toBe('blue=100,green=0')
    expect(readLease(sb)?.record).toMatchObject({
      phase: 'rolled-back',
      stoppedBy: { command: 'rollback', actor: 'octocat' }
    })
  })

  it('plan passes with the weight plan and changes nothing; fails when preflight would', async () => {
    const before = sb.api.store.get('virtualservices', 'demo', 'reviews')?.metadata.resourceVersion
    const ok = await runAction(
      fastInputs(sb, { command: 'plan', image: IMAGE, 'pause-at': '50' }),
      kubeEnv(sb)
    )
    expectExit(ok, 'success')
    expect(ok.outputs).toMatchObject({
      result: 'planned',
      'stable-color': 'blue',
      'candidate-color': 'green'
    })
    expect(ok.summary).toContain('| 3 | green 50% | blue 50% | 5s | 15s (pause) |')
    expect(ok.summary).toContain('| 4 | green 100% | blue 0% | 5s | 20s |')
    expect(sb.api.store.get('deployments', 'demo', 'reviews-green')).toBeUndefined()
    expect(sb.api.store.get('leases', 'demo', 'istio-bluegreen-reviews')).toBeUndefined()
    expect(sb.api.store.get('virtualservices', 'demo', 'reviews')?.metadata.resourceVersion).toBe(
      before
    )

    const bad = await runAction(
      fastInputs(sb, { command: 'plan', image: IMAGE, routes: 'canary' }),
      kubeEnv(sb)
    )
    expectExit(bad, 'failure')
    expect(bad.log).toContain(
      '::error::VirtualService reviews: input "routes": no HTTP route named "canary"'
    )
  })

  it('resume continues a rollout whose run died, from the step it reached', async () => {
    await control(sb, '/traffic', { rps: 50 })
    const paused = await runAction(fastInputs(sb, { image: IMAGE, 'pause-at': '25' }), kubeEnv(sb))
    expect(paused.outputs.result).toBe('paused')
    const resumed = await command(sb, 'resume')
    expectExit(resumed, 'success')
    expect(resumed.outputs.result).toBe('promoted')
    expect(resumed.log).toContain('resuming the paused rollout at 25%')
    expect(resumed.log).toContain('Step 2/4: green 25%')
  })
})
