/**
 * MemoryKube answers as the real Kube does: the same requests against the sandbox over HTTP (Kube,
 * client-node, the sandbox's kubeconfig) and in-process (MemoryKube over the same pipeline) give
 * the same objects, the same undefined for a missing object, and the same KubeError (code, reason,
 * message) for every refusal the action meets: conflicts, AlreadyExists, Istio's schema and
 * webhook, RBAC, the access review, discovery. Faults are retried on virtual time as Kube retries
 * them on the wall clock; a core-group call Kube has no client for throws before any request.
 */
import { readFile, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  DEPLOYMENTS,
  Kube,
  KubeError,
  type KubeApi,
  type KubeObject,
  LEASES,
  loadKubeConfig,
  PODS,
  SERVICES,
  UnknownKindError
} from '../../src/adapters/kube.js'
import { SandboxApi } from '../../sandbox/apiserver/api.js'
import { MemoryStore } from '../../sandbox/apiserver/store.js'
import { startSandbox, type Sandbox } from '../../sandbox/index.js'
import { Random } from '../../sandbox/mesh/random.js'
import { seed } from '../../sandbox/seed.js'
import { MemoryKube } from './memory-kube.js'
import { VirtualTime } from './virtual-time.js'

const VS = {
  group: 'networking.istio.io',
  version: 'v1',
  plural: 'virtualservices',
  kind: 'VirtualService'
}
const NS = 'demo'

let sb: Sandbox
let kube: Kube
beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ibg-memory-kube-'))
  sb = await startSandbox({ dir, prometheus: false, rps: 0 })
  kube = new Kube(loadKubeConfig({ kubeconfig: await readFile(sb.kubeconfigPath, 'utf8') }))
})
afterAll(async () => {
  await sb.stop()
})

function memory(): { api: SandboxApi; kube: MemoryKube; time: VirtualTime } {
  const time = new VirtualTime()
  const dice = new Random(7)
  const api = new SandboxApi({
    store: new MemoryStore(),
    sleep: (ms) => time.sleep(ms),
    random: () => dice.uniform()
  })
  seed(api.store)
  return { api, kube: new MemoryKube({ api, clock: time }), time }
}

/** What a call ended with, without what differs between two stores (uids, times, versions). */
async function outcome(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return { value: strip(await call()) }
  } catch (e) {
    if (e instanceof KubeError) return { code: e.code, reason: e.reason, message: e.message }
    if (e instanceof Error) return { error: e.name, message: e.message }
    throw e
  }
}

function strip(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value ?? null), (key, v: unknown) =>
    // Differs between two stores: identities, times, versions, allocated cluster IPs.
    [
      'uid',
      'creationTimestamp',
      'resourceVersion',
      'managedFields',
      'time',
      'clusterIP',
      'clusterIPs'
    ].includes(key)
      ? undefined
      : v
  )
}

/** The same call on both, compared. */
async function same(call: (k: KubeApi) => Promise<unknown>): Promise<unknown> {
  const m = memory()
  const [http, inProcess] = await Promise.all([
    outcome(() => call(kube)),
    outcome(() => call(m.kube))
  ])
  expect(inProcess).toEqual(http)
  return inProcess
}

const vsOf = (k: KubeApi): Promise<KubeObject> => k.get(VS, NS, 'reviews') as Promise<KubeObject>

it.each<[string, (k: KubeApi) => Promise<unknown>]>([
  ['a get', (k) => k.get(VS, NS, 'reviews')],
  ['a get of a missing object (undefined)', (k) => k.get(VS, NS, 'nope')],
  ['a Service', (k) => k.get(SERVICES, NS, 'reviews')],
  ['a list with a label selector', (k) => k.list(SERVICES, NS, 'app=reviews')],
  ['a list of a custom resource', (k) => k.list(VS, NS)],
  [
    'a create of an existing name (409 AlreadyExists)',
    async (k) => k.create(VS, NS, { ...(await vsOf(k)), metadata: { name: 'reviews' } })
  ],
  [
    'a replace with a stale resourceVersion (409 Conflict)',
    async (k) => {
      const vs = await vsOf(k)
      return k.replace(VS, NS, { ...vs, metadata: { ...vs.metadata, resourceVersion: '1' } })
    }
  ],
  [
    'a JSON patch whose test fails (422)',
    (k) => k.patch(VS, NS, 'reviews', [{ op: 'test', path: '/metadata/name', value: 'other' }])
  ],
  [
    'a weight that is not an integer (422 from the CRD schema)',
    (k) =>
      k.patch(VS, NS, 'reviews', [
        { op: 'replace', path: '/spec/http/0/route/0/weight', value: 12.5 }
      ])
  ],
  [
    'a merge patch of the Lease that does not exist (404)',
    (k) => k.patch(LEASES, NS, 'nope', { metadata: { labels: { a: 'b' } } })
  ],
  ['a served API group', (k) => k.servedVersions('networking.istio.io')],
  ['an API group the server does not serve', (k) => k.servedVersions('nope.example.com')],
  ['an access review', (k) => k.canI('patch', 'networking.istio.io', 'virtualservices', NS)]
])('%s', async (_name, call) => {
  await same(call)
})

it('refuses what RBAC refuses, with the same 403, and says so in access reviews', async () => {
  const m = memory()
  const rule = { verb: 'patch', resource: 'virtualservices', namespace: NS }
  sb.api.setDenials([rule])
  m.api.setDenials([rule])
  try {
    const patch = (k: KubeApi) => k.patch(VS, NS, 'reviews', { metadata: { labels: { a: 'b' } } })
    const [http, inProcess] = await Promise.all([
      outcome(() => patch(kube)),
      outcome(() => patch(m.kube))
    ])
    expect(inProcess).toEqual(http)
    expect(inProcess).toMatchObject({ code: 403, reason: 'Forbidden' })
    const review = (k: KubeApi) => k.canI('patch', 'networking.istio.io', 'virtualservices', NS)
    expect(await review(m.kube)).toEqual(await review(kube))
    expect(await review(m.kube)).toMatchObject({ allowed: false })
  } finally {
    sb.api.setDenials([])
  }
})

it('a credential that cannot review its own access gets the same message', async () => {
  const m = memory()
  const rule = { verb: 'create', resource: 'selfsubjectaccessreviews' }
  sb.api.setDenials([rule])
  m.api.setDenials([rule])
  try {
    const review = (k: KubeApi) => k.canI('get', 'apps', 'deployments', NS)
    const [http, inProcess] = await Promise.all([
      outcome(() => review(kube)),
      outcome(() => review(m.kube))
    ])
    expect(inProcess).toEqual(http)
    expect(inProcess).toMatchObject({ code: 403 })
  } finally {
    sb.api.setDenials([])
  }
})

it('throws UnknownKindError before any request where Kube has no client', async () => {
  const m = memory()
  const pod = { metadata: { name: 'p' } } as KubeObject
  for (const call of [
    (k: KubeApi) => k.replace(SERVICES, NS, pod),
    (k: KubeApi) => k.create(PODS, NS, pod),
    (k: KubeApi) => k.patch(PODS, NS, 'p', {}),
    (k: KubeApi) =>
      k.get({ group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' }, NS, 'x')
  ]) {
    await expect(call(kube)).rejects.toBeInstanceOf(UnknownKindError)
    await expect(call(m.kube)).rejects.toBeInstanceOf(UnknownKindError)
  }
  expect(m.kube.requests).toEqual([])
  expect(await m.kube.get(DEPLOYMENTS, NS, 'reviews-blue')).toBeDefined()
})

it('retries 5xx and dropped connections on virtual time, and gives up as Kube does', async () => {
  const m = memory()
  m.api.setFaults([{ errorRate: 0.3 }, { dropRate: 0.2 }])
  const got = await m.time.run(m.kube.get(VS, NS, 'reviews'))
  expect(got?.metadata.name).toBe('reviews')

  m.api.setFaults([{ dropRate: 1 }])
  const started = m.time.now()
  const error = await m.time.run(m.kube.get(VS, NS, 'reviews')).catch((e: unknown) => e)
  expect(error).toBeInstanceOf(KubeError)
  expect(error).toMatchObject({ code: 0, reason: 'Unreachable' })
  expect((error as Error).message).toBe(
    'get virtualservices.networking.istio.io "reviews" in namespace demo: cannot reach the Kubernetes API server at https://sandbox.in-process (other side closed); check the kubeconfig\'s server address and that this runner can reach it'
  )
  // Six attempts with capped exponential backoff: seconds of virtual time, none of real time.
  expect(m.time.now() - started).toBeGreaterThan(2000)
})

describe('nextChange, as Kube watches', () => {
  /** Another writer changes the VirtualService (a label), straight through the store. */
  const touch = (store: MemoryStore): void => {
    const vs = store.get('virtualservices', NS, 'reviews')
    if (!vs) throw new Error('no VirtualService')
    store.replace('virtualservices', {
      ...vs,
      metadata: { ...vs.metadata, labels: { touched: String(store.resourceVersion()) } }
    })
  }

  it('resolves at the next change after the version, and at once for a change since it', async () => {
    const m = memory()
    for (const [k, store] of [
      [kube, sb.api.store],
      [m.kube, m.api.store]
    ] as const) {
      const rv = (await vsOf(k)).metadata.resourceVersion as string
      let changed = false
      const waiting = k.nextChange(VS, NS, 'reviews', rv, new AbortController().signal)
      void waiting.then(() => (changed = true))
      await new Promise((r) => setTimeout(r, 50))
      expect(changed).toBe(false)
      touch(store)
      await waiting
      // A change between the read and the watch is not missed: the watch starts at the version.
      touch(store)
      await k.nextChange(VS, NS, 'reviews', rv, new AbortController().signal)
    }
  })

  it('ends when its signal aborts, and refuses as Kube does (403 on the watch, 410 on an old version)', async () => {
    const m = memory()
    const stop = new AbortController()
    const waiting = m.kube.nextChange(VS, NS, 'reviews', '999999', stop.signal)
    stop.abort()
    await expect(waiting).resolves.toBeUndefined()

    const old = (k: KubeApi) => k.nextChange(VS, NS, 'reviews', '1', new AbortController().signal)
    const [http, inProcess] = await Promise.all([
      outcome(() => old(kube)),
      outcome(() => old(m.kube))
    ])
    // The message ends with each store's own latest version.
    const latest = (o: unknown): string => JSON.stringify(o).replace(/\(\d+\)"/, '(N)"')
    expect(latest(inProcess)).toEqual(latest(http))
    expect(inProcess).toMatchObject({ code: 410, reason: 'Expired' })

    const rule = { verb: 'watch', resource: 'virtualservices' }
    sb.api.setDenials([rule])
    m.api.setDenials([rule])
    try {
      const denied = (k: KubeApi) =>
        k.nextChange(VS, NS, 'reviews', '0', new AbortController().signal)
      const [h, i] = await Promise.all([outcome(() => denied(kube)), outcome(() => denied(m.kube))])
      expect(i).toEqual(h)
      expect(i).toMatchObject({ code: 403, reason: 'HTTP403' })
    } finally {
      sb.api.setDenials([])
    }
  })
})
