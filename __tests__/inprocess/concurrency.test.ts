/**
 * Several deploys of one service started at once (runs of different workflows, or a workflow
 * without a concurrency group), in-process: exactly one proceeds; the others fail fast naming the
 * run that holds the lock, or, with wait-for-lock, wait for it and then release one after the
 * other; after a run died, exactly one of several resumes takes over. Runs interleave at every
 * request and sleep on one virtual clock, deterministically. (Moved from
 * __tests__/e2e/concurrency.test.ts.)
 */
import {
  deploymentState,
  lockExpiresAt,
  meshFailures,
  readLease,
  recordVirtualServiceWrites
} from '../fixtures/cluster.js'
import { expectRun, release, type RunResult, World } from './world.js'

const SERVER = 'https://github.example.com'

let world: World
beforeEach(async () => {
  world = await World.create()
})
afterEach(() => world.close())

function env(runId: string): Record<string, string> {
  return {
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_SERVER_URL: SERVER,
    GITHUB_RUN_ID: runId,
    GITHUB_ACTOR: 'octocat'
  }
}

interface Done {
  runId: string
  image?: string
  run: RunResult
}

/** Start one command per entry at the same instant, each as its own workflow run. */
async function atOnce(
  runs: Array<{ runId: string; inputs: Record<string, string> }>
): Promise<Done[]> {
  const started = runs.map(({ runId, inputs }) => ({
    runId,
    image: inputs.image,
    running: world.start(inputs, env(runId))
  }))
  const results = await world.time.run(Promise.all(started.map((s) => s.running.done)))
  return started.map((s, i) => ({ runId: s.runId, image: s.image, run: results[i] as RunResult }))
}

function holderText(runId: string): string {
  return `acme/shop#${runId}.1 (${SERVER}/acme/shop/actions/runs/${runId})`
}

it.each([2, 5])(
  '%i deploys at once: exactly one proceeds, the others fail fast naming it',
  async (n) => {
    const { writes } = recordVirtualServiceWrites(world, () => world.time.now())
    const done = await atOnce(
      Array.from({ length: n }, (_, i) => ({
        runId: String(300 + i),
        inputs: release({ image: `example.com/reviews:2.0.${i}` })
      }))
    )

    const winners = done.filter((d) => d.run.ok)
    expect(winners.map((w) => w.run.outputs.result)).toEqual(['promoted'])
    const winner = winners[0] as Done
    // The winner baked 4 steps of 1m; the others gave up at once.
    expect(winner.run.ms).toBeGreaterThan(4 * 60_000)
    for (const loser of done.filter((d) => d !== winner)) {
      expectRun(loser.run, 'failure')
      expect({ runId: loser.runId, ms: loser.run.ms }).toEqual({ runId: loser.runId, ms: 0 })
      // Refused before it took the lock (admission), or when it tried to (acquire): either way
      // the message names the holder and its run.
      expect(loser.run.failure).toMatch(
        new RegExp(
          `^(deploy refused: )?${escape(holderText(winner.runId))} is running a rollout of this service right now \\(it last renewed the lock at .*; wait for it to finish, or let this run wait with wait-for-lock`
        )
      )
      // It changed nothing.
      expect(loser.run.lines.filter((l) => l.startsWith('group: Deploy'))).toEqual([])
    }
    // Only the winner's writes: its 4 steps, nobody else's in between.
    expect(writes.map((w) => w.weights)).toEqual([
      'blue=90,green=10',
      'blue=75,green=25',
      'blue=50,green=50',
      'blue=0,green=100'
    ])
    expect(deploymentState(world, `reviews-${winner.run.outputs['stable-color']}`)?.image).toBe(
      winner.image
    )
    const lease = readLease(world)
    expect(lease?.holder).toBeUndefined()
    expect(lease?.record).toMatchObject({ id: `acme/shop#${winner.runId}.1`, phase: 'promoted' })
    expect(meshFailures(world)).toEqual({})
  }
)

it('with wait-for-lock, 3 deploys at once release one after the other, each into the other color', async () => {
  const { writes } = recordVirtualServiceWrites(world, () => world.time.now())
  const images = [
    'example.com/reviews:2.0.0',
    'example.com/reviews:3.0.0',
    'example.com/reviews:4.0.0'
  ]
  const done = await atOnce(
    images.map((image, i) => ({
      runId: String(400 + i),
      inputs: release({ image, steps: '25,100', 'wait-for-lock': '10m' })
    }))
  )
  for (const d of done) {
    expectRun(d.run, 'success')
    expect(d.run.outputs.result).toBe('promoted')
  }
  const order = [...done].sort((a, b) => a.run.ms - b.run.ms)
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
  expect(deploymentState(world, 'reviews-green')?.image).toBe(order[2]?.image)
  expect(deploymentState(world, 'reviews-blue')?.image).toBe(order[1]?.image)
  const lease = readLease(world)
  expect(lease?.holder).toBeUndefined()
  expect(lease?.record).toMatchObject({ id: `acme/shop#${order[2]?.runId}.1`, phase: 'promoted' })
  expect(meshFailures(world)).toEqual({})
})

it('after a run died, 3 resumes at once once its lock expired: exactly one takes over', async () => {
  const inputs = release({ image: 'example.com/reviews:2.0.0', 'lease-duration': '6s' })
  const dying = world.start(inputs, { GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '500' })
  dying.killWhen((line) => line.startsWith('info: check 2 · green 25% ·'))
  expect((await world.finish(dying)).killed).toBe(true)
  expect(readLease(world)).toMatchObject({ holder: 'acme/shop#500.1' })
  await world.until(
    'the dead run’s lock to expire',
    () => world.time.now() > lockExpiresAt(readLease(world)) + 250
  )
  const { writes } = recordVirtualServiceWrites(world, () => world.time.now())
  const done = await atOnce(
    ['501', '502', '503'].map((runId) => ({ runId, inputs: { ...inputs, command: 'resume' } }))
  )
  const winners = done.filter((d) => d.run.ok)
  expect(winners.map((w) => w.run.outputs.result)).toEqual(['promoted'])
  const winner = winners[0] as Done
  expect(winner.run.lines).toContain(
    'warning: took over the rollout lock from acme/shop#500.1, which stopped renewing it'
  )
  // Only the winner continued, from step 2 (its weights were already in place: no write).
  expect(writes.map((w) => w.weights)).toEqual(['blue=50,green=50', 'blue=0,green=100'])
  expect(readLease(world)?.record).toMatchObject({
    id: `acme/shop#${winner.runId}.1`,
    phase: 'promoted'
  })
  expect(readLease(world)?.holder).toBeUndefined()
  expect(meshFailures(world)).toEqual({})
  // The others refused at once, naming the run that holds the lock now, with its URL (not the
  // URL of the run that died).
  for (const loser of done.filter((d) => d !== winner)) {
    expect({ runId: loser.runId, ms: loser.run.ms }).toEqual({ runId: loser.runId, ms: 0 })
    expect(loser.run.lines.filter((l) => l.startsWith('group: Step'))).toEqual([])
    expect(loser.run.failure).toMatch(
      new RegExp(
        `^(resume refused: )?${escape(holderText(winner.runId))} is running a rollout of this service right now \\(it last renewed the lock at .*; wait for it to finish, or let this run wait with wait-for-lock`
      )
    )
  }
})

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
