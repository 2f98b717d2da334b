/**
 * The engine driven in-process through its ports only: a fake TrafficRouter with two objects, a
 * fake mesh as MetricsSource, an in-memory RecordStore, in-memory Deployments and a fake clock.
 * Minutes of bake time pass in milliseconds; the router port is all the engine needs of traffic.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { KubeObject } from '../../src/adapters/kube.js'
import { type ColorWeights, weightsFor } from '../../src/core/color.js'
import type { RolloutRecord } from '../../src/core/record.js'
import { upgradeRecord } from '../../src/core/schema.js'
import { Rollout } from '../../src/rollout.js'
import { FakeClock, RecordingLog } from '../fakes/clock.js'
import { FakeMesh } from '../fakes/metrics.js'
import { MemoryRecordStore } from '../fakes/records.js'
import { FakeRouter } from '../fakes/router.js'
import { FakeWorkloads } from '../fakes/workloads.js'
import { rolloutConfig, rolloutRecord } from '../fixtures/record.js'

const OBJECTS = ['reviews', 'reviews-edge']

function deployment(color: string, image = `example.com/reviews:${color}`): KubeObject {
  const labels = { app: 'reviews', version: color }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `reviews-${color}`, namespace: 'demo', labels: { app: 'reviews' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'app', image }] } }
    }
  }
}

function world(
  options: {
    objects?: string[]
    record?: Partial<RolloutRecord>
    bare?: boolean
    seed?: KubeObject[]
  } = {}
) {
  const objects = options.objects ?? OBJECTS
  const router = new FakeRouter(objects, 'blue', ['primary', 'mobile'], { bare: options.bare })
  const workloads = new FakeWorkloads(options.seed ?? [deployment('blue'), deployment('green')])
  const clock = new FakeClock()
  const log = new RecordingLog()
  const records = new MemoryRecordStore('run-1')
  const mesh = new FakeMesh(() => router.weights()[`${objects[0]}/primary`] as ColorWeights, 200)
  const record = rolloutRecord({
    id: 'run-1',
    steps: [10, 25, 50, 100],
    step: -1,
    weights: { blue: 100, green: 0 },
    heldBy: { id: 'run-1' },
    config: rolloutConfig({ negligibleRate: 0.05 }),
    ...options.record
  })
  const rollout = (r: RolloutRecord = record): Rollout =>
    new Rollout({ kube: workloads, metrics: mesh, records, router, log, clock }, r)
  return { router, workloads, clock, log, records, mesh, record, rollout }
}

/** The candidate weights each object got, in order. */
function writesPer(
  router: FakeRouter,
  color: 'blue' | 'green' = 'green'
): Record<string, number[]> {
  const out: Record<string, number[]> = {}
  for (const w of router.writes) (out[w.object] ??= []).push(w.weights[color])
  return out
}

function everyRoute(router: FakeRouter): ColorWeights[] {
  return Object.values(router.weights())
}

describe('the engine through the TrafficRouter port, two objects', () => {
  it('promotes a healthy release: every object gets every step, each write its own version', async () => {
    const w = world()
    await w.records.acquire(w.record)
    const rollout = w.rollout()
    const outcome = await rollout.guard(() => rollout.shift(0))
    expect(outcome.result).toBe('promoted')
    expect(writesPer(w.router)).toEqual({
      reviews: [10, 25, 50, 100],
      'reviews-edge': [10, 25, 50, 100]
    })
    expect(everyRoute(w.router)).toEqual(Array(4).fill({ blue: 0, green: 100 }))
    expect(w.records.record).toMatchObject({
      phase: 'promoted',
      weights: { blue: 0, green: 100 },
      routerVersions: { reviews: '5', 'reviews-edge': '5' }
    })
    expect(w.records.holder).toBeUndefined()
    // Four steps of a minute at least, none of it waited for.
    expect(w.clock.now() - Date.parse('2026-11-25T10:00:00.000Z')).toBeGreaterThanOrEqual(240_000)
  })

  it('rolls back a candidate failing 20% at its first check: every object on the stable', async () => {
    const w = world()
    w.mesh.errorRate.green = 0.2
    await w.records.acquire(w.record)
    const rollout = w.rollout()
    const outcome = await rollout.guard(() => rollout.shift(0))
    expect(outcome.result).toBe('rolled-back')
    expect(outcome.reason).toMatch(/^errors: candidate \d+\/\d+ = 20\.0% 5xx/)
    expect(w.records.record?.checks).toHaveLength(1)
    expect(writesPer(w.router)).toEqual({ reviews: [10, 0], 'reviews-edge': [10, 0] })
    expect(everyRoute(w.router)).toEqual(Array(4).fill({ blue: 100, green: 0 }))
    expect(w.workloads.replicas('reviews-green')).toBe(0)
  })

  it('a failure between two writes is rolled back: every object ends on the stable color', async () => {
    const w = world()
    // Step 1 writes objects 1 and 2; step 2 writes object 1, then object 2 fails.
    w.router.failWrite = { after: 4, error: new Error('reviews-edge: connection reset') }
    let between: ColorWeights[] | undefined
    w.router.afterWrite = () => {
      if (w.router.writes.length === 3) between = everyRoute(w.router)
    }
    await w.records.acquire(w.record)
    const rollout = w.rollout()
    const outcome = await rollout.guard(() => rollout.shift(0))
    // The objects really were apart between the two writes.
    expect(between).toEqual([
      { blue: 75, green: 25 },
      { blue: 75, green: 25 },
      { blue: 90, green: 10 },
      { blue: 90, green: 10 }
    ])
    expect(outcome.result).toBe('rolled-back')
    expect(outcome.reason).toBe('the rollout stopped on an error: reviews-edge: connection reset')
    expect(everyRoute(w.router)).toEqual(Array(4).fill({ blue: 100, green: 0 }))
    expect(w.records.record?.phase).toBe('rolled-back')
  })

  it('a person editing the second object is drift, named; on-drift pause leaves it as found', async () => {
    const w = world()
    w.router.afterWrite = (write) => {
      if (write.object === 'reviews-edge' && write.weights.green === 10) {
        w.router.edit('reviews-edge', { blue: 60, green: 40 })
      }
    }
    await w.records.acquire(w.record)
    const rollout = w.rollout()
    const outcome = await rollout.guard(() => rollout.shift(0))
    expect(outcome.result).toBe('paused')
    expect(outcome.alert).toBe(
      'drift: the weights of fake route reviews-edge are blue=60,green=40, not blue=90,green=10 as this rollout last wrote them; last changed by kubectl-edit (Update at t)'
    )
    expect(writesPer(w.router)).toEqual({ reviews: [10], 'reviews-edge': [10] })
    expect(w.records.record?.phase).toBe('paused')
  })

  it.each<[string, ColorWeights[], string]>([
    [
      'every object one write ahead of the record: recorded, not drift',
      [weightsFor('green', 25), weightsFor('green', 25)],
      "already have step 2's weights blue=75,green=25: recording them"
    ],
    [
      'only the first object ahead (the write stopped between them): the step writes both',
      [weightsFor('green', 25), weightsFor('green', 10)],
      "step 2's weights reached reviews but not the other objects"
    ]
  ])('%s', async (_, placed, line) => {
    // The run died after recording step 2 as reached and writing some of its weights.
    const w = world({ record: { step: 1, weights: weightsFor('green', 10) } })
    OBJECTS.forEach((o, i) => w.router.edit(o, placed[i] as ColorWeights, ''))
    await w.records.acquire(w.record)
    const rollout = w.rollout()
    const outcome = await rollout.guard(() => rollout.shift(1))
    expect(w.log.lines.some((l) => l.includes(line))).toBe(true)
    expect(outcome.alert).toBeUndefined()
    expect(outcome.result).toBe('promoted')
    expect(everyRoute(w.router)).toEqual(Array(4).fill({ blue: 0, green: 100 }))
  })

  it('runs the deploy path: the candidate from the stable template, colors addressable, bare routes adopted', async () => {
    const w = world({ bare: true, seed: [deployment('blue', 'example.com/reviews:1')] })
    await w.records.acquire(w.record)
    const rollout = w.rollout()
    const template = (await w.workloads.get(
      { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' },
      'demo',
      'reviews-blue'
    )) as KubeObject
    const outcome = await rollout.guard(async () => {
      const ready = await rollout.applyDeployment(
        'green',
        template as never,
        'example.com/reviews:2',
        {
          replicas: 2
        }
      )
      expect(ready).toEqual({ ready: true })
      await rollout.prepareRouting(true)
      return rollout.shift(0)
    })
    expect(outcome.result).toBe('promoted')
    expect(w.router.addressable).toBe(true)
    // The adoption's write (candidate 0) first, then the steps.
    expect(writesPer(w.router)).toEqual({
      reviews: [0, 10, 25, 50, 100],
      'reviews-edge': [0, 10, 25, 50, 100]
    })
    const green = w.workloads.deployments.get('reviews-green')
    expect(JSON.stringify(green?.spec)).toContain('example.com/reviews:2')
  })
})

describe('the candidate Deployment write', () => {
  const template = deployment('blue', 'example.com/reviews:1')

  it.each([
    [0, 'lands at once', 1],
    [2, 'reads again after a controller moved its version on, and lands', 3]
  ])('with %i status updates in between: %s', async (churn, _what, sent) => {
    const w = world()
    await w.records.acquire(w.record)
    w.workloads.statusChurn('reviews-green', churn)
    const ready = await w
      .rollout()
      .applyDeployment('green', template as never, 'example.com/reviews:2', {
        replicas: 2
      })
    expect(ready).toEqual({ ready: true })
    expect(w.workloads.replaces).toHaveLength(sent)
    expect(JSON.stringify(w.workloads.deployments.get('reviews-green')?.spec)).toContain(
      'example.com/reviews:2'
    )
  })

  it('gives up, naming the conflict, when the version keeps moving', async () => {
    const w = world()
    await w.records.acquire(w.record)
    w.workloads.statusChurn('reviews-green', 100)
    await expect(
      w.rollout().applyDeployment('green', template as never, 'example.com/reviews:2', {
        replicas: 2
      })
    ).rejects.toThrow(/has been modified/)
    expect(w.workloads.replaces).toHaveLength(6)
  })
})

describe('a record of the first release, upgraded, drives the engine', () => {
  it('recovery rolls the captured shifting record back on its one VirtualService', async () => {
    const raw = readFileSync(
      path.join(import.meta.dirname, '../fixtures/records-v1/shifting.json'),
      'utf8'
    )
    const found = upgradeRecord(JSON.parse(raw), 'the fixture')
    const objects = found.config.router.objects
    expect(objects).toEqual(['reviews'])
    const w = world({ objects, record: found })
    w.router.place(found.weights)
    await w.records.acquire({ ...found, id: 'run-1', heldBy: { id: 'run-1' } })
    const rollout = w.rollout((await w.records.read()).record as RolloutRecord)
    const outcome = await rollout.guard(() => rollout.rollback('interrupted rollout rolled back'))
    expect(outcome.result).toBe('rolled-back')
    const stable = found.stable.color
    expect(everyRoute(w.router)).toEqual(Array(2).fill(weightsFor(found.candidate.color, 0)))
    expect(w.records.record).toMatchObject({
      schema: 2,
      phase: 'rolled-back',
      weights: { [stable]: 100, [found.candidate.color]: 0 },
      routerVersions: { reviews: expect.any(String) }
    })
  })
})
