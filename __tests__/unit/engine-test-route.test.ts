/**
 * The test route (input `test-header`) and `pause-at: 0`, driven in-process through the ports:
 * a fake router with two objects, a fake mesh, an in-memory record store and a fake clock. Each
 * test asserts where the route is at the moments that matter (before the first weight, during
 * the steps, when the rollout ends) and what the record said when it was written.
 */
import type { KubeObject } from '../../src/adapters/kube.js'
import { type ColorWeights, weightsFor } from '../../src/core/color.js'
import type { RolloutRecord } from '../../src/core/record.js'
import type { TestHeader } from '../../src/core/test-route.js'
import { interruptedRun } from '../../src/core/undo.js'
import { Rollout } from '../../src/rollout.js'
import { FakeClock, RecordingLog } from '../fakes/clock.js'
import { FakeMesh } from '../fakes/metrics.js'
import { MemoryRecordStore } from '../fakes/records.js'
import { FakeRouter } from '../fakes/router.js'
import { FakeWorkloads } from '../fakes/workloads.js'
import { rolloutConfig, rolloutRecord } from '../fixtures/record.js'

const OBJECTS = ['reviews', 'reviews-edge']
const HEADER: TestHeader = { name: 'x-canary', value: 'true' }
const ROUTE_TO_GREEN = {
  reviews: 'x-canary: true → green',
  'reviews-edge': 'x-canary: true → green'
}

function deployment(color: string): KubeObject {
  const labels = { app: 'reviews', version: color }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `reviews-${color}`, namespace: 'demo', labels: { app: 'reviews' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'app', image: `example.com/reviews:${color}` }] }
      }
    }
  }
}

function world(config: { pauseAt?: number; testHeader?: TestHeader } = { testHeader: HEADER }) {
  const router = new FakeRouter(OBJECTS, 'blue', ['primary'])
  const workloads = new FakeWorkloads([deployment('blue'), deployment('green')])
  const clock = new FakeClock()
  const log = new RecordingLog()
  const records = new MemoryRecordStore('run-1')
  const mesh = new FakeMesh(() => router.weights()['reviews/primary'] as ColorWeights, 200)
  const record = rolloutRecord({
    id: 'run-1',
    phase: 'deploying',
    steps: [10, 50, 100],
    step: -1,
    weights: { blue: 100, green: 0 },
    heldBy: { id: 'run-1' },
    config: rolloutConfig({ negligibleRate: 0.05, ...config })
  })
  const rollout = (r: RolloutRecord = record, fence?: string): Rollout =>
    new Rollout(
      { kube: workloads, metrics: mesh, records, router, log, clock, ...(fence ? { fence } : {}) },
      r
    )
  return { router, workloads, clock, log, records, mesh, record, rollout }
}

type World = ReturnType<typeof world>

/** The record as a later run finds it, the lock taken by `id` (promote, resume, a post step). */
async function continued(w: World, id: string, patch: Partial<RolloutRecord> = {}) {
  const found = (await w.records.read()).record as RolloutRecord
  const records = new MemoryRecordStore(id, { record: found })
  const mine = { ...found, ...patch, id, heldBy: { id } }
  await records.acquire(mine)
  return {
    records,
    rollout: new Rollout(
      { kube: w.workloads, metrics: w.mesh, records, router: w.router, log: w.log, clock: w.clock },
      mine
    )
  }
}

/** What each test-route write found: the record's phase then, and how many weight writes before. */
function watchTestRouteWrites(w: World, records = () => w.records) {
  const seen: Array<{ add: boolean; phase?: string; weightWrites: number; green?: number }> = []
  w.router.onTestRouteWrite = (write, landed) => {
    if (!landed) return
    seen.push({
      add: write.header !== undefined,
      phase: records().record?.phase,
      weightWrites: w.router.writes.length,
      green: w.workloads.replicas('reviews-green')
    })
  }
  return seen
}

describe('the test route through the TrafficRouter port', () => {
  it('is added before the first weight, kept through the steps, and removed as the rollout is promoted', async () => {
    const w = world()
    const seen = watchTestRouteWrites(w)
    let duringSteps: Record<string, string> | undefined
    w.router.afterWrite = (write) => {
      if (write.weights.green === 50) duringSteps = w.router.testRoutes()
    }
    await w.records.acquire(w.record)
    const rollout = w.rollout()
    const outcome = await rollout.guard(() => rollout.shift(0))
    expect(outcome.result).toBe('promoted')
    // One add per object with no weight written yet, recorded as shifting; one removal per
    // object after the last step, written before the record said promoted.
    expect(seen).toEqual([
      { add: true, phase: 'shifting', weightWrites: 0, green: 2 },
      { add: true, phase: 'shifting', weightWrites: 0, green: 2 },
      { add: false, phase: 'shifting', weightWrites: 6, green: 2 },
      { add: false, phase: 'shifting', weightWrites: 6, green: 2 }
    ])
    expect(duringSteps).toEqual(ROUTE_TO_GREEN)
    expect(w.router.testRoutes()).toEqual({})
    expect(w.records.record?.phase).toBe('promoted')
    expect(w.log.lines).toContain(
      'info: test route in place: requests with header "x-canary: true" go to green (fake routes reviews, reviews-edge)'
    )
  })

  it('without test-header writes no test route at all', async () => {
    const w = world({})
    await w.records.acquire(w.record)
    const rollout = w.rollout()
    expect((await rollout.guard(() => rollout.shift(0))).result).toBe('promoted')
    expect(w.router.testRouteWrites).toEqual([])
  })

  it('pause-at 0 pauses with the candidate ready, only the test route to it and 0% weight; promote starts the steps', async () => {
    const w = world({ testHeader: HEADER, pauseAt: 0 })
    await w.records.acquire(w.record)
    const rollout = w.rollout()
    const paused = await rollout.guard(() => rollout.shift(0))
    expect(paused.result).toBe('paused')
    expect(w.router.writes).toEqual([])
    expect(w.router.testRoutes()).toEqual(ROUTE_TO_GREEN)
    expect(Object.values(w.router.weights())).toEqual(Array(2).fill({ blue: 100, green: 0 }))
    expect(w.workloads.replicas('reviews-green')).toBe(2)
    expect(w.records.record).toMatchObject({
      phase: 'paused',
      step: -1,
      weights: weightsFor('green', 0)
    })
    expect(w.records.holder).toBeUndefined()
    expect(w.log.lines.join('\n')).toContain(
      'paused before the first step with blue=100,green=0 (pause-at: 0): only requests with header "x-canary: true" reach green, all others blue'
    )

    // promote: the record's pauseAt cleared, the steps from the first; the route stays as it was.
    const writesBefore = w.router.testRouteWrites.length
    const next = await continued(w, 'run-2', {
      config: { ...(w.records.record as RolloutRecord).config, pauseAt: undefined }
    })
    let firstStep: Record<string, string> | undefined
    w.router.afterWrite = (write) => {
      if (write.weights.green === 10) firstStep ??= w.router.testRoutes()
    }
    const promoted = await next.rollout.guard(() => next.rollout.shift(0))
    expect(promoted.result).toBe('promoted')
    expect(firstStep).toEqual(ROUTE_TO_GREEN)
    // No second add (already in place): only the two removals.
    expect(w.router.testRouteWrites.slice(writesBefore).map((x) => x.header)).toEqual([
      undefined,
      undefined
    ])
    expect(w.router.testRoutes()).toEqual({})
    expect(next.records.record?.phase).toBe('promoted')
  })

  it('a rollback from pause-at 0 removes the route before the candidate scales down, and writes no weight', async () => {
    const w = world({ testHeader: HEADER, pauseAt: 0 })
    await w.records.acquire(w.record)
    const rollout = w.rollout()
    await rollout.guard(() => rollout.shift(0))
    // A person's rollback takes the rollout over, fenced.
    const found = w.records.record as RolloutRecord
    const records = new MemoryRecordStore('person', { record: found })
    await records.acquire({ ...found, id: 'person', heldBy: { id: 'person' } })
    const seen = watchTestRouteWrites(w, () => records)
    const person = new Rollout(
      {
        kube: w.workloads,
        metrics: w.mesh,
        records,
        router: w.router,
        log: w.log,
        clock: w.clock,
        fence: 'person'
      },
      records.record as RolloutRecord
    )
    const outcome = await person.guard(() => person.rollback('rolled back by octocat'))
    expect(outcome.result).toBe('rolled-back')
    expect(w.router.writes).toEqual([])
    expect(seen).toEqual([
      { add: false, phase: 'paused', weightWrites: 0, green: 2 },
      { add: false, phase: 'paused', weightWrites: 0, green: 2 }
    ])
    expect(w.router.testRouteWrites.slice(-2).map((x) => x.fence)).toEqual(['person', 'person'])
    expect(w.router.testRoutes()).toEqual({})
    expect(w.workloads.replicas('reviews-green')).toBe(0)
    expect(records.record?.phase).toBe('rolled-back')
  })

  it('a failing candidate is rolled back: weights back first, then the route, then the scale-down', async () => {
    const w = world()
    w.mesh.errorRate.green = 0.2
    const seen = watchTestRouteWrites(w)
    await w.records.acquire(w.record)
    const rollout = w.rollout()
    const outcome = await rollout.guard(() => rollout.shift(0))
    expect(outcome.result).toBe('rolled-back')
    expect(w.router.writes.map((x) => x.weights.green)).toEqual([10, 10, 0, 0])
    expect(seen.map((x) => [x.add, x.weightWrites, x.green])).toEqual([
      [true, 0, 2],
      [true, 0, 2],
      [false, 4, 2],
      [false, 4, 2]
    ])
    expect(w.router.testRoutes()).toEqual({})
    expect(w.workloads.replicas('reviews-green')).toBe(0)
  })

  it('a rollback that cannot remove the route fails, naming the route to remove by hand', async () => {
    const w = world()
    w.mesh.errorRate.green = 0.2
    await w.records.acquire(w.record)
    w.router.onTestRouteWrite = (write, landed) => {
      if (!landed && write.header === undefined) throw new Error('reviews: connection refused')
    }
    const rollout = w.rollout()
    await expect(rollout.guard(() => rollout.shift(0))).rejects.toThrow(
      /rolling back failed too \(reviews: connection refused\): set the weights of fake routes reviews, reviews-edge to blue=100,green=0 by hand, remove its routes named istio-bluegreen-test… \(the test route for header "x-canary: true"\), then scale reviews-green to 0$/
    )
    expect(w.records.record?.phase).toBe('failed')
    // Traffic went back before the route write failed.
    expect(Object.values(w.router.weights())).toEqual(Array(2).fill({ blue: 100, green: 0 }))
  })

  it('a promotion whose route removal fails stands, with a warning saying what to remove', async () => {
    const w = world()
    await w.records.acquire(w.record)
    w.router.onTestRouteWrite = (write, landed) => {
      if (!landed && write.header === undefined) throw new Error('reviews: connection refused')
    }
    const rollout = w.rollout()
    const outcome = await rollout.guard(() => rollout.shift(0))
    expect(outcome.result).toBe('promoted')
    expect(w.log.lines).toContain(
      'warning: could not remove the test route: reviews: connection refused; remove the routes named istio-bluegreen-test… from fake routes reviews, reviews-edge by hand'
    )
  })
})

describe('a run that dies around the test-route write', () => {
  /** The run, killed at the first test-route write (`landed`: after it reached the object). */
  async function killed(landed: boolean): Promise<World> {
    const w = world({ testHeader: HEADER, pauseAt: 0 })
    w.router.onTestRouteWrite = (_write, after) => {
      if (after === landed) throw new Error('SIGKILL')
    }
    await w.records.acquire(w.record)
    // No guard: a killed process rolls nothing back.
    await expect(w.rollout().shift(0)).rejects.toThrow('SIGKILL')
    w.router.onTestRouteWrite = undefined
    return w
  }

  it.each([
    ['before the write landed', false, {}],
    ['after the write landed on the first object', true, { reviews: 'x-canary: true → green' }]
  ])(
    'killed %s: the record already said shifting; the post step (on-interrupt rollback) leaves no route',
    async (_, landed, atKill) => {
      const w = await killed(landed)
      expect(w.router.testRoutes()).toEqual(atKill)
      expect(w.records.record).toMatchObject({ phase: 'shifting', step: -1 })
      // The post step: this run's lock, a rollout that was running: on-interrupt.
      const found = interruptedRun(await w.records.read(), 'run-1')
      expect(found.kind).toBe('on-interrupt')
      const post = w.rollout(w.records.record as RolloutRecord)
      const outcome = await post.guard(() => post.rollback('the job stopped mid-rollout'))
      expect(outcome.result).toBe('rolled-back')
      expect(w.router.testRoutes()).toEqual({})
      expect(w.router.writes).toEqual([])
      expect(w.workloads.replicas('reviews-green')).toBe(0)
    }
  )

  it('killed after the write, paused by on-interrupt pause: the route stays for promote, which removes it at the end', async () => {
    const w = await killed(true)
    const post = w.rollout(w.records.record as RolloutRecord)
    await post.pauseAsFound('the job stopped mid-rollout; paused by on-interrupt: pause')
    expect(w.records.record).toMatchObject({ phase: 'paused', step: -1 })
    const next = await continued(w, 'run-2', {
      config: { ...(w.records.record as RolloutRecord).config, pauseAt: undefined }
    })
    const outcome = await next.rollout.guard(() => next.rollout.shift(0))
    expect(outcome.result).toBe('promoted')
    expect(w.router.testRoutes()).toEqual({})
  })

  it('killed after the write: a later run that finds the rollout rolls it back, route included', async () => {
    const w = await killed(true)
    // The next deploy, once the lock expired: takes it over and rolls back (on-interrupt rollback).
    const next = await continued(w, 'run-2')
    const outcome = await next.rollout.guard(() =>
      next.rollout.rollback('interrupted rollout rolled back before a new release')
    )
    expect(outcome.result).toBe('rolled-back')
    expect(w.router.testRoutes()).toEqual({})
  })
})
