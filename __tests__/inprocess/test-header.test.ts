/**
 * `test-header` and `pause-at: 0` in-process, on a VirtualService and on an HTTPRoute: paused at
 * 0, only requests with the header reach the candidate (the mesh's probes say which workload
 * served them) and every other request the stable; then promote, a person's rollback or abort, a
 * route that already matches the header, and a run killed right after it wrote the route, and
 * each time nothing is left of the route. (Moved from __tests__/e2e/test-header.test.ts and
 * gateway-test-header.test.ts, which keep the pause at 0 with promote and with rollback through
 * dist/index.js, and the post step after a kill.)
 */
import {
  deploymentState,
  lockExpiresAt,
  meshFailures,
  readLease,
  versions,
  virtualService,
  weightsOf
} from '../fixtures/cluster.js'
import {
  expectHttpRoutePausedAtZero,
  expectNoTestRule,
  expectVirtualServicePausedAtZero,
  httpRouteRules,
  virtualServiceRoutes
} from '../fixtures/test-header.js'
import { expectRun, release, type RunResult, World } from './world.js'

const IMAGE = 'example.com/reviews:2.0.0'
const HEADER = { 'x-canary': 'true' }
const ENV = (runId: string) => ({ GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: runId })

let world: World
afterEach(() => world.close())

/** Names of the HTTP routes of VirtualService reviews, in order. */
function routeNames(): string[] {
  return virtualServiceRoutes(virtualService(world)).map((r) => r.name ?? '?')
}

/** Which workloads served 50 probes, with or without headers; none failed. */
function served(headers?: Record<string, string>): Record<string, number> {
  const r = world.probe({
    namespace: 'demo',
    service: 'reviews',
    count: 50,
    ...(headers ? { headers } : {})
  })
  expect(r.failed).toEqual({})
  return Object.fromEntries(Object.entries(r.workloads).map(([w, n]) => [w, n.requests]))
}

describe('on a VirtualService', () => {
  beforeEach(async () => {
    world = await World.create()
  })

  function inputs(extra: Record<string, string> = {}): Record<string, string> {
    return release({
      image: IMAGE,
      steps: '50,100',
      'test-header': 'X-Canary: true',
      'pause-at': '0',
      ...extra
    })
  }

  /** Deploy paused at 0, and what the cluster and the mesh say then. */
  async function pausedAtZero(): Promise<void> {
    const run = await world.run(inputs(), ENV('100'))
    expectRun(run, 'success')
    expectVirtualServicePausedAtZero(world, run, IMAGE)
    // Only the header reaches the candidate; everything else, the stable.
    expect(served(HEADER)).toEqual({ 'demo/reviews-green': 50 })
    expect(served({ 'x-canary': 'false' })).toEqual({ 'demo/reviews-blue': 50 })
    expect(served()).toEqual({ 'demo/reviews-blue': 50 })
  }

  const noTestRoute = (): void => expect(routeNames()).toEqual(['primary'])

  it('pauses with only the header reaching the candidate; status says so; promote runs the steps and removes the route', async () => {
    await pausedAtZero()

    const status = await world.run(inputs({ command: 'status' }), ENV('101'))
    expectRun(status, 'success')
    expect(status.log).toContain(
      'test route: requests with header "x-canary: true" go to green (VirtualService reviews)'
    )
    expect(status.log).toContain('paused before the first step (0%)')

    // While the steps run the route stays, and the weights beside it are no drift.
    let duringSteps: string[] | undefined
    const stop = world.store.onChange((e) => {
      if (e.resource !== 'virtualservices') return
      const primary = weightsOf(e.object).find((w) => w.route === 'primary')
      if (primary?.green === 50)
        duringSteps ??= virtualServiceRoutes(e.object).map((r) => r.name ?? '?')
    })
    const promoted = await world.run(inputs({ command: 'promote', 'pause-at': '' }), ENV('102'))
    stop()
    expectRun(promoted, 'success')
    expect(promoted.outputs.result).toBe('promoted')
    expect(promoted.log).not.toContain('drift')
    expect(promoted.log).toContain('test route removed from VirtualService reviews')
    expect(duringSteps).toEqual(['istio-bluegreen-test', 'primary'])
    noTestRoute()
    expect(weightsOf(virtualService(world))).toEqual([
      { route: 'primary', blue: 0, green: 100, other: 0 }
    ])
    expect(served(HEADER)).toEqual({ 'demo/reviews-green': 50 })
    expect(served()).toEqual({ 'demo/reviews-green': 50 })
    expect(meshFailures(world)).toEqual({})
  })

  it.each(['rollback', 'abort'])(
    "a person's %s from the pause removes the route and scales the candidate down",
    async (command) => {
      await pausedAtZero()
      const rb = await world.run(inputs({ command, 'pause-at': '' }), ENV('101'))
      // A person's command that did what was asked succeeds.
      expectRun(rb, 'success')
      expect(rb.outputs.result).toBe('rolled-back')
      expect(rb.log).toContain('test route removed from VirtualService reviews')
      noTestRoute()
      expect(weightsOf(virtualService(world))).toEqual([
        { route: 'primary', blue: 100, green: 0, other: 0 }
      ])
      expect(deploymentState(world, 'reviews-green')?.replicas).toBe(0)
      expect(served(HEADER)).toEqual({ 'demo/reviews-blue': 50 })
      expect(readLease(world)?.record).toMatchObject({
        phase: 'rolled-back',
        stoppedBy: { command }
      })
    }
  )

  it('a shifted route that already matches the header is refused at preflight, nothing changed', async () => {
    const vs = virtualService(world)
    if (!vs) throw new Error('the seed has VirtualService reviews')
    const http = virtualServiceRoutes(vs).map((r) => ({
      ...r,
      match: [{ headers: { 'X-Canary': { exact: 'no' } } }]
    }))
    world.store.replace('virtualservices', { ...vs, spec: { ...vs.spec, http } })
    const before = versions(world)
    const run = await world.run(inputs(), ENV('100'))
    expectRun(run, 'failure')
    expect(run.failure).toBe(
      'VirtualService reviews: input "test-header": HTTP route "primary" already matches header "x-canary"; choose another header name for the test route'
    )
    expect(versions(world)).toEqual(before)
  })

  it('a run killed right after the route write: the next deploy, once the lock expired, removes the route', async () => {
    const base = inputs({ 'lease-duration': '6s' })
    const killed = world.start(base, ENV('100'))
    killed.killWhen((line) => line.startsWith('info: test route in place'))
    const dead: RunResult = await world.finish(killed)
    expect(dead.killed).toBe(true)
    expect(routeNames()).toEqual(['istio-bluegreen-test', 'primary'])
    expect(readLease(world)?.record).toMatchObject({ phase: 'shifting', step: -1 })

    await world.until(
      'the dead run’s lock to expire',
      () => world.time.now() > lockExpiresAt(readLease(world)) + 250
    )
    // A release without test-header: whatever is left of the route is the recovery's doing.
    const next = await world.run(
      release({ image: 'example.com/reviews:3.0.0', steps: '50,100' }),
      ENV('101')
    )
    expectRun(next, 'success')
    expect(next.log).toContain('interrupted rollout rolled back before a new release')
    expect(next.outputs.result).toBe('promoted')
    noTestRoute()
    expect(served(HEADER)).toEqual(served())
  })
})

describe('on an HTTPRoute (mesh parent, first release)', () => {
  beforeEach(async () => {
    world = await World.create({ seed: { router: 'http-route-mesh' } })
  })

  function inputs(extra: Record<string, string> = {}): Record<string, string> {
    return release({
      router: 'gateway-api',
      image: IMAGE,
      steps: '50,100',
      'test-header': 'x-canary: true',
      'pause-at': '0',
      ...extra
    })
  }

  async function pausedAtZero(): Promise<void> {
    const run = await world.run(inputs(), ENV('100'))
    expectRun(run, 'success')
    expectHttpRoutePausedAtZero(world, run)
    expect(served(HEADER)).toEqual({ 'demo/reviews-green': 50 })
    expect(served({ 'x-canary': 'false' })).toEqual({ 'demo/reviews-blue': 50 })
    expect(served()).toEqual({ 'demo/reviews-blue': 50 })
  }

  const noTestRule = (): void => expectNoTestRule(world)

  it('paused at 0 only the header reaches the candidate; promote runs the steps and removes the rule', async () => {
    await pausedAtZero()
    const promoted = await world.run(inputs({ command: 'promote', 'pause-at': '' }), ENV('101'))
    expectRun(promoted, 'success')
    expect(promoted.outputs.result).toBe('promoted')
    noTestRule()
    expect(
      httpRouteRules(world).map((r) => r.backendRefs?.map((b) => `${b.name}=${b.weight}`))
    ).toEqual([['reviews-blue=0', 'reviews-green=100']])
    expect(served(HEADER)).toEqual({ 'demo/reviews-green': 50 })
    expect(meshFailures(world)).toEqual({})
  })

  it.each(['rollback', 'abort'])(
    '%s from the pause removes the rule, and everything goes to the stable',
    async (command) => {
      await pausedAtZero()
      const rolledBack = await world.run(inputs({ command, 'pause-at': '' }), ENV('101'))
      expectRun(rolledBack, 'success')
      expect(rolledBack.outputs.result).toBe('rolled-back')
      noTestRule()
      expect(served(HEADER)).toEqual({ 'demo/reviews-blue': 50 })
      expect(readLease(world)?.record).toMatchObject({
        phase: 'rolled-back',
        stoppedBy: { command }
      })
      expect(meshFailures(world)).toEqual({})
    }
  )
})
