/**
 * The sandbox API server as @kubernetes/client-node 2 sees it, over plain HTTP and over TLS with
 * the sandbox's kubeconfig.
 */
import {
  ApiException,
  AppsV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type V1Deployment
} from '@kubernetes/client-node'
import { NS, seed, startHarness, type Harness } from './apiserver.harness.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness({ controllerDelayMs: 20 })
  seed(h.server.store)
})
afterAll(async () => {
  await h.close()
})

function plainConfig(): KubeConfig {
  const kc = new KubeConfig()
  kc.loadFromOptions({
    // client-node 2 refuses http:// URLs unless TLS verification is declared off.
    clusters: [{ name: 'sandbox', server: h.server.url, skipTLSVerify: true }],
    users: [{ name: 'sandbox', token: h.server.token }],
    contexts: [{ name: 'sandbox', cluster: 'sandbox', user: 'sandbox', namespace: NS }],
    currentContext: 'sandbox'
  })
  return kc
}

function tlsConfig(): KubeConfig {
  const kc = new KubeConfig()
  kc.loadFromString(h.server.kubeconfig(NS))
  return kc
}

async function apiError(
  p: Promise<unknown>
): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await p
  } catch (e) {
    if (e instanceof ApiException) {
      return { code: e.code, body: JSON.parse(String(e.body)) as Record<string, unknown> }
    }
    throw e
  }
  throw new Error('expected an ApiException')
}

describe.each([
  ['plain HTTP', plainConfig],
  ['TLS with the sandbox kubeconfig', tlsConfig]
])('client-node over %s', (_how, config) => {
  it('reads a Deployment and gets 409 Conflict replacing it with a stale resourceVersion', async () => {
    const apps = config().makeApiClient(AppsV1Api)
    const d: V1Deployment = await apps.readNamespacedDeployment({
      name: 'reviews-blue',
      namespace: NS
    })
    expect(d.spec?.selector.matchLabels).toEqual({ app: 'reviews', version: 'blue' })
    const stale = { ...d, metadata: { ...d.metadata, resourceVersion: '1' } }
    const err = await apiError(
      apps.replaceNamespacedDeployment({ name: 'reviews-blue', namespace: NS, body: stale })
    )
    expect(err.code).toBe(409)
    expect(err.body).toMatchObject({
      reason: 'Conflict',
      details: { name: 'reviews-blue', group: 'apps', kind: 'deployments' }
    })
  })

  it('patches VirtualService weights with merge and JSON patches, and reads them under v1beta1', async () => {
    const custom = config().makeApiClient(CustomObjectsApi)
    const ref = {
      group: 'networking.istio.io',
      version: 'v1',
      namespace: NS,
      plural: 'virtualservices',
      name: 'reviews'
    }
    const route = (blue: number, green: number) => [
      { destination: { host: 'reviews', subset: 'blue' }, weight: blue },
      { destination: { host: 'reviews', subset: 'green' }, weight: green }
    ]
    await custom.patchNamespacedCustomObject(
      { ...ref, body: { spec: { http: [{ route: route(75, 25) }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
    )
    await custom.patchNamespacedCustomObject({
      ...ref,
      body: [
        { op: 'replace', path: '/spec/http/0/route/1/weight', value: 30 },
        { op: 'replace', path: '/spec/http/0/route/0/weight', value: 70 }
      ]
    })
    const v1beta1 = (await custom.getNamespacedCustomObject({ ...ref, version: 'v1beta1' })) as {
      apiVersion: string
      spec: { http: Array<{ route: Array<{ weight: number }> }> }
    }
    expect(v1beta1.apiVersion).toBe('networking.istio.io/v1beta1')
    expect(v1beta1.spec.http[0]?.route.map((r) => r.weight)).toEqual([70, 30])
  })

  it('sees 404 NotFound and 422 Invalid as ApiException with a JSON Status body', async () => {
    const custom = config().makeApiClient(CustomObjectsApi)
    const ref = {
      group: 'networking.istio.io',
      version: 'v1',
      namespace: NS,
      plural: 'virtualservices'
    }
    const missing = await apiError(custom.getNamespacedCustomObject({ ...ref, name: 'missing' }))
    expect(missing).toEqual({
      code: 404,
      body: expect.objectContaining({
        reason: 'NotFound',
        message: 'virtualservices.networking.istio.io "missing" not found'
      })
    })
    const invalid = await apiError(
      custom.patchNamespacedCustomObject(
        {
          ...ref,
          name: 'reviews',
          body: { spec: { http: [{ route: [{ destination: { host: 'r' }, weight: 'x' }] }] } }
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
      )
    )
    expect(invalid.code).toBe(422)
    expect(invalid.body.reason).toBe('Invalid')
  })

  it('creates and renews a Lease guarded by resourceVersion', async () => {
    const coord = config().makeApiClient(CoordinationV1Api)
    const name = `lock-${Math.random().toString(36).slice(2, 7)}`
    const lease = await coord.createNamespacedLease({
      namespace: NS,
      body: { metadata: { name }, spec: { holderIdentity: 'a', leaseDurationSeconds: 10 } }
    })
    const renewed = await coord.replaceNamespacedLease({
      name,
      namespace: NS,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } }
    })
    expect(Number(renewed.metadata?.resourceVersion)).toBeGreaterThan(
      Number(lease.metadata?.resourceVersion)
    )
    const err = await apiError(coord.replaceNamespacedLease({ name, namespace: NS, body: lease }))
    expect(err.code).toBe(409)
  })

  it('sees a Date in renewTime refused: client-node writes 3 fractional digits, MicroTime needs 6', async () => {
    const coord = config().makeApiClient(CoordinationV1Api)
    const err = await apiError(
      coord.createNamespacedLease({
        namespace: NS,
        body: { metadata: { name: 'dated' }, spec: { holderIdentity: 'a', renewTime: new Date() } }
      })
    )
    expect(err.code).toBe(400)
    expect(err.body.message).toMatch(
      /^Lease in version "v1" cannot be handled as a Lease: parsing time "[^"]+\.\d{3}Z" as "2006-01-02T15:04:05\.000000Z07:00": cannot parse "\.\d{3}Z" as "\.000000"$/
    )
  })

  it('lists pods by label and asks SelfSubjectAccessReview', async () => {
    const kc = config()
    const core = kc.makeApiClient(CoreV1Api)
    const svc = await core.readNamespacedService({ name: 'reviews', namespace: NS })
    expect(svc.spec?.clusterIP).toMatch(/^10\.96\./)
    const list = await core.listNamespacedPod({
      namespace: NS,
      labelSelector: 'app=reviews,version in (blue)'
    })
    expect(list.kind).toBe('PodList')
    const review = await kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
      body: {
        spec: {
          resourceAttributes: {
            namespace: NS,
            verb: 'patch',
            group: 'apps',
            resource: 'deployments'
          }
        }
      }
    })
    expect(review.status?.allowed).toBe(true)
  })
})

it('client-node Watch receives events', async () => {
  const events: string[] = []
  const done = new Promise<void>((resolve) => {
    void new Watch(plainConfig())
      .watch(
        `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`,
        { fieldSelector: 'metadata.name=watched' },
        (type) => {
          events.push(type)
          if (events.length === 2) resolve()
        },
        () => undefined
      )
      .then((ctl) => done.finally(() => ctl.abort()))
  })
  await new Promise((r) => setTimeout(r, 50))
  h.server.store.create('leases', {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'watched', namespace: NS }
  })
  h.server.store.delete('leases', NS, 'watched')
  await done
  expect(events).toEqual(['ADDED', 'DELETED'])
}, 5000)
