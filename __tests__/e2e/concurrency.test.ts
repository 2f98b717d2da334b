/**
 * Several deploys of one service started at once (runs of different workflows, or a workflow
 * without a concurrency group): exactly one proceeds; the others fail fast naming the run that
 * holds the lock, or, with wait-for-lock, wait for it and then release one after the other.
 */
import { jest } from '@jest/globals'
import type { Sandbox } from '../../sandbox/index.js'
import {
  type ActionRun,
  deploymentState,
  expectExit,
  fastInputs,
  kubeEnv,
  meshFailures,
  readLease,
  recordVirtualServiceWrites,
  runAction,
  sandbox,
  waitForLockExpiry
} from './harness.js'

jest.setTimeout(240_000)

const SERVER = 'https://github.example.com'

interface Timed {
  runId: string
  run: ActionRun
  /** Seconds from the common start to the end of this run. */
  seconds: number
}

/** Start one deploy per entry at the same moment, each as its own workflow run. */
async function deployAtOnce(
  sb: Sandbox,
  runs: Array<{ runId: string; inputs: Record<string, string> }>
): Promise<Timed[]> {
  const start = Date.now()
  return Promise.all(
    runs.map(async ({ runId, inputs }) => {
      const run = await runAction(inputs, {
        ...kubeEnv(sb),
        GITHUB_REPOSITORY: 'acme/shop',
        GITHUB_SERVER_URL: SERVER,
        GITHUB_RUN_ID: runId,
        GITHUB_ACTOR: 'octocat'
      })
      return { runId, run, seconds: (Date.now() - start) / 1000 }
    })
  )
}

function holderText(runId: string): string {
  return `acme/shop#${runId}.1 (${SERVER}/acme/shop/actions/runs/${runId})`
}

describe('concurrent deploys of one service', () => {
  let sb: Sandbox
  beforeEach(async () => {
    sb = await sandbox()
  })
  afterEach(async () => {
    await sb.stop()
  })

  it.each([2, 5])(
    '%i deploys at once: exactly one proceeds, the others fail fast naming it',
    async (n) => {
      const { writes } = recordVirtualServiceWrites(sb)
      const runs = Array.from({ length: n }, (_, i) => ({
        runId: String(300 + i),
        inputs: fastInputs(sb, { image: `example.com/reviews:2.0.${i}` })
      }))
      const done = await deployAtOnce(sb, runs)

      const winners = done.filter((d) => d.run.code === 0)
      expect(winners.map((w) => w.run.outputs.result)).toEqual(['promoted'])
      const winner = winners[0] as Timed
      // The winner baked 4 steps of 5 s; the others gave up in a fraction of that.
      expect(winner.seconds).toBeGreaterThan(20)
      for (const loser of done.filter((d) => d !== winner)) {
        expectExit(loser.run, 'failure')
        expect({ runId: loser.runId, fast: loser.seconds < 10 }).toEqual({
          runId: loser.runId,
          fast: true
        })
        // Refused before it took the lock (admission), or when it tried to (acquire): either
        // way the message names the holder and its run.
        expect(loser.run.log).toMatch(
          new RegExp(
            `::error::(deploy refused: )?${escape(holderText(winner.runId))} is running a rollout of this service right now \\(it last renewed the lock at .*; wait for it to finish, or let this run wait with wait-for-lock`
          )
        )
        // It changed nothing.
        expect(loser.run.log).not.toContain('::group::Deploy')
      }
      // Only the winner's writes: its 4 steps, nobody else's in between.
      expect(writes.map((w) => w.weights)).toEqual([
        'blue=90,green=10',
        'blue=75,green=25',
        'blue=50,green=50',
        'blue=0,green=100'
      ])
      const winnerImage = winner.run.outputs['stable-color'] === 'green' ? 'green' : 'blue'
      expect(deploymentState(sb, `reviews-${winnerImage}`)?.image).toBe(
        runs.find((r) => r.runId === winner.runId)?.inputs.image
      )
      const lease = readLease(sb)
      expect(lease?.holder).toBeUndefined()
      expect(lease?.record).toMatchObject({
        id: `acme/shop#${winner.runId}.1`,
        phase: 'promoted'
      })
      expect(meshFailures(sb)).toEqual({})
    }
  )

  it('with wait-for-lock, 3 deploys at once release one after the other, each into the other color', async () => {
    const { writes } = recordVirtualServiceWrites(sb)
    const images = [
      'example.com/reviews:2.0.0',
      'example.com/reviews:3.0.0',
      'example.com/reviews:4.0.0'
    ]
    const runs = images.map((image, i) => ({
      runId: String(400 + i),
      inputs: fastInputs(sb, {
        image,
        steps: '25,100',
        'step-duration': '4s',
        'wait-for-lock': '2m'
      })
    }))
    const done = await deployAtOnce(sb, runs)
    for (const d of done) {
      expectExit(d.run, 'success')
      expect(d.run.outputs.result).toBe('promoted')
    }
    const order = [...done].sort((a, b) => a.seconds - b.seconds)
    // Each later run deployed into the color the previous one had left: green, blue, green.
    expect(order.map((d) => d.run.outputs['stable-color'])).toEqual(['green', 'blue', 'green'])
    // The two that waited say so, naming the run they waited for.
    for (const d of order.slice(1)) {
      expect(d.run.log).toMatch(/ — waiting \(wait-for-lock, [\dhms]+ left\)/)
      expect(d.run.log).toMatch(/acme\/shop#40[0-2]\.1 \(https:\/\/github\.example\.com\//)
    }
    expect(order[0]?.run.log).not.toContain('wait-for-lock')
    // One after the other: the weight writes are three whole rollouts, never interleaved.
    expect(writes.map((w) => w.weights)).toEqual([
      'blue=75,green=25',
      'blue=0,green=100',
      'blue=25,green=75',
      'blue=100,green=0',
      'blue=75,green=25',
      'blue=0,green=100'
    ])
    const last = order[2] as Timed
    const lastImage = runs.find((r) => r.runId === last.runId)?.inputs.image
    expect(deploymentState(sb, 'reviews-green')?.image).toBe(lastImage)
    expect(deploymentState(sb, 'reviews-blue')?.image).toBe(
      runs.find((r) => r.runId === order[1]?.runId)?.inputs.image
    )
    const lease = readLease(sb)
    expect(lease?.holder).toBeUndefined()
    expect(lease?.record).toMatchObject({ id: `acme/shop#${last.runId}.1`, phase: 'promoted' })
    expect(meshFailures(sb)).toEqual({})
  })

  it('after a run died, 3 resumes at once once its lock expired: exactly one takes over', async () => {
    const inputs = fastInputs(sb, { image: 'example.com/reviews:2.0.0', 'lease-duration': '6s' })
    const killed = await runAction(
      inputs,
      { ...kubeEnv(sb), GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '500' },
      { killWhen: (line) => line.startsWith('check 2 · green 25% ·') }
    )
    expect(killed.killed).toBe(true)
    expect(readLease(sb)).toMatchObject({ holder: 'acme/shop#500.1' })
    await waitForLockExpiry(sb)
    const { writes } = recordVirtualServiceWrites(sb)
    const done = await deployAtOnce(
      sb,
      ['501', '502', '503'].map((runId) => ({ runId, inputs: { ...inputs, command: 'resume' } }))
    )
    const winners = done.filter((d) => d.run.code === 0)
    expect(winners.map((w) => w.run.outputs.result)).toEqual(['promoted'])
    const winner = winners[0] as Timed
    expect(winner.run.log).toContain(
      '::warning::took over the rollout lock from acme/shop#500.1, which stopped renewing it'
    )
    // Only the winner continued, from step 2 (its weights were already in place: no write).
    expect(writes.map((w) => w.weights)).toEqual(['blue=50,green=50', 'blue=0,green=100'])
    expect(readLease(sb)?.record).toMatchObject({
      id: `acme/shop#${winner.runId}.1`,
      phase: 'promoted'
    })
    expect(readLease(sb)?.holder).toBeUndefined()
    expect(meshFailures(sb)).toEqual({})
    // The others refused at once, naming the run that holds the lock now, with its URL (not the
    // URL of the run that died).
    const losers = done.filter((d) => d !== winner)
    for (const loser of losers) {
      expect({ runId: loser.runId, fast: loser.seconds < 10 }).toEqual({
        runId: loser.runId,
        fast: true
      })
      expect(loser.run.log).not.toContain('::group::Step')
    }
    for (const loser of losers) {
      expect(loser.run.log).toMatch(
        new RegExp(
          `::error::(resume refused: )?${escape(holderText(winner.runId))} is running a rollout of this service right now \\(it last renewed the lock at .*; wait for it to finish, or let this run wait with wait-for-lock`
        )
      )
    }
  })
})

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
