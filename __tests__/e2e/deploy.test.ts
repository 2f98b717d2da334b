/**
 * The deploy command end to end: dist/index.js against the sandbox API server and its real
 * Prometheus, checking the cluster afterwards: a promotion, a rollback on errors and one on
 * latency, a rollback for want of evidence, other destinations kept, and the record a person
 * must act on when even the rollback cannot write. The same paths, and deploy's others, run
 * in-process too, where each assertion can be exact (__tests__/inprocess/deploy.test.ts).
 */
import { jest } from '@jest/globals'
import type { Sandbox } from '../../sandbox/index.js'
import type { KubeObject } from '../../sandbox/types.js'
import {
  control,
  deploymentState,
  expectExit,
  fastInputs,
  kubeEnv,
  readLease,
  runAction,
  sandbox,
  withSandbox
} from './harness.js'
import { addOtherRoutes, expectOtherRoutesKept } from '../fixtures/releases.js'

jest.setTimeout(180_000)

interface Dest {
  destination: { host: string; subset?: string }
  weight?: number
}

/** Every weight set the VirtualService went through, as `subset=weight` strings, in order. */
function recordWeights(sb: Sandbox): string[] {
  const history: string[] = []
  sb.api.store.onChange((e) => {
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

/** The VirtualService `reviews` as stored. */
function vs(sb: Sandbox): KubeObject {
  const o = sb.api.store.get('virtualservices', 'demo', 'reviews')
  if (!o) throw new Error('VirtualService reviews is gone')
  return o
}

function primaryRoute(sb: Sandbox): Dest[] {
  const vs = sb.api.store.get('virtualservices', 'demo', 'reviews')
  const http = (vs?.spec?.http ?? []) as Array<{ name?: string; route?: Dest[] }>
  return http.find((r) => r.name === 'primary')?.route ?? []
}

describe('deploy', () => {
  it.concurrent('promotes a healthy image: the old color ends at 0, the new one at 100', () =>
    withSandbox(sandbox, async (sb) => {
      const history = recordWeights(sb)
      const run = await runAction(
        fastInputs(sb, { image: 'example.com/reviews:2.0.0' }),
        kubeEnv(sb)
      )
      expectExit(run, 'success')
      expect(run.outputs).toMatchObject({
        result: 'promoted',
        'stable-color': 'green',
        'candidate-color': 'blue',
        weights: 'blue=0,green=100',
        reason: ''
      })
      expect(Number(run.outputs['error-rate'])).toBeLessThan(0.01)
      expect(primaryRoute(sb)).toEqual([
        { destination: { host: 'reviews', subset: 'blue' }, weight: 0 },
        { destination: { host: 'reviews', subset: 'green' }, weight: 100 }
      ])
      expect(history).toEqual([
        'blue=90,green=10',
        'blue=75,green=25',
        'blue=50,green=50',
        'blue=0,green=100'
      ])
      const green = sb.api.store.get('deployments', 'demo', 'reviews-green')
      expect(
        (green?.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template
          .spec.containers[0]?.image
      ).toBe('example.com/reviews:2.0.0')
      expect(deploymentState(sb, 'reviews-blue')?.replicas).toBe(3)
      expect(run.summary).toContain('green promoted')
      expect(run.summary.match(/^\| [1-4] \| /gm)).toHaveLength(4)
      const dr = sb.api.store.get('destinationrules', 'demo', 'reviews')
      expect((dr?.spec as { subsets: unknown[] }).subsets).toEqual([
        { name: 'blue', labels: { version: 'blue' } },
        { name: 'green', labels: { version: 'green' } }
      ])
    })
  )

  it.concurrent(
    'rolls back an image with 20% 5xx during its first step, before the second weight is written',
    () =>
      withSandbox(sandbox, async (sb) => {
        await control(sb, '/images', { image: 'example.com/reviews:2.0.0-bad', errorRate: 0.2 })
        const history = recordWeights(sb)
        const run = await runAction(
          fastInputs(sb, { image: 'example.com/reviews:2.0.0-bad', 'step-duration': '20s' }),
          kubeEnv(sb)
        )
        expectExit(run, 'failure')
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
        expect(deploymentState(sb, 'reviews-green')?.replicas).toBe(0)
        expect(run.log).toContain('::error::rolled back: errors: candidate')
        expect(run.summary).toContain('rolled back to blue')
        expect(run.summary).toMatch(/\*\*Reason:\*\* errors: candidate \d+\/\d+ = /)
        expect(run.summary).toContain('```mermaid\nxychart-beta')
      })
  )

  it.concurrent('rolls back an image whose p99 is above max-p99-latency', () =>
    withSandbox(sandbox, async (sb) => {
      await control(sb, '/images', { image: 'example.com/reviews:2.0.0-slow', p99Ms: 900 })
      const run = await runAction(
        fastInputs(sb, { image: 'example.com/reviews:2.0.0-slow', 'max-p99-latency': '300ms' }),
        kubeEnv(sb)
      )
      expectExit(run, 'failure')
      expect(run.outputs.result).toBe('rolled-back')
      // p99 ≤ 300ms is judged as at most 1% of requests above the bucket at or above 300ms.
      expect(run.outputs.reason).toMatch(
        /latency(-limit)?: candidate \d+\/\d+ = [\d.]+% slower than \d+ms, (above the limit 1\.00%|worse than stable)/
      )
      expect(primaryRoute(sb).map((d) => d.weight)).toEqual([100, 0])
    })
  )

  it.concurrent('with on-inconclusive: rollback, no evidence rolls back instead of pausing', () =>
    withSandbox(sandbox, async (sb) => {
      await control(sb, '/traffic', { rps: 0 })
      const run = await runAction(
        fastInputs(sb, {
          image: 'example.com/reviews:2.0.0',
          'step-duration': '2s',
          'max-inconclusive': '0',
          'on-inconclusive': 'rollback'
        }),
        kubeEnv(sb)
      )
      expectExit(run, 'failure')
      expect(run.outputs.result).toBe('rolled-back')
      expect(run.outputs.reason).toMatch(
        /^inconclusive after 1 step duration at 10%: no data for errors in this step.*\(on-inconclusive: rollback\)$/
      )
      expect(primaryRoute(sb).map((d) => d.weight)).toEqual([100, 0])
    })
  )

  it.concurrent('keeps extra routes and other destinations of the VirtualService as they are', () =>
    withSandbox(sandbox, async (sb) => {
      addOtherRoutes(sb)
      const run = await runAction(
        fastInputs(sb, { image: 'example.com/reviews:2.0.0', steps: '50,100' }),
        kubeEnv(sb)
      )
      expectExit(run, 'success')
      expectOtherRoutesKept(sb)
      expect(run.outputs.weights).toBe('blue=0,green=100')
    })
  )

  it.concurrent(
    'records failed, with what a person must do, when it cannot put traffic back by itself',
    () =>
      withSandbox(sandbox, async (sb) => {
        // Once the candidate exists, the API server refuses VirtualService patches (403).
        sb.api.store.onChange((e) => {
          if (
            e.resource === 'deployments' &&
            e.type === 'ADDED' &&
            e.object.metadata.name === 'reviews-green'
          ) {
            sb.api.setDenials([{ verb: 'patch', resource: 'virtualservices', namespace: 'demo' }])
          }
        })
        const before = vs(sb).metadata.resourceVersion
        const run = await runAction(
          fastInputs(sb, { image: 'example.com/reviews:2.0.0' }),
          kubeEnv(sb)
        )
        expectExit(run, 'failure')
        expect(run.log).toMatch(
          /::error::the rollout stopped on an error: .*forbidden.*; rolling back failed too \(.*\): set the weights of VirtualService reviews to blue=100,green=0 by hand, then scale reviews-green to 0/
        )
        expect(vs(sb).metadata.resourceVersion).toBe(before)
        const record = readLease(sb)?.record
        expect(record?.phase).toBe('failed')
        expect(record?.reason).toContain('by hand')
      })
  )
})
