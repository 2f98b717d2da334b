/**
 * The Lease the action writes is one a real server accepts (against the sandbox API server, which
 * refuses what kube-apiserver refuses): MicroTimes, int32 counts, and a record annotation that
 * stays within 256 KiB however many checks it has.
 */
import { startApiServer, type ApiServer } from '../../sandbox/apiserver/server.js'
import { BehaviourRegistry } from '../../sandbox/types.js'
import { Kube, loadKubeConfig } from '../../src/adapters/kube.js'
import { LeaseStore, RECORD_ANNOTATION } from '../../src/adapters/lease.js'
import { annotationsBytes, INT32_MAX, MAX_ANNOTATIONS_BYTES } from '../../src/core/limits.js'
import { type CheckEntry, RECORD_BUDGET_BYTES, type RolloutRecord } from '../../src/core/record.js'
import { rolloutRecord } from '../fixtures/record.js'

let api: ApiServer
let kube: Kube
const NAME = 'istio-bluegreen-reviews'

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
  if (api.store.get('leases', 'demo', NAME)) api.store.delete('leases', 'demo', NAME)
})

function record(checks: CheckEntry[] = []): RolloutRecord {
  return rolloutRecord({ id: 'run-1', heartbeatAt: '2026-11-25T10:00:00.000Z', checks })
}

function check(i: number): CheckEntry {
  const metrics = Object.fromEntries(
    Array.from({ length: 12 }, (_, m) => [
      `metric-${m}`,
      { c: [i, 1_000_000 + i], s: [i, 9_000_000 + i], r: 0.5, ok: 0.25 }
    ])
  ) as CheckEntry['metrics']
  return {
    at: new Date(Date.UTC(2026, 10, 25) + i * 1000).toISOString(),
    step: 0,
    weight: 10,
    verdict: 'pass',
    metrics,
    reasons: ['x'.repeat(300)]
  }
}

describe('the Lease as written', () => {
  it('holds MicroTimes with six fractional digits and an int32 leaseTransitions at its ceiling', async () => {
    api.store.create('leases', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: NAME, namespace: 'demo' },
      spec: { leaseDurationSeconds: 60, leaseTransitions: INT32_MAX }
    })
    const store = new LeaseStore(kube, 'demo', 'reviews', 'run-1', {
      durationSeconds: 60,
      now: () => 1_764_064_800_123.7
    })
    await store.acquire(record())
    const spec = api.store.get('leases', 'demo', NAME)?.spec as Record<string, unknown>
    expect(spec).toMatchObject({
      acquireTime: '2025-11-25T10:00:00.123000Z',
      renewTime: '2025-11-25T10:00:00.123000Z',
      leaseTransitions: INT32_MAX
    })
  })

  it('writes a record of 300 heavy checks within its budget, and the server takes it', async () => {
    const store = new LeaseStore(kube, 'demo', 'reviews', 'run-1')
    const checks = Array.from({ length: 300 }, (_, i) => check(i))
    expect(JSON.stringify(record(checks)).length).toBeGreaterThan(MAX_ANNOTATIONS_BYTES)
    await store.acquire(record())
    await store.save(record(checks))
    const lease = api.store.get('leases', 'demo', NAME)
    const annotations = lease?.metadata.annotations ?? {}
    expect(Buffer.byteLength(annotations[RECORD_ANNOTATION] ?? '')).toBeLessThanOrEqual(
      RECORD_BUDGET_BYTES
    )
    const stored = JSON.parse(annotations[RECORD_ANNOTATION] ?? '{}') as RolloutRecord
    expect(stored.checks.at(-1)).toEqual(checks.at(-1))
  })

  it("refuses clearly, before the server does, when others' annotations leave no room", async () => {
    api.store.create('leases', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: NAME,
        namespace: 'demo',
        annotations: { 'example.com/notes': 'n'.repeat(MAX_ANNOTATIONS_BYTES - 100) }
      },
      spec: { leaseDurationSeconds: 60 }
    })
    const store = new LeaseStore(kube, 'demo', 'reviews', 'run-1')
    await expect(store.acquire(record())).rejects.toThrow(
      /the Lease istio-bluegreen-reviews cannot hold the rollout record: annotations: \d+ bytes in all, more than 262144/
    )
    const lease = api.store.get('leases', 'demo', NAME)
    expect(annotationsBytes(lease?.metadata.annotations ?? {})).toBeLessThanOrEqual(
      MAX_ANNOTATIONS_BYTES
    )
  })
})
