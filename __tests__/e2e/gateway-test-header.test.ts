/**
 * `test-header` and `pause-at: 0` on an HTTPRoute with a Service parent (mesh), through the built
 * action, from a first release (one bare backendRef): paused at 0, the test rule sends only
 * requests with the header to `reviews-green`, every other request to the stable; promote and
 * rollback each leave nothing of the rule.
 */
import { jest } from '@jest/globals'
import type { Sandbox } from '../../sandbox/index.js'
import {
  expectHttpRoutePausedAtZero,
  expectNoTestRule,
  httpRouteRules
} from '../fixtures/test-header.js'
import {
  expectExit,
  fastInputs,
  gatewayApiSandbox,
  kubeEnv,
  meshFailures,
  servedBy,
  readLease,
  runAction,
  withSandbox
} from './harness.js'

jest.setTimeout(180_000)

const IMAGE = 'example.com/reviews:2.0.0'

/** The case's helpers, on its own sandbox (the cases run at once, a sandbox each). */
function on(sb: Sandbox) {
  function inputs(extra: Record<string, string> = {}): Record<string, string> {
    return fastInputs(sb, {
      router: 'gateway-api',
      image: IMAGE,
      steps: '50,100',
      'step-duration': '4s',
      'test-header': 'x-canary: true',
      'pause-at': '0',
      ...extra
    })
  }

  function env(runId: string): Record<string, string> {
    return { ...kubeEnv(sb), GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: runId }
  }

  const served = (headers?: Record<string, string>): Promise<Record<string, number>> =>
    servedBy(sb, headers)

  async function pausedAtZero(): Promise<void> {
    const run = await runAction(inputs(), env('100'))
    expectExit(run, 'success')
    expectHttpRoutePausedAtZero(sb, run)
    expect(await served({ 'x-canary': 'true' })).toEqual({ 'demo/reviews-green': 50 })
    expect(await served({ 'x-canary': 'false' })).toEqual({ 'demo/reviews-blue': 50 })
    expect(await served()).toEqual({ 'demo/reviews-blue': 50 })
  }

  const noTestRule = (): void => expectNoTestRule(sb)

  return { inputs, env, served, pausedAtZero, noTestRule }
}

describe('test-header with pause-at 0, on an HTTPRoute (mesh parent, first release)', () => {
  it.concurrent(
    'paused at 0 only the header reaches the candidate; promote runs the steps and removes the rule',
    () =>
      withSandbox(gatewayApiSandbox, async (sb) => {
        const { inputs, env, served, pausedAtZero, noTestRule } = on(sb)
        await pausedAtZero()
        const promoted = await runAction(inputs({ command: 'promote', 'pause-at': '' }), env('101'))
        expectExit(promoted, 'success')
        expect(promoted.outputs.result).toBe('promoted')
        noTestRule()
        expect(
          httpRouteRules(sb).map((r) => r.backendRefs?.map((b) => `${b.name}=${b.weight}`))
        ).toEqual([['reviews-blue=0', 'reviews-green=100']])
        expect(await served({ 'x-canary': 'true' })).toEqual({ 'demo/reviews-green': 50 })
        expect(meshFailures(sb)).toEqual({})
      })
  )

  it.concurrent('rollback from the pause removes the rule, and everything goes to the stable', () =>
    withSandbox(gatewayApiSandbox, async (sb) => {
      const { inputs, env, served, pausedAtZero, noTestRule } = on(sb)
      await pausedAtZero()
      const rolledBack = await runAction(
        inputs({ command: 'rollback', 'pause-at': '' }),
        env('101')
      )
      expectExit(rolledBack, 'success')
      expect(rolledBack.outputs.result).toBe('rolled-back')
      noTestRule()
      expect(await served({ 'x-canary': 'true' })).toEqual({ 'demo/reviews-blue': 50 })
      expect(readLease(sb)?.record?.phase).toBe('rolled-back')
      expect(meshFailures(sb)).toEqual({})
    })
  )
})
