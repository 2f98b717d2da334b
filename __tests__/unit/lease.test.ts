/** The Lease lock and record against the sandbox API server (no Prometheus needed). */
import { startApiServer, type ApiServer } from '../../sandbox/apiserver/server.js'
import { BehaviourRegistry } from '../../sandbox/types.js'
import { Kube, KubeError, loadKubeConfig } from '../../src/adapters/kube.js'
import {
  LeaseStore,
  LockHeldError,
  LockLostError,
  RECORD_ANNOTATION
} from '../../src/adapters/lease.js'
import type { RolloutRecord } from '../../src/core/record.js'
import { rolloutRecord } from '../fixtures/record.js'

let api: ApiServer
let kube: Kube

beforeAll(async () => {
  api = await startApiServer({ token: 't', behaviours: new BehaviourRegistry() })
  api.store.create('namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'demo' }
  })
  kube = new Kube(loadKubeConfig({ kubeconfig: api.kubeconfig('demo') }))
})

afterAll(async () => {
  await api.close()
})

afterEach(() => {
  api.setFaults([])
  if (api.store.get('leases', 'demo', 'istio-bluegreen-reviews')) {
    api.store.delete('leases', 'demo', 'istio-bluegreen-reviews')
  }
})

function record(id: string): RolloutRecord {
  return rolloutRecord({
    id,
    phase: 'deploying',
    step: -1,
    weights: { blue: 100, green: 0 },
    heartbeatAt: '2026-11-25T10:00:00.000Z',
    owner: { runUrl: `https://github.com/acme/shop/actions/runs/${id}` },
    heldBy: { id: `run-${id}`, runUrl: `https://github.com/acme/shop/actions/runs/${id}` }
  })
}

function storedRecord(): RolloutRecord {
  const lease = api.store.get('leases', 'demo', 'istio-bluegreen-reviews')
  return JSON.parse(lease?.metadata.annotations?.[RECORD_ANNOTATION] ?? 'null') as RolloutRecord
}

describe('LeaseStore', () => {
  it('takes a free lock, then refuses a second holder, naming the first and its run', async () => {
    const first = new LeaseStore(kube, 'demo', 'reviews', 'run-1')
    expect(await first.acquire(record('1'))).toEqual({ previous: undefined, record: record('1') })
    const lease = api.store.get('leases', 'demo', 'istio-bluegreen-reviews')
    expect(lease?.spec).toMatchObject({
      holderIdentity: 'run-1',
      leaseDurationSeconds: 60,
      leaseTransitions: 0
    })
    const second = new LeaseStore(kube, 'demo', 'reviews', 'run-2')
    const refused = await second.acquire(record('2')).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(LockHeldError)
    // Who holds it, when it renewed it last, when it expires if its run died, and how to wait.
    expect((refused as Error).message).toMatch(
      /^run-1 \(https:\/\/github\.com\/acme\/shop\/actions\/runs\/1\) is running a rollout of this service right now \(it last renewed the lock at \d{4}-\d\d-\d\dT[\d:.]+Z; if that run died, the lock expires at \d{4}-\d\d-\d\dT[\d:.]+Z\); wait for it to finish, or let this run wait with wait-for-lock \(abort and rollback take the lock over at once\)$/
    )
    expect(storedRecord().id).toBe('1')
  })

  it('takes over a lock whose holder stopped renewing, and says from whom', async () => {
    let now = Date.parse('2026-11-25T10:00:00Z')
    const dead = new LeaseStore(kube, 'demo', 'reviews', 'run-dead', {
      durationSeconds: 60,
      now: () => now
    })
    await dead.acquire(record('dead'))
    now += 61_000
    const next = new LeaseStore(kube, 'demo', 'reviews', 'run-next', {
      durationSeconds: 60,
      now: () => now
    })
    const taken = await next.acquire(record('next'))
    expect(taken.tookOverFrom).toBe('run-dead')
    expect(taken.previous?.id).toBe('dead')
    expect(api.store.get('leases', 'demo', 'istio-bluegreen-reviews')?.spec).toMatchObject({
      holderIdentity: 'run-next',
      leaseTransitions: 1
    })
    // The old holder, back from the dead, cannot write over the new one's record.
    await expect(dead.save(record('dead'))).rejects.toBeInstanceOf(LockLostError)
    expect(storedRecord().id).toBe('next')
  })

  it('saves the record under the lock and releases it, keeping the record', async () => {
    const store = new LeaseStore(kube, 'demo', 'reviews', 'run-1')
    await store.acquire(record('1'))
    await store.save({ ...record('1'), phase: 'shifting', step: 0 })
    expect(storedRecord()).toMatchObject({ phase: 'shifting', step: 0 })
    await store.save({ ...record('1'), phase: 'promoted' }, { release: true })
    expect(api.store.get('leases', 'demo', 'istio-bluegreen-reviews')?.spec).toMatchObject({
      holderIdentity: null
    })
    expect(storedRecord().phase).toBe('promoted')
    const next = new LeaseStore(kube, 'demo', 'reviews', 'run-2')
    expect((await next.acquire(record('2'))).previous?.phase).toBe('promoted')
  })

  it('re-reads and retries when something else wrote the Lease in between', async () => {
    const store = new LeaseStore(kube, 'demo', 'reviews', 'run-1')
    await store.acquire(record('1'))
    const lease = api.store.get('leases', 'demo', 'istio-bluegreen-reviews')
    if (!lease) throw new Error('no lease')
    api.store.replace('leases', {
      ...lease,
      metadata: { ...lease.metadata, labels: { touched: 'yes' } }
    })
    await store.save({ ...record('1'), phase: 'shifting' })
    const after = api.store.get('leases', 'demo', 'istio-bluegreen-reviews')
    expect(after?.metadata.labels).toEqual({ touched: 'yes' })
    expect(storedRecord().phase).toBe('shifting')
  })
})

const STOPPED = {
  command: 'abort' as const,
  actor: 'octocat',
  runUrl: 'https://github.com/acme/shop/actions/runs/9',
  at: '2026-11-25T10:00:30.000Z'
}

/** A person's abort: the record found at the takeover, marked as stopped, held by run-9. */
function stopped(found: RolloutRecord | undefined): RolloutRecord {
  return {
    ...(found as RolloutRecord),
    id: '9',
    heldBy: { id: 'run-9', runUrl: STOPPED.runUrl },
    stoppedBy: STOPPED
  }
}

describe('LeaseStore takeover by a person (override)', () => {
  it('takes a live lock at once; the holder finds out at its next write and writes nothing', async () => {
    const live = new LeaseStore(kube, 'demo', 'reviews', 'run-1')
    await live.acquire(record('1'))
    await live.save({ ...record('1'), phase: 'shifting', step: 1 })
    const person = new LeaseStore(kube, 'demo', 'reviews', 'run-9')
    const taken = await person.acquire(stopped, { override: true })
    expect(taken).toMatchObject({ tookOverFrom: 'run-1', live: true })
    // Built from the record found at the takeover: the holder's last write (step 1) is kept.
    expect(storedRecord()).toMatchObject({
      id: '9',
      phase: 'shifting',
      step: 1,
      stoppedBy: STOPPED
    })

    const lost = await live
      .save({ ...record('1'), phase: 'shifting', step: 2 })
      .catch((e: unknown) => e)
    expect(lost).toBeInstanceOf(LockLostError)
    expect((lost as Error).message).toBe(
      'the rollout was taken over by `abort` by @octocat (https://github.com/acme/shop/actions/runs/9) at 2026-11-25T10:00:30.000Z; this run stopped without writing weights: the rollout is no longer its'
    )
    expect(storedRecord()).toMatchObject({ id: '9', step: 1 })
    // Every later write fails the same way without asking the API server again.
    expect(() => live.assertHeld()).toThrow(LockLostError)
    await expect(live.save(record('1'), { release: true })).rejects.toBeInstanceOf(LockLostError)
    expect(api.store.get('leases', 'demo', 'istio-bluegreen-reviews')?.spec).toMatchObject({
      holderIdentity: 'run-9'
    })
  })

  it('the old holder still cannot write once the person released the lock', async () => {
    const live = new LeaseStore(kube, 'demo', 'reviews', 'run-1')
    await live.acquire(record('1'))
    const person = new LeaseStore(kube, 'demo', 'reviews', 'run-9')
    await person.acquire(stopped, { override: true })
    await person.save({ ...stopped(record('1')), phase: 'rolled-back' }, { release: true })
    // A free lock is not the old holder's: its write would be a blind overwrite of the record.
    await expect(live.save({ ...record('1'), step: 3 })).rejects.toBeInstanceOf(LockLostError)
    expect(storedRecord()).toMatchObject({ id: '9', phase: 'rolled-back' })
  })

  it('verify notices a takeover with a read, between writes', async () => {
    const live = new LeaseStore(kube, 'demo', 'reviews', 'run-1')
    await live.acquire(record('1'))
    await live.verify()
    await new LeaseStore(kube, 'demo', 'reviews', 'run-9').acquire(stopped, { override: true })
    await expect(live.verify()).rejects.toThrow(/taken over by `abort` by @octocat/)
  })

  it('without override a live lock is refused; with it, a 409 storm only delays the takeover', async () => {
    const live = new LeaseStore(kube, 'demo', 'reviews', 'run-1')
    await live.acquire(record('1'))
    const resume = new LeaseStore(kube, 'demo', 'reviews', 'run-2')
    await expect(resume.acquire(record('2'))).rejects.toBeInstanceOf(LockHeldError)
    api.setFaults([{ conflictRate: 0.6, verbs: ['update'], resources: ['leases'] }])
    const built: Array<number | undefined> = []
    const person = new LeaseStore(kube, 'demo', 'reviews', 'run-9')
    await person.acquire(
      (found) => {
        built.push(found?.step)
        return stopped(found)
      },
      { override: true }
    )
    // The holder's writes meet the same storm: re-read, then it sees it lost the lock.
    await expect(live.save({ ...record('1'), step: 0 })).rejects.toBeInstanceOf(LockLostError)
    api.setFaults([])
    expect(built.length).toBeGreaterThanOrEqual(1)
    expect(storedRecord()).toMatchObject({ id: '9', stoppedBy: STOPPED })
  })

  it('a takeover that races a holder write builds on the newer record, losing nothing', async () => {
    const live = new LeaseStore(kube, 'demo', 'reviews', 'run-1')
    await live.acquire(record('1'))
    const person = new LeaseStore(kube, 'demo', 'reviews', 'run-9')
    let raced = false
    await person.acquire(
      (found) => {
        // The holder writes step 2 between the person's read and write: the person's write
        // conflicts, reads again and builds on step 2.
        if (!raced) {
          raced = true
          const lease = api.store.get('leases', 'demo', 'istio-bluegreen-reviews')
          if (!lease) throw new Error('no lease')
          api.store.replace('leases', {
            ...lease,
            metadata: {
              ...lease.metadata,
              annotations: {
                [RECORD_ANNOTATION]: JSON.stringify({ ...record('1'), step: 2 })
              }
            }
          })
        }
        return stopped(found)
      },
      { override: true }
    )
    expect(storedRecord()).toMatchObject({ id: '9', step: 2, stoppedBy: STOPPED })
  })
})

describe('Kube errors', () => {
  it('turns a Status answer into a KubeError with code, reason and message', async () => {
    const error = await kube
      .patch(
        { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' },
        'demo',
        'nope',
        { spec: { replicas: 0 } }
      )
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(KubeError)
    expect(error).toMatchObject({
      code: 404,
      reason: 'NotFound',
      message: 'patch deployments.apps "nope" in namespace demo: deployments.apps "nope" not found'
    })
  })
})
