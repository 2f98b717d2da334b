/**
 * `test-header` and `pause-at: 0` on an HTTPRoute with a Service parent (mesh), through the built
 * action, from a first release (one bare backendRef): paused at 0, the test rule sends only
 * requests with the header to `reviews-green`, every other request to the stable; promote and
 * rollback each leave nothing of the rule.
 */
import { jest } from '@jest/globals'
import type { Sandbox } from '../../sandbox/index.js'
import type { KubeObject } from '../../sandbox/types.js'
import {
  expectExit,
  fastInputs,
  gatewayApiSandbox,
  httpRoute,
  kubeEnv,
  meshFailures,
  probe,
  readLease,
  runAction
} from './harness.js'

jest.setTimeout(180_000)

const IMAGE = 'example.com/reviews:2.0.0'

interface Rule {
  name?: string
  matches?: unknown[]
  backendRefs?: Array<{ name: string; port?: number; weight?: number }>
}

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

  function rules(route: KubeObject | undefined = httpRoute(sb)): Rule[] {
    return (route?.spec?.rules ?? []) as Rule[]
  }

  /** Which workloads served 50 probes, with or without headers. */
  async function served(headers?: Record<string, string>): Promise<Record<string, number>> {
    const r = await probe(sb, {
      namespace: 'demo',
      service: 'reviews',
      count: 50,
      ...(headers ? { headers } : {})
    })
    expect(r.failed).toEqual({})
    return Object.fromEntries(Object.entries(r.workloads).map(([w, n]) => [w, n.requests]))
  }

  async function pausedAtZero(): Promise<void> {
    const run = await runAction(inputs(), env('100'))
    expectExit(run, 'success')
    expect(run.outputs.result).toBe('paused')
    expect(readLease(sb)?.record).toMatchObject({
      phase: 'paused',
      weights: { blue: 100, green: 0 },
      config: { testHeader: { name: 'x-canary', value: 'true' } }
    })
    // The test rule first, to the candidate's Service alone; the shifted rule adopted (its bare
    // backendRef renamed to the stable's Service, the candidate's beside it) at 0%.
    const [test, shifted, ...rest] = rules()
    expect(rest).toEqual([])
    expect(test).toMatchObject({
      name: 'istio-bluegreen-test',
      matches: [
        {
          path: { type: 'PathPrefix', value: '/' },
          headers: [{ type: 'Exact', name: 'x-canary', value: 'true' }]
        }
      ],
      backendRefs: [{ name: 'reviews-green', port: 9080 }]
    })
    expect(shifted?.backendRefs?.map((r) => `${r.name}=${r.weight}`)).toEqual([
      'reviews-blue=100',
      'reviews-green=0'
    ])
    expect(await served({ 'x-canary': 'true' })).toEqual({ 'demo/reviews-green': 50 })
    expect(await served({ 'x-canary': 'false' })).toEqual({ 'demo/reviews-blue': 50 })
    expect(await served()).toEqual({ 'demo/reviews-blue': 50 })
  }

  const noTestRule = (): void =>
    expect(rules().filter((r) => r.name?.startsWith('istio-bluegreen-test'))).toEqual([])

  return { inputs, env, rules, served, pausedAtZero, noTestRule }
}

/** A sandbox for one case, stopped after it. */
async function withSandbox(body: (sb: Sandbox) => Promise<void>): Promise<void> {
  const sb = await gatewayApiSandbox()
  try {
    await body(sb)
  } finally {
    await sb.stop()
  }
}

describe('test-header with pause-at 0, on an HTTPRoute (mesh parent, first release)', () => {
  it.concurrent(
    'paused at 0 only the header reaches the candidate; promote runs the steps and removes the rule',
    () =>
      withSandbox(async (sb) => {
        const { inputs, env, rules, served, pausedAtZero, noTestRule } = on(sb)
        await pausedAtZero()
        const promoted = await runAction(inputs({ command: 'promote', 'pause-at': '' }), env('101'))
        expectExit(promoted, 'success')
        expect(promoted.outputs.result).toBe('promoted')
        noTestRule()
        expect(rules().map((r) => r.backendRefs?.map((b) => `${b.name}=${b.weight}`))).toEqual([
          ['reviews-blue=0', 'reviews-green=100']
        ])
        expect(await served({ 'x-canary': 'true' })).toEqual({ 'demo/reviews-green': 50 })
        expect(meshFailures(sb)).toEqual({})
      })
  )

  it.concurrent('rollback from the pause removes the rule, and everything goes to the stable', () =>
    withSandbox(async (sb) => {
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
