/**
 * Two runs of the built action started at once on one service, as two workflows would: two
 * processes racing for one Lease over HTTP. With wait-for-lock the second waits for the first and
 * then releases into the other color. Every other case of concurrent runs (more runs, no
 * wait-for-lock, resumes racing after a run died) runs in-process, where each interleaving is
 * deterministic (__tests__/inprocess/concurrency.test.ts).
 */
import { jest } from '@jest/globals'
import {
  deploymentState,
  expectExit,
  fastInputs,
  kubeEnv,
  meshFailures,
  readLease,
  recordVirtualServiceWrites,
  runAction,
  sandbox
} from './harness.js'

jest.setTimeout(180_000)

it('with wait-for-lock, 2 deploys at once release one after the other, each into the other color', async () => {
  const sb = await sandbox()
  try {
    const { writes } = recordVirtualServiceWrites(sb)
    const images = ['example.com/reviews:2.0.0', 'example.com/reviews:3.0.0']
    const start = Date.now()
    const done = await Promise.all(
      images.map(async (image, i) => {
        const run = await runAction(
          fastInputs(sb, { image, steps: '100', 'wait-for-lock': '2m' }),
          {
            ...kubeEnv(sb),
            GITHUB_REPOSITORY: 'acme/shop',
            GITHUB_RUN_ID: String(400 + i)
          }
        )
        return { image, run, ms: Date.now() - start }
      })
    )
    for (const d of done) {
      expectExit(d.run, 'success')
      expect(d.run.outputs.result).toBe('promoted')
    }
    const [first, second] = [...done].sort((a, b) => a.ms - b.ms)
    expect([first?.run.outputs['stable-color'], second?.run.outputs['stable-color']]).toEqual([
      'green',
      'blue'
    ])
    // The second says it waited, naming the run it waited for.
    expect(second?.run.log).toMatch(/ — waiting \(wait-for-lock, [\dhms]+ left\)/)
    expect(second?.run.log).toMatch(/acme\/shop#40[01]\.1 \(https:\/\/github\.com\//)
    expect(first?.run.log).not.toContain('wait-for-lock')
    // One after the other: two whole rollouts, never interleaved.
    expect(writes.map((w) => w.weights)).toEqual(['blue=0,green=100', 'blue=100,green=0'])
    expect(deploymentState(sb, 'reviews-green')?.image).toBe(first?.image)
    expect(deploymentState(sb, 'reviews-blue')?.image).toBe(second?.image)
    expect(readLease(sb)?.holder).toBeUndefined()
    expect(meshFailures(sb)).toEqual({})
  } finally {
    await sb.stop()
  }
})
