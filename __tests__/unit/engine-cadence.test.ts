/**
 * What the engine writes and reads per step and per check (core/cadence.ts), driven in-process
 * through the ports with a fake clock: the record before and after each weight write and no more
 * than every BACKGROUND_MS while a step bakes; the router looked at before each weight write and
 * as often while baking; the checks just after the metrics' scrapes; and a person's takeover
 * noticed at the next record write, before any weight is written.
 */
import type { KubeObject } from '../../src/adapters/kube.js'
import { LockLostError } from '../../src/adapters/lease.js'
import { BACKGROUND_MS, FIRST_SCRAPE_MARGIN_MS } from '../../src/core/cadence.js'
import type { ColorWeights } from '../../src/core/color.js'
import type { RolloutRecord } from '../../src/core/record.js'
import { Rollout } from '../../src/rollout.js'
import { FakeClock, RecordingLog } from '../fakes/clock.js'
import { FakeMesh } from '../fakes/metrics.js'
import { MemoryRecordStore } from '../fakes/records.js'
import { FakeRouter } from '../fakes/router.js'
import { FakeWorkloads } from '../fakes/workloads.js'
import { rolloutConfig, rolloutRecord } from '../fixtures/record.js'

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

/** One thing the engine did, in order: a record write, a weight write, a router read. */
type Event =
  | { kind: 'record'; at: number; phase: string; step: number; green: number; checks: number }
  | { kind: 'weights'; at: number; green: number }
  | { kind: 'look'; at: number }
  | { kind: 'check'; at: number }

function world(options: {
  stepDurationMs?: number
  scrape?: { everyMs: number; phaseMs: number }
}) {
  const router = new FakeRouter(['reviews'], 'blue', ['primary'])
  const workloads = new FakeWorkloads([deployment('blue'), deployment('green')])
  const clock = new FakeClock()
  const log = new RecordingLog()
  const records = new MemoryRecordStore('run-1')
  const mesh = new FakeMesh(
    () => router.weights()['reviews/primary'] as ColorWeights,
    200,
    options.scrape
  )
  const start = clock.now()
  const events: Event[] = []
  const t = (): number => clock.now() - start
  const save = records.save.bind(records)
  records.save = async (r, o) => {
    await save(r, o)
    events.push({
      kind: 'record',
      at: t(),
      phase: r.phase,
      step: r.step,
      green: r.weights.green,
      checks: r.checks.length
    })
  }
  router.afterWrite = (w) => events.push({ kind: 'weights', at: t(), green: w.weights.green })
  const read = router.read.bind(router)
  router.read = async (bare) => {
    events.push({ kind: 'look', at: t() })
    return read(bare)
  }
  const sample = mesh.read.bind(mesh)
  mesh.read = async (queries, atMs) => {
    // One event a check: the candidate's read (the stable's is the same instant).
    if (queries.some((q) => q.kind === 'ratio' && q.total.includes('-green"'))) {
      events.push({ kind: 'check', at: t() })
    }
    return sample(queries, atMs)
  }
  const record = rolloutRecord({
    id: 'run-1',
    phase: 'deploying',
    steps: [10, 25, 50, 100],
    step: -1,
    weights: { blue: 100, green: 0 },
    heldBy: { id: 'run-1' },
    config: rolloutConfig({
      negligibleRate: 0.05,
      checkIntervalMs: 1000,
      stepDurationMs: options.stepDurationMs ?? 10_000
    })
  })
  const rollout = (r: RolloutRecord = record): Rollout =>
    new Rollout({ kube: workloads, metrics: mesh, records, router, log, clock }, r)
  return { router, clock, log, records, mesh, record, rollout, events, t }
}

describe('writes and reads per step', () => {
  it('a step: a look for drift, the record naming the step, the weights, the record of them', async () => {
    const w = world({})
    await w.records.acquire(w.record)
    const rollout = w.rollout()
    const outcome = await rollout.guard(() => rollout.shift(0))
    expect(outcome.result).toBe('promoted')
    // Between two steps' bakes (the first check, the baseline, reads the metrics meanwhile).
    const steps = w.events.filter((e) => e.kind !== 'check')
    expect(steps.map((e) => `${e.kind} ${'green' in e ? e.green : ''}`)).toEqual([
      'look ',
      'record 0',
      'weights 10',
      'record 10',
      'look ',
      'record 10',
      'weights 25',
      'record 25',
      'look ',
      'record 25',
      'weights 50',
      'record 50',
      'look ',
      'record 50',
      'weights 100',
      'record 100',
      // Before the promotion: a look, then one write that records it and frees the lock.
      'look ',
      'record 100'
    ])
    // The record before the weights names the step (and the first one the phase).
    const announced = w.events.filter(
      (e, i) => e.kind === 'record' && w.events[i + 1]?.kind === 'weights'
    )
    expect(announced.map((e) => e.kind === 'record' && `${e.phase} ${e.step}`)).toEqual([
      'shifting 0',
      'shifting 1',
      'shifting 2',
      'shifting 3'
    ])
    expect(w.records.holder).toBeUndefined()
    expect(w.records.record).toMatchObject({ phase: 'promoted' })
    // Every check is in the record in the end, though none wrote it: 10 a step.
    expect(w.records.record?.checks).toHaveLength(40)
  })

  it(`a baking step writes its history and looks for drift every ${BACKGROUND_MS / 1000} s, not every check`, async () => {
    const w = world({ stepDurationMs: 35_000 })
    await w.records.acquire(w.record)
    const rollout = w.rollout()
    await rollout.guard(() => rollout.shift(0))
    // The first step bakes from 0 to 35 s (the fake clock takes no time for I/O): 35 checks,
    // the record written and the router looked at every 10 s since the step's own writes.
    const baking = w.events.filter((e) => e.at > 0 && e.at <= 35_000)
    expect(baking.filter((e) => e.kind === 'check')).toHaveLength(35)
    const written = baking.filter((e) => e.kind === 'record' && e.at < 35_000)
    expect(written.map((e) => e.at)).toEqual([10_000, 20_000, 30_000])
    expect(written.map((e) => e.kind === 'record' && e.checks)).toEqual([10, 20, 30])
    expect(baking.filter((e) => e.kind === 'look' && e.at < 35_000).map((e) => e.at)).toEqual([
      10_000, 20_000, 30_000
    ])
  })
})

describe('checks just after the scrapes', () => {
  it('aim just after each scrape, every interval, and the last check of a step is at its end', async () => {
    const w = world({ scrape: { everyMs: 1000, phaseMs: 370 } })
    await w.records.acquire(w.record)
    const rollout = w.rollout()
    await rollout.guard(() => rollout.shift(0))
    const checks = w.events.filter((e) => e.kind === 'check').map((e) => e.at)
    // The baseline at 0, the first check one interval after the step's start (no scrape seen
    // yet), then every interval 50 ms after a scrape (at .370), and the step's last at its end
    // (10 s); step 2's first is one scrape later than 10.42 s, which would follow its start by
    // less than half an interval.
    expect(checks.slice(0, 13)).toEqual([
      0, 1000, 2420, 3420, 4420, 5420, 6420, 7420, 8420, 9420, 10_000, 11_420, 12_420
    ])
    const aimed = (at: number): boolean => at % 1000 === 370 + FIRST_SCRAPE_MARGIN_MS
    expect(checks.filter((at) => at > 1000 && !aimed(at))).toEqual([10_000, 20_000, 30_000, 40_000])
  })

  it('a candidate that turns bad at step 2 is rolled back at the first check that reads it', async () => {
    const w = world({ scrape: { everyMs: 1000, phaseMs: 370 } })
    w.router.afterWrite = (write) => {
      if (write.weights.green !== 25) return
      w.mesh.advanceTo(w.clock.now())
      w.mesh.errorRate.green = 0.2
    }
    await w.records.acquire(w.record)
    const rollout = w.rollout()
    const outcome = await rollout.guard(() => rollout.shift(0))
    expect(outcome.result).toBe('rolled-back')
    expect(outcome.reason).toMatch(/above the limit 1\.00% at 99% confidence/)
    // Step 2 (25%) started at 10 s; its first check, at 11.42 s, reads the scrape of 11.37 s
    // with 1.37 s of its failures and decides: the limit test's component that starts at step 2
    // is not held back by step 1's healthy checks.
    const atStep2 = w.records.record?.checks.filter((c) => c.step === 1) ?? []
    expect(atStep2.map((c) => c.verdict)).toEqual(['fail'])
    expect(w.events.filter((e) => e.kind === 'check' && e.at > 10_000)[0]?.at).toBe(11_420)
    expect(w.router.writes.map((x) => x.weights.green)).toEqual([10, 25, 0])
  })
})

describe("a person's takeover while a step bakes", () => {
  it('is noticed at the next record write: no weight is written after it', async () => {
    const w = world({ stepDurationMs: 30_000 })
    let checks = 0
    const read = w.mesh.read.bind(w.mesh)
    w.mesh.read = async (queries, atMs) => {
      // The baseline reads both colors (reads 1, 2), then each check (3, 4 for the first).
      if (++checks === 5) {
        w.records.takeOver('person', {
          ...(w.records.record as RolloutRecord),
          id: 'person',
          stoppedBy: { command: 'rollback', at: '2026-11-25T10:00:04.000Z' }
        })
      }
      return read(queries, atMs)
    }
    await w.records.acquire(w.record)
    const rollout = w.rollout()
    const writes = (): number => w.router.writes.length
    let before = 0
    const run = rollout.guard(() => {
      before = writes()
      return rollout.shift(0)
    })
    await expect(run).rejects.toThrow(LockLostError)
    // The first step's weights only; the takeover (during its 2nd check) ended the run at its
    // next record write (10 s into the step), which wrote nothing, and no weight after.
    expect(writes() - before).toBe(1)
    expect(w.records.holder).toBe('person')
    expect(w.records.record?.id).toBe('person')
    expect(w.t()).toBe(10_000)
  })
})
