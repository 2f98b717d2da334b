/**
 * A person's abort or rollback wins at once over a live run, in-process: a live deploy (run 200,
 * default 60 s lease), then a person's command (run 201) at a chosen moment, with the API server
 * slow or failing meanwhile. The stable color is back at 100% within seconds, the live run stops
 * naming the run that took over, no VirtualService write follows the person's, every Lease write
 * after the takeover carries the person's record. Faults are the sandbox's own (latency, 409
 * storms, 5xx), on virtual time with seeded dice, so each interleaving is the same every run.
 * (Moved from __tests__/e2e/crash.test.ts, which keeps the first case with the live run's post
 * step.)
 */
import type { FaultRule } from '../../sandbox/types.js'
import type { RolloutRecord } from '../../src/core/record.js'
import {
  deploymentState,
  formatWeights,
  meshFailures,
  readLease,
  RECORD_ANNOTATION,
  virtualService,
  weightsOf
} from '../fixtures/cluster.js'
import { expectRun, release, World } from './world.js'

const IMAGE = 'example.com/reviews:2.0.0'
const FENCE = 'istio-bluegreen.io/taken-over-by'
const PERSON = 'acme/shop#201.1'
const PERSON_URL = 'https://github.com/acme/shop/actions/runs/201'

/** A change of the Lease or of the VirtualService, in the order the store made them. */
type Event =
  | { kind: 'lease'; holder?: string; recordId?: string; at: number }
  | { kind: 'vs'; weights: string; fence?: string; at: number }

let world: World
beforeEach(async () => {
  world = await World.create()
})
afterEach(() => world.close())

function recordEvents(): Event[] {
  const events: Event[] = []
  world.store.onChange((e) => {
    if (e.resource === 'leases') {
      const spec = (e.object.spec ?? {}) as { holderIdentity?: string | null }
      const raw = e.object.metadata.annotations?.[RECORD_ANNOTATION]
      events.push({
        kind: 'lease',
        holder: spec.holderIdentity ?? undefined,
        recordId: raw ? (JSON.parse(raw) as RolloutRecord).id : undefined,
        at: world.time.now()
      })
    }
    if (e.resource === 'virtualservices' && e.object.metadata.name === 'reviews') {
      const first = weightsOf(e.object)[0]
      events.push({
        kind: 'vs',
        weights: first ? formatWeights(first) : '',
        fence: e.object.metadata.annotations?.[FENCE],
        at: world.time.now()
      })
    }
  })
  return events
}

interface OverrideCase {
  command: 'abort' | 'rollback'
  /** When to give the command: a log line of the live run. */
  when: (line: string) => boolean
  /** Faults injected from that moment until the command is done. */
  faults: FaultRule[]
  /** Faults from before the live run starts until the command is done. */
  faultsFromStart?: FaultRule[]
  /** The VirtualService's weights after the takeover, write by write. */
  after: string[]
}

it.each<[string, OverrideCase]>([
  [
    'abort while it bakes step 2',
    {
      command: 'abort',
      when: (line) => line.startsWith('info: check 2 · green 25% ·'),
      faults: [],
      after: ['blue=100,green=0']
    }
  ],
  [
    'abort while its step 3 weight write is in flight (3 s latency on VirtualService patches)',
    {
      command: 'abort',
      when: (line) => line === 'group: Step 3/4: green 50%',
      faults: [],
      faultsFromStart: [{ latencyMs: 3000, verbs: ['patch'], resources: ['virtualservices'] }],
      // The live run's step 3 write, planned and confirmed before the takeover, lands first.
      after: ['blue=50,green=50', 'blue=100,green=0']
    }
  ],
  [
    'rollback under 409 storms and 5xx on the Lease, the VirtualService and Deployments',
    {
      command: 'rollback',
      when: (line) => line.startsWith('info: check 2 · green 25% ·'),
      faults: [
        { conflictRate: 0.5, verbs: ['update', 'patch'], resources: ['leases', 'virtualservices'] },
        { errorRate: 0.2, resources: ['leases', 'virtualservices', 'deployments'] }
      ],
      after: ['blue=100,green=0']
    }
  ]
])('%s', async (_name, c) => {
  const events = recordEvents()
  const env = (runId: string, actor: string): Record<string, string> => ({
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_RUN_ID: runId,
    GITHUB_ACTOR: actor
  })
  if (c.faultsFromStart) world.api.setFaults(c.faultsFromStart)
  const live = world.start(release({ image: IMAGE }), env('200', 'release-bot'))
  let cued = false
  live.onLine((line) => {
    cued ||= c.when(line)
  })
  await world.until('the cue', () => cued)
  if (c.faults.length > 0) world.api.setFaults(c.faults)
  const started = world.time.now()
  const person = await world.run(release({ command: c.command }), env('201', 'octocat'))
  world.api.setFaults([])
  const old = await world.finish(live)

  expectRun(person, 'success')
  expect(person.outputs).toMatchObject({ result: 'rolled-back', weights: 'blue=100,green=0' })
  const takeover = events.findIndex((e) => e.kind === 'lease' && e.holder === PERSON)
  expect(takeover).toBeGreaterThanOrEqual(0)
  const personWrite = events.findIndex((e) => e.kind === 'vs' && e.fence === PERSON)
  expect(personWrite).toBeGreaterThan(takeover)
  const stableAt = events[personWrite] as Event
  expect((stableAt as { weights: string }).weights).toBe('blue=100,green=0')
  // The person's own weight write waits out the latency fault too, when there is one.
  expect(stableAt.at - started).toBeLessThan(10_000)

  // The old run: stopped with an error naming the run that took over, wrote no weights after.
  expectRun(old, 'failure')
  expect(old.failure).toMatch(
    new RegExp(
      `^the rollout was taken over by \`${c.command}\` by @octocat \\(${PERSON_URL}\\) at `
    )
  )
  expect(old.lines).not.toContain('group: Roll back')
  // Nothing follows the person's weight write; between the takeover and it, at most the one
  // weight write the old run had in flight (confirmed before the takeover, planned on the
  // version before the person's write, which therefore had to wait for it and come after).
  const vsAfter = events.slice(takeover + 1).filter((e) => e.kind === 'vs')
  expect(vsAfter.slice(-1)).toEqual([stableAt])
  expect(vsAfter.length).toBeLessThanOrEqual(2)
  // Deterministic here: exactly the writes this interleaving lets through.
  expect(vsAfter.map((e) => (e as { weights: string }).weights)).toEqual(c.after)
  // No blind overwrite, no lost record: every Lease write from the takeover on is the person's.
  const leaseAfter = events.slice(takeover).filter((e) => e.kind === 'lease')
  expect(leaseAfter.every((e) => e.kind === 'lease' && e.recordId === PERSON)).toBe(true)

  const lease = readLease(world)
  expect(lease?.holder).toBeUndefined()
  expect(lease?.record).toMatchObject({
    id: PERSON,
    phase: 'rolled-back',
    owner: { actor: 'release-bot' },
    weights: { blue: 100, green: 0 },
    stoppedBy: { command: c.command, actor: 'octocat', runUrl: PERSON_URL }
  })
  expect(formatWeights(weightsOf(virtualService(world))[0] ?? { blue: 0, green: 0 })).toBe(
    'blue=100,green=0'
  )
  expect(deploymentState(world, 'reviews-green')?.replicas).toBe(0)
  expect(meshFailures(world)).toEqual({})
})

it('is deterministic: the same world and the same commands give the same runs, line for line', async () => {
  /** A live deploy, a person's rollback under 409 storms and 5xx, and what each logged. */
  async function once(w: World): Promise<unknown> {
    const env = (runId: string) => ({ GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: runId })
    const live = w.start(release({ image: IMAGE }), env('200'))
    let cued = false
    live.onLine((line) => (cued ||= line.startsWith('info: check 2 · green 25% ·')))
    await w.until('the cue', () => cued)
    w.api.setFaults([
      { conflictRate: 0.5, verbs: ['update', 'patch'], resources: ['leases', 'virtualservices'] },
      { errorRate: 0.2, resources: ['leases', 'virtualservices', 'deployments'] }
    ])
    const person = await w.run(release({ command: 'rollback' }), env('201'))
    const old = await w.finish(live)
    return { person: person.lines, old: old.lines, at: w.time.now(), audit: w.api.audit() }
  }
  const first = await once(world)
  const again = await World.create()
  try {
    expect(await once(again)).toEqual(first)
  } finally {
    again.close()
  }
})
