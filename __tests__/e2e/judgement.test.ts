/**
 * The judge end to end on noisy traffic: Poisson arrivals and per-request 5xx draws in the mesh
 * simulator, the real Prometheus, and dist/index.js. Seeded, though wall-clock ticks make each run
 * a different draw: every expectation holds with a wide margin at these rates.
 */
import { jest } from '@jest/globals'
import type { Sandbox } from '../../sandbox/index.js'
import { SEED_IMAGE } from '../../sandbox/seed.js'
import {
  control,
  expectExit,
  fastInputs,
  kubeEnv,
  readLease,
  runAction,
  sandbox,
  setTraffic,
  versions,
  virtualService,
  waitForSeries,
  weightsOf,
  withSandbox
} from './harness.js'

jest.setTimeout(240_000)

/** Inputs with the judge's defaults: no negligible-rate shortcut for fast rollouts. */
function judged(sb: Sandbox, extra: Record<string, string>): Record<string, string> {
  const inputs = fastInputs(sb, extra)
  delete inputs['negligible-rate']
  return inputs
}

describe('judgement on noisy traffic', () => {
  it.concurrent(
    'does not roll back a healthy candidate on thin traffic: it pauses as inconclusive, saying what a decision needs',
    () =>
      withSandbox(
        () => sandbox({ rps: 2 }),
        async (sb) => {
          await setTraffic(sb, { rps: 2, noise: 'poisson', seed: 7 })
          const run = await runAction(
            judged(sb, {
              image: 'example.com/reviews:2.0.0',
              steps: '25,50,100',
              'step-duration': '5s'
            }),
            kubeEnv(sb)
          )
          expect(run.outputs.result).toBe('paused')
          expect(run.outputs.reason).toMatch(
            /^inconclusive after 3 step durations at 50%: .*not yet shown to be less than 3× the stable's \(\d+% of the evidence; about [\d,]+ more requests/
          )
          expect(run.log).not.toContain('rolling back')
          expectExit(run, 'failure')
          // Paused where it stood, at 50%: a person resumes, promotes or rolls back.
          expect(weightsOf(virtualService(sb))[0]).toMatchObject({ blue: 50, green: 50 })
          expect(readLease(sb)?.record?.phase).toBe('paused')
        }
      )
  )

  it.concurrent('rolls back a 3× regression at 100 rps, on the relative evidence', () =>
    withSandbox(
      () => sandbox({ rps: 100 }),
      async (sb) => {
        await control(sb, '/images', { image: SEED_IMAGE, errorRate: 0.01 })
        await control(sb, '/images', { image: 'example.com/reviews:2.0.0-worse', errorRate: 0.03 })
        await setTraffic(sb, { rps: 100, noise: 'poisson', seed: 11 })
        const run = await runAction(
          judged(sb, {
            image: 'example.com/reviews:2.0.0-worse',
            'step-duration': '10s',
            'check-interval': '2s',
            'max-inconclusive': '6',
            // The limit would decide too; this is about the comparison with the stable.
            'max-error-rate': '50%'
          }),
          kubeEnv(sb)
        )
        expectExit(run, 'failure')
        expect(run.outputs.result).toBe('rolled-back')
        expect(run.outputs.reason).toMatch(
          /^errors: candidate \d+\/\d+ = [\d.]+% 5xx, worse than stable \d+\/\d+ = [\d.]+% \([\d.]+×\) at 99% confidence$/
        )
        expect(weightsOf(virtualService(sb))[0]).toMatchObject({ blue: 100, green: 0 })
        const metrics = JSON.parse(run.outputs.metrics ?? '{}') as Record<
          string,
          { candidate: number; stable: number }
        >
        expect(metrics.errors?.candidate).toBeGreaterThan(1.5 * (metrics.errors?.stable ?? 1))
      }
    )
  )

  it.concurrent('rolls back 20% 5xx at its first check', () =>
    withSandbox(
      () => sandbox({ rps: 200 }),
      async (sb) => {
        await control(sb, '/images', { image: 'example.com/reviews:2.0.0-bad', errorRate: 0.2 })
        await setTraffic(sb, { rps: 200, noise: 'poisson', seed: 3 })
        const run = await runAction(
          judged(sb, {
            image: 'example.com/reviews:2.0.0-bad',
            'step-duration': '20s',
            'check-interval': '5s'
          }),
          kubeEnv(sb)
        )
        expectExit(run, 'failure')
        expect(run.outputs.result).toBe('rolled-back')
        expect(run.outputs.reason).toMatch(
          /^errors: candidate \d+\/\d+ = [\d.]+% 5xx, above the limit 1\.00%/
        )
        const checks = readLease(sb)?.record?.checks ?? []
        // The first check that saw the candidate's requests decided.
        const first = checks.findIndex((c) => (c.metrics?.errors?.c?.[1] ?? 0) > 0)
        expect(first).toBeGreaterThanOrEqual(0)
        expect(checks).toHaveLength(first + 1)
        expect(checks[first]?.verdict).toBe('fail')
        expect(checks[first]?.weight).toBe(10)
      }
    )
  )

  it.concurrent('rolls back on a custom gauge that the built-in checks pass', () =>
    withSandbox(sandbox, async (sb) => {
      await control(sb, '/images', { image: SEED_IMAGE, gauges: { queue_lag: 1 } })
      await control(sb, '/images', {
        image: 'example.com/reviews:2.0.0-laggy',
        gauges: { queue_lag: 12 }
      })
      await setTraffic(sb, { rps: 50, noise: 'poisson', seed: 5 })
      // Prometheus scrapes every second: wait for the stable's gauge before preflight asks for it.
      await waitForSeries(sb, 'sandbox_app_gauge{gauge="queue_lag",workload="reviews-blue"}')
      const run = await runAction(
        fastInputs(sb, {
          image: 'example.com/reviews:2.0.0-laggy',
          metrics: [
            '- name: queue-lag',
            '  query: max(sandbox_app_gauge{gauge="queue_lag", namespace="{{ namespace }}", workload="{{ workload }}"})',
            '  max: 5'
          ].join('\n')
        }),
        kubeEnv(sb)
      )
      expectExit(run, 'failure')
      expect(run.outputs.result).toBe('rolled-back')
      expect(run.outputs.reason).toBe('queue-lag 12 above max 5 at 2 checks in a row')
      const metrics = JSON.parse(run.outputs.metrics ?? '{}') as Record<string, { value?: number }>
      expect(metrics['queue-lag']?.value).toBe(12)
      // The built-in metrics found nothing wrong with it.
      const last = readLease(sb)?.record?.checks.at(-1)
      expect(last?.metrics?.errors?.r ?? 0).toBeLessThan(1)
      expect(run.summary).toContain('queue-lag (≤ 5)')
    })
  )

  it.concurrent.each([
    [
      'a PromQL parse error',
      'max(sandbox_app_gauge{workload="{{ workload }}"}',
      /^metric queue-lag: Prometheus at http:\/\/127\.0\.0\.1:\d+ rejected the query \(bad_data: .*\); .*check its query in input "metrics"\. The query for the stable: max\(sandbox_app_gauge\{workload="reviews-blue"\}$/
    ],
    [
      'no data',
      'max(no_such_metric{workload="{{ workload }}"})',
      /^metric queue-lag: no data for queue-lag \(query: max\(no_such_metric\{workload="reviews-blue"\}\)\); check its query in input "metrics"/
    ]
  ])('refuses a custom metric with %s before changing anything', (_what, query, message) =>
    withSandbox(sandbox, async (sb) => {
      const before = versions(sb)
      const run = await runAction(
        fastInputs(sb, {
          image: 'example.com/reviews:2.0.0',
          metrics: `- name: queue-lag\n  query: '${query}'\n  max: 5`
        }),
        kubeEnv(sb)
      )
      expectExit(run, 'failure')
      const errors = run.log.split('\n').filter((l) => l.startsWith('::error::'))
      expect(errors).toHaveLength(1)
      expect(errors[0]?.slice('::error::'.length)).toMatch(message)
      expect(versions(sb)).toEqual(before)
    })
  )
})
