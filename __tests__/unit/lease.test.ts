/** The Lease lock and record against the sandbox API server (no Prometheus needed). */
import { startApiServer, type ApiServer } from '../../sandbox/apiserver/server.js'
import { BehaviourRegistry } from '../../sandbox/types.js'
import { Kube, KubeError, loadKubeConfig } from '../../src/adapters/kube.js'
import { LeaseStore, LockHeldError, RECORD_ANNOTATION } from '../../src/adapters/lease.js'
import type { RolloutRecord } from '../../src/core/record.js'

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
  if (api.store.get('leases', 'demo', 'istio-bluegreen-reviews')) {
    api.store.delete('leases', 'demo', 'istio-bluegreen-reviews')
  }
})

function record(id: string): RolloutRecord {
  return {
    id,
    phase: 'deploying',
    service: 'reviews',
    namespace: 'demo',
    stable: { color: 'blue' },
    candidate: { color: 'green' },
    steps: [10, 100],
    config: {
      virtualService: 'reviews',
      destinationRule: 'reviews',
      routes: [],
      colorLabel: 'version',
      istioVersion: 'v1',
      stepDurationMs: 60_000,
      checkIntervalMs: 10_000,
      readyTimeoutMs: 300_000,
      prometheusUrl: 'http://127.0.0.1:9090',
      maxErrorRate: 0.01,
      analysisWindowMs: 60_000,
      maxInconclusive: 2,
      reporter: 'destination',
      previousColor: 'keep'
    },
    step: -1,
    weights: { blue: 100, green: 0 },
    startedAt: '2026-11-25T10:00:00.000Z',
    heartbeatAt: '2026-11-25T10:00:00.000Z',
    owner: { runUrl: `https://github.com/acme/shop/actions/runs/${id}` },
    heldBy: { id: `run-${id}`, runUrl: `https://github.com/acme/shop/actions/runs/${id}` },
    checks: []
  }
}

function storedRecord(): RolloutRecord {
  const lease = api.store.get('leases', 'demo', 'istio-bluegreen-reviews')
  return JSON.parse(lease?.metadata.annotations?.[RECORD_ANNOTATION] ?? 'null') as RolloutRecord
}

describe('LeaseStore', () => {
  it('takes a free lock, then refuses a second holder, naming the first and its run', async () => {
    const first = new LeaseStore(kube, 'demo', 'reviews', 'run-1')
    expect(await first.acquire(record('1'))).toEqual({
      previous: undefined,
      tookOverFrom: undefined
    })
    const lease = api.store.get('leases', 'demo', 'istio-bluegreen-reviews')
    expect(lease?.spec).toMatchObject({
      holderIdentity: 'run-1',
      leaseDurationSeconds: 60,
      leaseTransitions: 0
    })
    const second = new LeaseStore(kube, 'demo', 'reviews', 'run-2')
    await expect(second.acquire(record('2'))).rejects.toThrow(
      new LockHeldError('run-1', 'https://github.com/acme/shop/actions/runs/1')
    )
    expect(storedRecord().id).toBe('1')
  })

  it('takes over a lock whose holder stopped renewing, and says from whom', async () => {
    let now = Date.parse('2026-11-25T10:00:00Z')
    const dead = new LeaseStore(kube, 'demo', 'reviews', 'run-dead', 60, () => now)
    await dead.acquire(record('dead'))
    now += 61_000
    const next = new LeaseStore(kube, 'demo', 'reviews', 'run-next', 60, () => now)
    const taken = await next.acquire(record('next'))
    expect(taken.tookOverFrom).toBe('run-dead')
    expect(taken.previous?.id).toBe('dead')
    expect(api.store.get('leases', 'demo', 'istio-bluegreen-reviews')?.spec).toMatchObject({
      holderIdentity: 'run-next',
      leaseTransitions: 1
    })
    // The old holder, back from the dead, cannot write over the new one's record.
    await expect(dead.save(record('dead'))).rejects.toBeInstanceOf(LockHeldError)
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
