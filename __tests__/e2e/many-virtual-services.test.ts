/**
 * A service reached two ways, from the mesh (VirtualService `reviews`) and through the ingress
 * gateway (VirtualService `reviews-edge`), shifted as one with `virtual-service: reviews,
 * reviews-edge`: after the recovery of a runner killed between the two writes of one step (its
 * post step, or a resume), both objects agree. Both objects stepping together and rolling back
 * together run in-process (__tests__/inprocess/virtual-services.test.ts).
 */
import { describe, expect, it, jest } from '@jest/globals'
import type { Sandbox } from '../../sandbox/index.js'
import {
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
import { edgeVirtualService } from '../fixtures/releases.js'

jest.setTimeout(180_000)

const HEALTHY = 'example.com/reviews:2.0.0'
const OBJECTS = ['reviews', 'reviews-edge'] as const
const PLAN = ['blue=90,green=10', 'blue=75,green=25', 'blue=50,green=50', 'blue=0,green=100']

async function twoWaySandbox(): Promise<Sandbox> {
  const s = await sandbox()
  s.api.store.create('virtualservices', edgeVirtualService())
  return s
}

function weights(s: Sandbox, name: string): string {
  const [route] = weightsOf(s.api.store.get('virtualservices', 'demo', name))
  return route ? formatWeights(route) : 'no route'
}

const env = (s: Sandbox, runId: string): Record<string, string> => ({
  ...kubeEnv(s),
  GITHUB_REPOSITORY: 'acme/shop',
  GITHUB_RUN_ID: runId,
  GITHUB_ACTOR: 'octocat'
})

describe('virtual-service: reviews,reviews-edge', () => {
  // Each case has its own sandbox, so both run at once (they wait on real time, not the CPU).
  it.concurrent.each([
    ['the post step rolls it back', 'post'],
    ['a resume after the lock expired promotes it', 'resume']
  ] as const)(
    'killed between the two writes of step 2: %s, and both objects agree',
    async (_, recovery) => {
      const s = await twoWaySandbox()
      try {
        await recover(s, recovery)
      } finally {
        await s.stop()
      }
    }
  )
})

async function recover(s: Sandbox, recovery: 'post' | 'resume'): Promise<void> {
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
