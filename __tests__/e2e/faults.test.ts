/**
 * API server faults: with a fifth of the action's requests failing (5xx or a dropped connection),
 * 409 storms on the VirtualService and, in one case, 300 ms on every request, a healthy image is
 * still promoted and a failing one still rolled back. Every VirtualService write must change only
 * the color weights, in the planned order, and keep what another writer changed meanwhile.
 */
import { jest } from '@jest/globals'
import type { Sandbox } from '../../sandbox/index.js'
import type { FaultRule, KubeObject } from '../../sandbox/types.js'
import {
  apiRequest,
  control,
  deploymentState,
  expectExit,
  fastInputs,
  kubeEnv,
  meshFailures,
  readLease,
  recordVirtualServiceWrites,
  runAction,
  sandbox,
  virtualService,
  weightsOf,
  withoutColorWeights,
  withSandbox
} from './harness.js'

jest.setTimeout(240_000)

const HEALTHY = 'example.com/reviews:2.0.0'
const FAILING = 'example.com/reviews:2.0.1'
const PLAN = ['blue=90,green=10', 'blue=75,green=25', 'blue=50,green=50', 'blue=0,green=100']

/** 10% 5xx plus 10% dropped connections on every request; half the VirtualService patches 409. */
const FAULTS: FaultRule[] = [
  { errorRate: 0.1 },
  { dropRate: 0.1 },
  { conflictRate: 0.5, verbs: ['patch'], resources: ['virtualservices'] }
]
const VS_PATH = '/apis/networking.istio.io/v1/namespaces/demo/virtualservices/reviews'

/** Send `n` requests at once; how many were answered, failed with 5xx, 409, or were dropped. */
async function probe(
  n: number,
  send: () => Promise<{ status: number }>
): Promise<{ ok: number; errors: number; conflicts: number; dropped: number }> {
  const results = await Promise.all(
    Array.from({ length: n }, () =>
      send().then(
        (r) => r.status,
        () => 0
      )
    )
  )
  return {
    ok: results.filter((s) => s >= 200 && s < 300).length,
    errors: results.filter((s) => s >= 500).length,
    conflicts: results.filter((s) => s === 409).length,
    dropped: results.filter((s) => s === 0).length
  }
}

/**
 * A write of the action changed nothing but the weights of the color destinations (the first may
 * add the candidate's destination beside the stable one, with a weight and nothing else).
 */
function expectOnlyColorWeightsChanged(before: KubeObject, after: KubeObject): void {
  type Route = { route?: Array<{ destination: { host?: string; subset?: string } }> }
  const added = structuredClone(after)
  const beforeRoutes = (before.spec?.http ?? []) as Route[]
  ;((added.spec?.http ?? []) as Route[]).forEach((r, i) => {
    const had = new Set((beforeRoutes[i]?.route ?? []).map((d) => d.destination.subset))
    const fresh = (r.route ?? []).filter((d) => !had.has(d.destination.subset))
    for (const d of fresh) {
      expect(d).toEqual({
        destination: { host: 'reviews', subset: expect.stringMatching(/^(blue|green)$/) },
        weight: expect.any(Number)
      })
    }
    r.route = (r.route ?? []).filter((d) => !fresh.includes(d))
  })
  expect(withoutColorWeights(added)).toEqual(withoutColorWeights(before))
}

/** Another writer changes fields the action does not own (a label, a route timeout). */
function touchUnrelatedFields(sb: Sandbox): void {
  const vs = virtualService(sb) as KubeObject
  const http = vs.spec?.http as Array<Record<string, unknown>>
  ;(http[0] as Record<string, unknown>).timeout = '10s'
  vs.metadata.labels = { ...vs.metadata.labels, 'touched-by': 'another-controller' }
  sb.api.store.replace('virtualservices', vs)
}

describe('API faults', () => {
  it.concurrent(
    'the control API takes several rules at once; they hit HTTP clients, not the mesh',
    () =>
      withSandbox(sandbox, async (sb) => {
        const set = (await control(sb, '/faults', { rules: FAULTS })) as { faults: FaultRule[] }
        expect(set.faults).toEqual(FAULTS)
        const state = (await (await fetch(`${sb.controlUrl}/state`)).json()) as {
          faults: FaultRule[]
        }
        expect(state.faults).toEqual(FAULTS)

        const before = sb.mesh.state().flows.reduce((n, f) => n + f.requests, 0)
        // Reads: about 10% 5xx and 10% dropped.
        const reads = await probe(200, () => apiRequest(sb, 'GET', VS_PATH))
        expect(reads.errors).toBeGreaterThan(0)
        expect(reads.dropped).toBeGreaterThan(0)
        expect(reads.conflicts).toBe(0)
        expect(reads.errors + reads.dropped).toBeLessThan(100)
        // Patches of the VirtualService: on top of those, about half of the rest are 409s. (A
        // no-op JSON Patch: a `test` that holds.)
        const patches = await probe(100, () =>
          apiRequest(
            sb,
            'PATCH',
            VS_PATH,
            [{ op: 'test', path: '/metadata/name', value: 'reviews' }],
            'application/json-patch+json'
          )
        )
        expect(patches.conflicts).toBeGreaterThan(15)
        expect(patches.ok).toBeGreaterThan(10)
        // The mesh reads the store in-process: it keeps routing as before, without a failure.
        const timed = Date.now()
        await new Promise((r) => setTimeout(r, 1000))
        const after = sb.mesh.state().flows.reduce((n, f) => n + f.requests, 0)
        expect(after - before).toBeGreaterThanOrEqual(((Date.now() - timed) / 1000) * 50 * 0.8)
        expect(meshFailures(sb)).toEqual({})
      })
  )

  it.concurrent.each([
    ['a healthy image is promoted', HEALTHY, [] as FaultRule[], PLAN],
    [
      'a healthy image is promoted, with 300 ms on every request too',
      HEALTHY,
      [{ latencyMs: 300 }],
      PLAN
    ],
    ['a 20%-5xx image is rolled back', FAILING, [] as FaultRule[], PLAN]
  ])('under 5xx, dropped connections and 409 storms: %s', (_, image, extra, plan) =>
    withSandbox(sandbox, async (sb) => {
      const failing = image === FAILING
      if (failing) await control(sb, '/images', { image: FAILING, errorRate: 0.2 })
      await control(sb, '/faults', { rules: [...FAULTS, ...extra] })
      const { writes } = recordVirtualServiceWrites(sb)
      // After the first weight write, another controller edits fields the action does not own.
      let touched = false
      sb.api.store.onChange((e) => {
        if (touched || e.resource !== 'virtualservices') return
        touched = true
        setImmediate(() => touchUnrelatedFields(sb))
      })

      const steps = plan.map((w) => w.split('green=')[1]).join(',')
      const run = await runAction(fastInputs(sb, { image, steps }), kubeEnv(sb))
      expectExit(run, failing ? 'failure' : 'success')
      expect(run.outputs.result).toBe(failing ? 'rolled-back' : 'promoted')
      if (failing)
        expect(run.outputs.reason).toMatch(
          /^errors: candidate \d+\/\d+ = [\d.]+% 5xx, (above the limit 1\.00%|worse than stable .*) at 99% confidence$/
        )

      // The other controller's write is the one that added its label; every other write is the
      // action's, and changed nothing but color weights.
      const external = writes.filter(
        (w) => !w.before.metadata.labels?.['touched-by'] && w.after.metadata.labels?.['touched-by']
      )
      expect(external).toHaveLength(1)
      const mine = writes.filter((w) => !external.includes(w))
      for (const w of mine) expectOnlyColorWeightsChanged(w.before, w.after)
      const sequence = mine.map((w) => w.weights)
      if (failing) {
        // Some prefix of the plan, then the stable color back to 100% in one write.
        const k = sequence.length - 1
        expect(k).toBeGreaterThanOrEqual(1)
        expect(sequence).toEqual([...plan.slice(0, k), 'blue=100,green=0'])
      } else expect(sequence).toEqual(plan)

      const vs = virtualService(sb) as KubeObject
      expect(vs.metadata.labels?.['touched-by']).toBe('another-controller')
      expect((vs.spec?.http as Array<{ timeout?: string }>)[0]?.timeout).toBe('10s')
      const final = failing ? { blue: 100, green: 0 } : { blue: 0, green: 100 }
      expect(weightsOf(vs)).toEqual([{ route: 'primary', ...final, other: 0 }])
      const lease = readLease(sb)
      expect(lease?.holder).toBeUndefined()
      expect(lease?.record).toMatchObject({
        phase: failing ? 'rolled-back' : 'promoted',
        weights: final
      })
      if (failing) expect(deploymentState(sb, 'reviews-green')?.replicas).toBe(0)
      expect(meshFailures(sb)).toEqual({})
    })
  )
})
