/**
 * The deploy command end to end: dist/index.js against the sandbox API server and its real
 * Prometheus, checking the cluster afterwards: a promotion and a rollback through the runner's
 * protocol. Every other path of deploy runs in-process (__tests__/inprocess/deploy.test.ts).
 */
import { jest } from '@jest/globals'
import type { Sandbox } from '../../sandbox/index.js'
import {
  control,
  deploymentState,
  expectExit,
  fastInputs,
  kubeEnv,
  runAction,
  sandbox,
  withSandbox
} from './harness.js'

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
})
