/**
 * `test-header` and `pause-at: 0` on the sandbox's VirtualService, through the built action:
 * paused at 0, only requests with the header reach the candidate (the mesh's probes say which
 * workload served them) and every other request the stable; then promote, or a run killed right
 * after it wrote the route and its post step, and each time nothing is left of the route. A
 * person's rollback or abort from the pause, a route that already matches the header, and the
 * next deploy after a kill run in-process (__tests__/inprocess/test-header.test.ts).
 */
import { jest } from '@jest/globals'
import type { Sandbox } from '../../sandbox/index.js'
import { expectVirtualServicePausedAtZero, virtualServiceRoutes } from '../fixtures/test-header.js'
import {
  expectExit,
  fastInputs,
  kubeEnv,
  servedBy,
  readLease,
  runAction,
  sandbox,
  virtualService,
  weightsOf,
  withSandbox
} from './harness.js'

jest.setTimeout(180_000)

const IMAGE = 'example.com/reviews:2.0.0'
const HEADER = { 'x-canary': 'true' }

/** The case's helpers, on its own sandbox (the cases run at once, a sandbox each). */
function on(sb: Sandbox) {
  function inputs(extra: Record<string, string> = {}): Record<string, string> {
    return fastInputs(sb, {
      image: IMAGE,
      steps: '50,100',
      'step-duration': '4s',
      'test-header': 'X-Canary: true',
      'pause-at': '0',
      ...extra
    })
  }

  function env(runId: string): Record<string, string> {
    return { ...kubeEnv(sb), GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: runId }
  }

  /** Names of the HTTP routes of VirtualService reviews, in order. */
  function routeNames(): string[] {
    return virtualServiceRoutes(virtualService(sb)).map((r) => r.name ?? '?')
  }

  const served = (headers?: Record<string, string>): Promise<Record<string, number>> =>
    servedBy(sb, headers)

  /** Deploy paused at 0, and what the sandbox says then. */
  async function pausedAtZero(): Promise<void> {
    const run = await runAction(inputs(), env('100'))
    expectExit(run, 'success')
    expectVirtualServicePausedAtZero(sb, run, IMAGE)
    // Only the header reaches the candidate; everything else, the stable.
    expect(await served(HEADER)).toEqual({ 'demo/reviews-green': 50 })
    expect(await served({ 'x-canary': 'false' })).toEqual({ 'demo/reviews-blue': 50 })
    expect(await served()).toEqual({ 'demo/reviews-blue': 50 })
  }

  function noTestRoute(): void {
    expect(routeNames()).toEqual(['primary'])
  }

  return { inputs, env, routeNames, served, pausedAtZero, noTestRoute }
}

describe('test-header with pause-at 0, on a VirtualService', () => {
  it.concurrent(
    'pauses with only the header reaching the candidate; status says so; promote runs the steps and removes the route',
    () =>
      withSandbox(sandbox, async (sb) => {
        const { inputs, env, served, pausedAtZero, noTestRoute } = on(sb)
        await pausedAtZero()

        const status = await runAction(inputs({ command: 'status' }), env('101'))
        expectExit(status, 'success')
        expect(status.log).toContain(
          'test route: requests with header "x-canary: true" go to green (VirtualService reviews)'
        )
        expect(status.log).toContain('paused before the first step (0%)')

        // While the steps run the route stays, and the weights beside it are no drift.
        let duringSteps: string[] | undefined
        const stop = sb.api.store.onChange((e) => {
          if (e.resource !== 'virtualservices') return
          const primary = weightsOf(e.object).find((w) => w.route === 'primary')
          if (primary?.green === 50)
            duringSteps ??= virtualServiceRoutes(e.object).map((r) => r.name ?? '?')
        })
        const promoted = await runAction(inputs({ command: 'promote', 'pause-at': '' }), env('102'))
        stop()
        expectExit(promoted, 'success')
        expect(promoted.outputs.result).toBe('promoted')
        expect(promoted.log).not.toContain('drift')
        expect(promoted.log).toContain('test route removed from VirtualService reviews')
        expect(duringSteps).toEqual(['istio-bluegreen-test', 'primary'])
        noTestRoute()
        expect(weightsOf(virtualService(sb))).toEqual([
          { route: 'primary', blue: 0, green: 100, other: 0 }
        ])
        expect(await served(HEADER)).toEqual({ 'demo/reviews-green': 50 })
        expect(await served()).toEqual({ 'demo/reviews-green': 50 })
      })
  )

  it.concurrent(
    'a run killed right after the route write: the post step (on-interrupt rollback) removes the route',
    () =>
      withSandbox(sandbox, async (sb) => {
        const { inputs, env, routeNames, served, noTestRoute } = on(sb)
        const base = inputs({ 'lease-duration': '6s' })
        // Every Lease write from the moment the route lands is dropped, so the run is killed
        // right after the route write however fast its next write (the pause) would have been.
        let armed = true
        sb.api.store.onChange((e) => {
          if (!armed || e.resource !== 'virtualservices') return
          if (
            !virtualServiceRoutes(e.object).some((r) => r.name?.startsWith('istio-bluegreen-test'))
          )
            return
          armed = false
          sb.api.setFaults([{ dropRate: 1, verbs: ['update'], resources: ['leases'] }])
        })
        const killed = await runAction(base, env('100'), {
          killWhen: (line) => line.startsWith('test route in place')
        })
        sb.api.setFaults([])
        expect(killed.killed).toBe(true)
        expect(routeNames()).toEqual(['istio-bluegreen-test', 'primary'])
        expect(readLease(sb)?.record).toMatchObject({ phase: 'shifting', step: -1 })

        const post = await runAction({ ...base, 'on-interrupt': 'rollback' }, env('100'), {
          entry: 'post',
          state: killed.state
        })
        expectExit(post, 'success')
        expect(post.log).toContain('the main step did not finish while the rollout was shifting')
        expect(readLease(sb)?.record?.phase).toBe('rolled-back')
        noTestRoute()
        expect(await served(HEADER)).toEqual(await served())
      })
  )
})
