/**
 * The sandbox API server's REST behaviour against kube-apiserver's: auth, discovery, verbs,
 * resourceVersion and generation rules, Status bodies, subresources, RBAC denials, faults, watch.
 */
import { managersOf } from '../../sandbox/apiserver/managed-fields.js'
import {
  DEPLOY_PATH,
  DR_PATH,
  LEASE_PATH,
  NS,
  POD_PATH,
  SVC_PATH,
  VS_PATH,
  deployment,
  seed,
  startHarness,
  virtualService,
  type Harness
} from './apiserver.harness.js'

let h: Harness

function withoutResourceVersion(metadata: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(metadata).filter(([k]) => k !== 'resourceVersion'))
}

beforeAll(async () => {
  h = await startHarness({ controllerDelayMs: 60_000 })
  seed(h.server.store)
})
afterAll(async () => {
  await h.close()
})

describe('auth', () => {
  it.each([
    ['no token', ''],
    ['a wrong token', 'nope']
  ])('answers 401 Unauthorized with a Status for %s', async (_what, token) => {
    const r = await h.call('GET', `${VS_PATH}/reviews`, { token })
    expect(r.status).toBe(401)
    expect(r.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401
    })
  })

  it('guards discovery too', async () => {
    expect((await h.call('GET', '/apis', { token: '' })).status).toBe(401)
  })
})

describe('discovery', () => {
  it('serves /version, /api and /api/v1 with the core resources', async () => {
    expect((await h.call('GET', '/version')).body).toMatchObject({ major: '1', minor: '32' })
    const api = await h.call('GET', '/api')
    expect(api.body).toMatchObject({ kind: 'APIVersions', versions: ['v1'] })
    const v1 = await h.call('GET', '/api/v1')
    const names = (v1.body.resources as Array<{ name: string }>).map((r) => r.name)
    expect(names).toEqual(expect.arrayContaining(['namespaces', 'services', 'pods', 'pods/status']))
    expect(v1.body.resources).toContainEqual(
      expect.objectContaining({
        name: 'services',
        kind: 'Service',
        namespaced: true,
        shortNames: ['svc']
      })
    )
  })

  it('lists every group with Istio preferring v1 and serving v1beta1 and v1alpha3', async () => {
    const r = await h.call('GET', '/apis')
    expect(r.body.kind).toBe('APIGroupList')
    const istio = (r.body.groups as Array<Record<string, unknown>>).find(
      (g) => g.name === 'networking.istio.io'
    )
    expect(istio).toEqual({
      name: 'networking.istio.io',
      versions: [
        { groupVersion: 'networking.istio.io/v1', version: 'v1' },
        { groupVersion: 'networking.istio.io/v1beta1', version: 'v1beta1' },
        { groupVersion: 'networking.istio.io/v1alpha3', version: 'v1alpha3' }
      ],
      preferredVersion: { groupVersion: 'networking.istio.io/v1', version: 'v1' }
    })
    const groups = (r.body.groups as Array<{ name: string }>).map((g) => g.name)
    expect(groups).toEqual(
      expect.arrayContaining([
        'apps',
        'coordination.k8s.io',
        'networking.istio.io',
        'authorization.k8s.io'
      ])
    )
  })

  it.each(['v1', 'v1beta1', 'v1alpha3'])(
    'describes Istio %s resources with short names and status',
    async (v) => {
      const r = await h.call('GET', `/apis/networking.istio.io/${v}`)
      expect(r.body).toMatchObject({
        kind: 'APIResourceList',
        groupVersion: `networking.istio.io/${v}`
      })
      expect(r.body.resources).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            name: 'virtualservices',
            kind: 'VirtualService',
            shortNames: ['vs'],
            namespaced: true
          }),
          expect.objectContaining({
            name: 'destinationrules',
            kind: 'DestinationRule',
            shortNames: ['dr']
          }),
          expect.objectContaining({
            name: 'virtualservices/status',
            verbs: ['get', 'patch', 'update']
          })
        ])
      )
    }
  )

  it('describes deployments with status and scale subresources', async () => {
    const r = await h.call('GET', '/apis/apps/v1')
    expect(r.body.resources).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'deployments', shortNames: ['deploy'] }),
        expect.objectContaining({ name: 'deployments/status', kind: 'Deployment' }),
        expect.objectContaining({
          name: 'deployments/scale',
          group: 'autoscaling',
          version: 'v1',
          kind: 'Scale'
        })
      ])
    )
  })

  it('answers 404 for unknown groups and resources', async () => {
    expect((await h.call('GET', '/apis/example.com/v1')).status).toBe(404)
    const r = await h.call('GET', `/apis/apps/v1/namespaces/${NS}/replicasets`)
    expect(r.status).toBe(404)
    expect(r.body).toMatchObject({
      reason: 'NotFound',
      message: 'the server could not find the requested resource'
    })
  })
})

describe('get and list', () => {
  it.each([
    [`${VS_PATH}/reviews`, 'VirtualService', 'networking.istio.io/v1'],
    [`${DR_PATH}/reviews`, 'DestinationRule', 'networking.istio.io/v1'],
    [`${DEPLOY_PATH}/reviews-blue`, 'Deployment', 'apps/v1'],
    [`${SVC_PATH}/reviews`, 'Service', 'v1'],
    [`${LEASE_PATH}/reviews-lock`, 'Lease', 'coordination.k8s.io/v1'],
    [`/api/v1/namespaces/${NS}`, 'Namespace', 'v1']
  ])('GET %s answers the object with kind %s', async (path, kind, apiVersion) => {
    const r = await h.call('GET', path)
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ kind, apiVersion })
    expect(r.body.metadata.uid).toMatch(/^[0-9a-f-]{36}$/)
    expect(r.body.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
  })

  it.each(['v1', 'v1beta1', 'v1alpha3'])(
    'serves the same stored VirtualService under %s',
    async (v) => {
      const stored = await h.call('GET', `${VS_PATH}/reviews`)
      const r = await h.call(
        'GET',
        `/apis/networking.istio.io/${v}/namespaces/${NS}/virtualservices/reviews`
      )
      expect(r.body.apiVersion).toBe(`networking.istio.io/${v}`)
      expect(r.body.metadata).toEqual(stored.body.metadata)
      expect(r.body.spec).toEqual(stored.body.spec)
    }
  )

  it('answers a list with kind, resourceVersion and items; typed items carry no kind', async () => {
    const r = await h.call('GET', DEPLOY_PATH)
    expect(r.body).toMatchObject({ kind: 'DeploymentList', apiVersion: 'apps/v1' })
    expect(r.body.metadata.resourceVersion).toBe(h.server.store.resourceVersion())
    expect(r.body.items).toHaveLength(1)
    expect(r.body.items[0].kind).toBeUndefined()
    const vs = await h.call(
      'GET',
      `/apis/networking.istio.io/v1beta1/namespaces/${NS}/virtualservices`
    )
    expect(vs.body.kind).toBe('VirtualServiceList')
    expect(vs.body.items[0]).toMatchObject({
      kind: 'VirtualService',
      apiVersion: 'networking.istio.io/v1beta1'
    })
  })

  describe('selectors', () => {
    beforeAll(() => {
      for (const [name, labels] of [
        ['a', { app: 'x', tier: 'web' }],
        ['b', { app: 'y', tier: 'web' }],
        ['c', { app: 'z' }]
      ] as const) {
        h.server.store.create('leases', {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: `sel-${name}`, namespace: NS, labels: { ...labels } }
        })
      }
    })

    it.each([
      ['app=x', ['sel-a']],
      ['app==y', ['sel-b']],
      ['app!=x,tier=web', ['sel-b']],
      ['app in (x,z)', ['sel-a', 'sel-c']],
      ['app notin (x,z),tier', ['sel-b']],
      ['!tier,app', ['sel-c']],
      ['tier=web,app=y', ['sel-b']]
    ])('labelSelector %s selects %j', async (selector, names) => {
      const r = await h.call('GET', `${LEASE_PATH}?labelSelector=${encodeURIComponent(selector)}`)
      expect(r.status).toBe(200)
      expect(
        (r.body.items as Array<{ metadata: { name: string } }>).map((i) => i.metadata.name)
      ).toEqual(names)
    })

    it('fieldSelector metadata.name selects one object; unsupported fields are 400', async () => {
      const r = await h.call('GET', `${LEASE_PATH}?fieldSelector=metadata.name%3Dsel-b`)
      expect(r.body.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual([
        'sel-b'
      ])
      const bad = await h.call('GET', `${LEASE_PATH}?fieldSelector=spec.holderIdentity%3Dx`)
      expect(bad.status).toBe(400)
      expect(bad.body).toMatchObject({
        reason: 'BadRequest',
        message: 'field label not supported: spec.holderIdentity'
      })
    })

    it('lists across namespaces at the cluster-wide path', async () => {
      const r = await h.call('GET', '/apis/coordination.k8s.io/v1/leases?labelSelector=app')
      expect(r.body.items).toHaveLength(3)
    })

    it('pages with limit and continue', async () => {
      const first = await h.call('GET', `${LEASE_PATH}?limit=2`)
      expect(first.body.items).toHaveLength(2)
      expect(first.body.metadata.remainingItemCount).toBe(2)
      const next = await h.call(
        'GET',
        `${LEASE_PATH}?limit=2&continue=${first.body.metadata.continue}`
      )
      expect(next.body.items).toHaveLength(2)
      expect(next.body.metadata.continue).toBeUndefined()
      const all = [...first.body.items, ...next.body.items].map(
        (i: { metadata: { name: string } }) => i.metadata.name
      )
      expect(new Set(all).size).toBe(4)
    })
  })
})

describe('server-side printing', () => {
  it('answers a Table with the CRD printer columns when kubectl asks for one', async () => {
    const r = await h.call('GET', VS_PATH, {
      headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' }
    })
    expect(r.body.kind).toBe('Table')
    expect(r.body.columnDefinitions.map((c: { name: string }) => c.name)).toEqual([
      'Name',
      'Gateways',
      'Hosts',
      'Age'
    ])
    expect(r.body.rows[0].cells.slice(0, 3)).toEqual(['reviews', null, '["reviews"]'])
    expect(r.body.rows[0].object).toMatchObject({
      kind: 'PartialObjectMetadata',
      metadata: { name: 'reviews' }
    })
  })
})

describe('Status errors', () => {
  it('answers 404 NotFound with kube-apiserver message and details', async () => {
    const r = await h.call('GET', `${DEPLOY_PATH}/missing`)
    expect(r.status).toBe(404)
    expect(r.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'deployments.apps "missing" not found',
      reason: 'NotFound',
      details: { name: 'missing', group: 'apps', kind: 'deployments' },
      code: 404
    })
  })

  it('omits the group of core resources', async () => {
    const r = await h.call('GET', `${SVC_PATH}/missing`)
    expect(r.body.message).toBe('services "missing" not found')
    expect(r.body.details).toEqual({ name: 'missing', kind: 'services' })
  })

  it('answers 409 AlreadyExists when creating an existing name, and stores nothing', async () => {
    const before = h.server.store.get('virtualservices', NS, 'reviews')
    const r = await h.call('POST', VS_PATH, { body: virtualService('reviews', [1, 99]) })
    expect(r.status).toBe(409)
    expect(r.body).toMatchObject({
      reason: 'AlreadyExists',
      message: 'virtualservices.networking.istio.io "reviews" already exists',
      details: { name: 'reviews', group: 'networking.istio.io', kind: 'virtualservices' },
      code: 409
    })
    expect(h.server.store.get('virtualservices', NS, 'reviews')).toEqual(before)
  })

  it('answers 404 for a create in a missing namespace', async () => {
    const obj = { ...virtualService('x'), metadata: { name: 'x', namespace: 'nowhere' } }
    const r = await h.call(
      'POST',
      '/apis/networking.istio.io/v1/namespaces/nowhere/virtualservices',
      { body: obj }
    )
    expect(r.status).toBe(404)
    expect(r.body).toMatchObject({
      message: 'namespaces "nowhere" not found',
      details: { name: 'nowhere', kind: 'namespaces' }
    })
  })

  it('answers 400 when the body names another object than the URL', async () => {
    const current = (await h.call('GET', `${VS_PATH}/reviews`)).body
    const r = await h.call('PUT', `${VS_PATH}/reviews`, {
      body: { ...current, metadata: { ...current.metadata, name: 'other' } }
    })
    expect(r.status).toBe(400)
    expect(r.body).toMatchObject({
      reason: 'BadRequest',
      message: 'the name of the object (other) does not match the name on the URL (reviews)'
    })
  })

  it('answers 400 when the body names another namespace', async () => {
    const body = {
      ...virtualService('ns-mismatch'),
      metadata: { name: 'ns-mismatch', namespace: 'elsewhere' }
    }
    const r = await h.call('POST', VS_PATH, { body })
    expect(r.status).toBe(400)
    expect(r.body.message).toBe(
      'the namespace of the provided object does not match the namespace sent on the request'
    )
  })

  it('refuses a create that carries a resourceVersion, as etcd3 storage does', async () => {
    const body = {
      ...virtualService('with-rv'),
      metadata: { name: 'with-rv', resourceVersion: '12' }
    }
    const r = await h.call('POST', VS_PATH, { body })
    expect(r.status).toBe(500)
    expect(r.body.message).toBe('resourceVersion should not be set on objects to be created')
  })
})

describe('create', () => {
  it('sets uid, creationTimestamp, resourceVersion, generation 1 and answers 201', async () => {
    const before = Number(h.server.store.resourceVersion())
    const r = await h.call('POST', VS_PATH, { body: virtualService('created') })
    expect(r.status).toBe(201)
    expect(Number(r.body.metadata.resourceVersion)).toBe(before + 1)
    expect(r.body.metadata.generation).toBe(1)
    expect(r.body.metadata.uid).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('drops status sent with a create of a resource with a status subresource', async () => {
    const body = { ...virtualService('with-status'), status: { observedGeneration: 7 } }
    const r = await h.call('POST', VS_PATH, { body })
    expect(r.body.status).toBeUndefined()
    const d = await h.call('POST', DEPLOY_PATH, {
      body: { ...deployment('with-status', 'x', 'img:1'), status: { readyReplicas: 5 } }
    })
    expect(d.body.status).toEqual({})
  })

  it('applies Deployment and Service defaults', async () => {
    const d = await h.call('POST', DEPLOY_PATH, { body: deployment('defaults', 'd', 'img:latest') })
    expect(d.body.spec).toMatchObject({
      replicas: 2,
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } }
    })
    expect(d.body.spec.template.spec.containers[0]).toMatchObject({ imagePullPolicy: 'Always' })
    const s = await h.call('POST', SVC_PATH, {
      body: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'svc-defaults' },
        spec: { ports: [{ port: 80 }] }
      }
    })
    expect(s.body.spec).toMatchObject({
      type: 'ClusterIP',
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }]
    })
    expect(s.body.spec.clusterIP).toMatch(/^10\.96\./)
  })

  it('generates a name from generateName', async () => {
    const body = { ...virtualService(), metadata: { generateName: 'gen-' } }
    const r = await h.call('POST', VS_PATH, { body })
    expect(r.status).toBe(201)
    expect(r.body.metadata.name).toMatch(/^gen-[a-z0-9]{5}$/)
  })

  it('validates Deployments: selector must match the template labels', async () => {
    const bad = deployment('mismatch', 'blue', 'img:1')
    ;(bad.spec as { selector: unknown }).selector = { matchLabels: { app: 'other' } }
    const r = await h.call('POST', DEPLOY_PATH, { body: bad })
    expect(r.status).toBe(422)
    expect(r.body.message).toBe(
      'Deployment.apps "mismatch" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"reviews", "version":"blue"}: `selector` does not match template `labels`'
    )
    expect(h.server.store.get('deployments', NS, 'mismatch')).toBeUndefined()
  })

  it('validates names as DNS-1123 subdomains', async () => {
    const r = await h.call('POST', VS_PATH, { body: virtualService('Bad_Name') })
    expect(r.status).toBe(422)
    expect(r.body.details.causes).toEqual([
      expect.objectContaining({ reason: 'FieldValueInvalid', field: 'metadata.name' })
    ])
  })
})

describe('resourceVersion', () => {
  it('is one global counter bumped on every write', async () => {
    const a = await h.call('POST', LEASE_PATH, {
      body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'rv-1' } }
    })
    const b = await h.call('POST', VS_PATH, { body: virtualService('rv-2') })
    expect(Number(b.body.metadata.resourceVersion)).toBe(
      Number(a.body.metadata.resourceVersion) + 1
    )
  })

  it.each([
    ['deployments', DEPLOY_PATH, 'reviews-blue', 'deployments.apps'],
    ['virtualservices', VS_PATH, 'reviews', 'virtualservices.networking.istio.io'],
    ['leases', LEASE_PATH, 'reviews-lock', 'leases.coordination.k8s.io']
  ])(
    'a PUT of %s with a stale resourceVersion is 409 Conflict and changes nothing',
    async (_r, path, name, qualified) => {
      const current = (await h.call('GET', `${path}/${name}`)).body
      const stale = String(Number(current.metadata.resourceVersion) - 1)
      const body = {
        ...current,
        metadata: { ...current.metadata, resourceVersion: stale, labels: { changed: 'yes' } }
      }
      const r = await h.call('PUT', `${path}/${name}`, { body })
      expect(r.status).toBe(409)
      expect(r.body).toEqual({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `Operation cannot be fulfilled on ${qualified} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        reason: 'Conflict',
        details: {
          name,
          group: qualified.split('.').slice(1).join('.'),
          kind: qualified.split('.')[0]
        },
        code: 409
      })
      expect((await h.call('GET', `${path}/${name}`)).body).toEqual(current)
    }
  )

  it('a merge patch carrying a stale resourceVersion is 409 Conflict', async () => {
    const current = (await h.call('GET', `${VS_PATH}/reviews`)).body
    const r = await h.call('PATCH', `${VS_PATH}/reviews`, {
      contentType: 'application/merge-patch+json',
      body: { metadata: { resourceVersion: '1' }, spec: { hosts: ['changed'] } }
    })
    expect(r.status).toBe(409)
    expect(r.body.reason).toBe('Conflict')
    expect((await h.call('GET', `${VS_PATH}/reviews`)).body).toEqual(current)
  })

  it.each([
    [DEPLOY_PATH, 'reviews-blue'],
    [SVC_PATH, 'reviews']
  ])('allows an unconditional PUT (no resourceVersion) at %s/%s, as built-ins do', async (p, n) => {
    const current = (await h.call('GET', `${p}/${n}`)).body
    const metadata = withoutResourceVersion(current.metadata)
    const r = await h.call('PUT', `${p}/${n}`, {
      body: {
        ...current,
        metadata: { ...metadata, labels: { ...(metadata.labels as object), put: 'yes' } }
      }
    })
    expect(r.status).toBe(200)
    expect(r.body.metadata.labels.put).toBe('yes')
  })

  it('refuses a Lease PUT without resourceVersion: its strategy allows no unconditional update', async () => {
    const current = (await h.call('GET', `${LEASE_PATH}/reviews-lock`)).body
    const metadata = withoutResourceVersion(current.metadata)
    const r = await h.call('PUT', `${LEASE_PATH}/reviews-lock`, {
      body: { ...current, metadata, spec: { ...current.spec, holderIdentity: 'run-2' } }
    })
    expect(r.status).toBe(422)
    expect(r.body.message).toBe(
      'leases.coordination.k8s.io "reviews-lock" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update'
    )
    expect(h.server.store.get('leases', NS, 'reviews-lock')?.spec?.holderIdentity).toBe('run-1')
  })

  it('refuses a PUT without resourceVersion on custom resources, as kube-apiserver does', async () => {
    const current = (await h.call('GET', `${VS_PATH}/reviews`)).body
    const metadata = withoutResourceVersion(current.metadata)
    const r = await h.call('PUT', `${VS_PATH}/reviews`, { body: { ...current, metadata } })
    expect(r.status).toBe(422)
    expect(r.body.message).toBe(
      'virtualservices.networking.istio.io "reviews" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update'
    )
  })

  it('does not bump resourceVersion for a write that changes nothing', async () => {
    const current = (await h.call('GET', `${VS_PATH}/reviews`)).body
    const r = await h.call('PUT', `${VS_PATH}/reviews`, { body: current })
    expect(r.status).toBe(200)
    expect(r.body.metadata.resourceVersion).toBe(current.metadata.resourceVersion)
  })

  it('PUT of a missing Deployment is 404, of a missing Lease creates it (201)', async () => {
    const d = await h.call('PUT', `${DEPLOY_PATH}/nope`, { body: deployment('nope', 'x', 'i:1') })
    expect(d.status).toBe(404)
    const l = await h.call('PUT', `${LEASE_PATH}/made-by-put`, {
      body: {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'made-by-put' }
      }
    })
    expect(l.status).toBe(201)
  })
})

describe('generation', () => {
  const path = `${VS_PATH}/gen`
  beforeAll(async () => {
    await h.call('POST', VS_PATH, { body: virtualService('gen') })
  })

  it.each([
    ['labels', 0, { metadata: { labels: { a: 'b' } } }],
    ['annotations', 0, { metadata: { annotations: { a: 'b' } } }],
    ['spec', 1, { spec: { hosts: ['other'] } }]
  ])('a custom resource change of %s moves generation by %d', async (_what, delta, patch) => {
    const before = (await h.call('GET', path)).body.metadata.generation as number
    const r = await h.call('PATCH', path, {
      contentType: 'application/merge-patch+json',
      body: patch
    })
    expect(r.status).toBe(200)
    expect(r.body.metadata.generation).toBe(before + delta)
  })

  it('a status write never moves generation', async () => {
    const before = (await h.call('GET', path)).body
    const r = await h.call('PATCH', `${path}/status`, {
      contentType: 'application/merge-patch+json',
      body: { status: { observedGeneration: 3 } }
    })
    expect(r.body.metadata.generation).toBe(before.metadata.generation)
    expect(r.body.status).toEqual({ observedGeneration: 3 })
  })

  it.each([
    ['labels', 0, { metadata: { labels: { a: 'b' } } }],
    [
      'annotations (copied to ReplicaSets, so they count)',
      1,
      { metadata: { annotations: { a: 'b' } } }
    ],
    ['spec', 1, { spec: { replicas: 3 } }]
  ])('a Deployment change of %s moves generation by %d', async (_what, delta, patch) => {
    const before = (await h.call('GET', `${DEPLOY_PATH}/reviews-blue`)).body.metadata
      .generation as number
    const r = await h.call('PATCH', `${DEPLOY_PATH}/reviews-blue`, {
      contentType: 'application/merge-patch+json',
      body: patch
    })
    expect(r.body.metadata.generation).toBe(before + delta)
  })
})

describe('status subresource', () => {
  it('ignores status in writes through the main resource', async () => {
    await h.call('PATCH', `${DEPLOY_PATH}/reviews-blue/status`, {
      contentType: 'application/merge-patch+json',
      body: { status: { replicas: 9 } }
    })
    const r = await h.call('PATCH', `${DEPLOY_PATH}/reviews-blue`, {
      contentType: 'application/merge-patch+json',
      body: { status: { replicas: 1 }, metadata: { labels: { via: 'main' } } }
    })
    expect(r.body.status.replicas).toBe(9)
    expect(r.body.metadata.labels.via).toBe('main')
  })

  it('ignores everything but status in writes through /status', async () => {
    const current = (await h.call('GET', `${VS_PATH}/reviews`)).body
    const r = await h.call('PUT', `${VS_PATH}/reviews/status`, {
      body: {
        ...current,
        spec: { hosts: ['ignored'] },
        metadata: { ...current.metadata, labels: { x: 'y' } },
        status: { observedGeneration: 1 }
      }
    })
    expect(r.status).toBe(200)
    expect(r.body.spec).toEqual(current.spec)
    expect(r.body.metadata.labels).toBeUndefined()
    expect(r.body.status).toEqual({ observedGeneration: 1 })
  })

  it('answers 404 for a subresource the resource lacks', async () => {
    expect((await h.call('GET', `${LEASE_PATH}/reviews-lock/status`)).status).toBe(404)
  })
})

describe('scale subresource', () => {
  it('reads and writes replicas through autoscaling/v1 Scale', async () => {
    const s = await h.call('GET', `${DEPLOY_PATH}/reviews-blue/scale`)
    expect(s.body).toMatchObject({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      status: { selector: 'app=reviews,version=blue' }
    })
    const r = await h.call('PATCH', `${DEPLOY_PATH}/reviews-blue/scale`, {
      contentType: 'application/merge-patch+json',
      body: { spec: { replicas: 5 } }
    })
    expect(r.body.spec.replicas).toBe(5)
    expect(h.server.store.get('deployments', NS, 'reviews-blue')?.spec?.replicas).toBe(5)
    const put = await h.call('PUT', `${DEPLOY_PATH}/reviews-blue/scale`, {
      body: { ...r.body, spec: { replicas: 2 } }
    })
    expect(put.status).toBe(200)
    expect(h.server.store.get('deployments', NS, 'reviews-blue')?.spec?.replicas).toBe(2)
    const stale = await h.call('PUT', `${DEPLOY_PATH}/reviews-blue/scale`, { body: r.body })
    expect(stale.status).toBe(409)
  })
})

describe('dry run', () => {
  it('answers as if written but stores nothing with dryRun=All', async () => {
    const before = h.server.store.resourceVersion()
    const created = await h.call('POST', `${VS_PATH}?dryRun=All`, { body: virtualService('dry') })
    expect(created.status).toBe(201)
    expect(created.body.metadata.uid).toBeDefined()
    const patched = await h.call('PATCH', `${VS_PATH}/reviews?dryRun=All`, {
      contentType: 'application/merge-patch+json',
      body: { spec: { hosts: ['dry'] } }
    })
    expect(patched.body.spec.hosts).toEqual(['dry'])
    const deleted = await h.call('DELETE', `${VS_PATH}/reviews?dryRun=All`)
    expect(deleted.status).toBe(200)
    expect(h.server.store.get('virtualservices', NS, 'dry')).toBeUndefined()
    expect(h.server.store.get('virtualservices', NS, 'reviews')?.spec?.hosts).toEqual(['reviews'])
    expect(h.server.store.resourceVersion()).toBe(before)
  })
})

describe('managed fields', () => {
  it('records the fieldManager parameter, else the User-Agent up to its first slash', async () => {
    const created = await h.call('POST', VS_PATH, {
      body: virtualService('managed'),
      headers: { 'User-Agent': 'istio-bluegreen/0.1.0 (linux)' }
    })
    expect(created.body.metadata.managedFields).toEqual([
      expect.objectContaining({
        manager: 'istio-bluegreen',
        operation: 'Update',
        apiVersion: 'networking.istio.io/v1',
        fieldsType: 'FieldsV1',
        time: expect.stringMatching(/Z$/)
      })
    ])
    const patched = await h.call('PATCH', `${VS_PATH}/managed?fieldManager=operator`, {
      contentType: 'application/json-patch+json',
      body: [{ op: 'replace', path: '/spec/http/0/route/0/weight', value: 50 }]
    })
    const entries = patched.body.metadata.managedFields as Array<Record<string, unknown>>
    expect(entries.map((e) => e.manager)).toEqual(['istio-bluegreen', 'operator'])
    // The last writer of the routes owns them.
    expect(entries[1]?.fieldsV1).toEqual({ 'f:spec': { 'f:http': {} } })
    expect(entries[0]?.fieldsV1).toEqual({ 'f:spec': { 'f:hosts': {} } })
  })

  it('names the manager of a field', () => {
    const stored = h.server.store.get('virtualservices', NS, 'managed')
    expect(stored && managersOf(stored, ['spec', 'http'])).toEqual(['operator'])
  })

  it('marks status writes with the subresource', async () => {
    const r = await h.call('PATCH', `${VS_PATH}/managed/status?fieldManager=pilot`, {
      contentType: 'application/merge-patch+json',
      body: { status: { observedGeneration: 1 } }
    })
    expect(r.body.metadata.managedFields).toContainEqual(
      expect.objectContaining({ manager: 'pilot', subresource: 'status' })
    )
  })
})

describe('leases', () => {
  it('are ordinary namespaced objects guarded by resourceVersion', async () => {
    const spec = {
      holderIdentity: 'run-a',
      leaseDurationSeconds: 15,
      acquireTime: '2024-01-01T00:00:00.000000Z',
      renewTime: '2024-01-01T00:00:05.000000Z',
      leaseTransitions: 0
    }
    const created = await h.call('POST', LEASE_PATH, {
      body: {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'lock' },
        spec
      }
    })
    expect(created.body.spec).toEqual(spec)
    const take = (rv: string) =>
      h.call('PUT', `${LEASE_PATH}/lock`, {
        body: {
          ...created.body,
          metadata: { ...created.body.metadata, resourceVersion: rv },
          spec: { ...spec, holderIdentity: 'run-b', leaseTransitions: 1 }
        }
      })
    const first = await take(created.body.metadata.resourceVersion)
    expect(first.status).toBe(200)
    const second = await take(created.body.metadata.resourceVersion)
    expect(second.status).toBe(409)
  })
})

describe('delete', () => {
  it('deletes, answers like kube-apiserver, and then 404s', async () => {
    await h.call('POST', VS_PATH, { body: virtualService('doomed') })
    const r = await h.call('DELETE', `${VS_PATH}/doomed`)
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ kind: 'VirtualService', metadata: { name: 'doomed' } })
    expect((await h.call('GET', `${VS_PATH}/doomed`)).status).toBe(404)
    expect((await h.call('DELETE', `${VS_PATH}/doomed`)).status).toBe(404)
    const lease = await h.call('DELETE', `${LEASE_PATH}/rv-1`)
    expect(lease.body).toMatchObject({
      kind: 'Status',
      status: 'Success',
      details: { name: 'rv-1', group: 'coordination.k8s.io', kind: 'leases' }
    })
  })

  it('honours a resourceVersion precondition', async () => {
    await h.call('POST', VS_PATH, { body: virtualService('guarded') })
    const r = await h.call('DELETE', `${VS_PATH}/guarded`, {
      body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { resourceVersion: '1' } }
    })
    expect(r.status).toBe(409)
    expect(r.body.message).toMatch(
      /^Operation cannot be fulfilled on virtualservices.networking.istio.io "guarded": Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: \d+$/
    )
    expect(h.server.store.get('virtualservices', NS, 'guarded')).toBeDefined()
  })
})

describe('RBAC denials', () => {
  afterEach(() => h.server.setDenials([]))

  it('answers 403 Forbidden with kube-apiserver message and leaves the object alone', async () => {
    h.server.setDenials([{ verb: 'patch', resource: 'deployments', namespace: NS }])
    const before = h.server.store.get('deployments', NS, 'reviews-blue')
    const r = await h.call('PATCH', `${DEPLOY_PATH}/reviews-blue`, {
      contentType: 'application/merge-patch+json',
      body: { spec: { replicas: 0 } }
    })
    expect(r.status).toBe(403)
    expect(r.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message:
        'deployments.apps "reviews-blue" is forbidden: User "system:serviceaccount:ci:deployer" cannot patch resource "deployments" in API group "apps" in the namespace "demo"',
      reason: 'Forbidden',
      details: { name: 'reviews-blue', group: 'apps', kind: 'deployments' },
      code: 403
    })
    expect(h.server.store.get('deployments', NS, 'reviews-blue')).toEqual(before)
  })

  it('words collection requests and the core group as kube does; other verbs pass', async () => {
    h.server.setDenials([{ verb: 'list', resource: 'pods' }])
    const r = await h.call('GET', POD_PATH)
    expect(r.body.message).toBe(
      'pods is forbidden: User "system:serviceaccount:ci:deployer" cannot list resource "pods" in API group "" in the namespace "demo"'
    )
    expect((await h.call('GET', `${SVC_PATH}/reviews`)).status).toBe(200)
  })

  it('does not extend a rule on a resource to its status subresource', async () => {
    h.server.setDenials([{ verb: 'patch', resource: 'virtualservices' }])
    const r = await h.call('PATCH', `${VS_PATH}/reviews/status`, {
      contentType: 'application/merge-patch+json',
      body: { status: {} }
    })
    expect(r.status).toBe(200)
  })

  it.each([
    [{ verb: 'patch', resource: 'virtualservices', namespace: NS }, false],
    [{ verb: 'patch', resource: 'virtualservices', namespace: 'other' }, true],
    [{ verb: 'get', resource: 'virtualservices' }, true]
  ])('SelfSubjectAccessReview with denial %j answers allowed=%s', async (rule, allowed) => {
    h.server.setDenials([rule])
    const r = await h.call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: {
          resourceAttributes: {
            namespace: NS,
            verb: 'patch',
            group: 'networking.istio.io',
            resource: 'virtualservices'
          }
        }
      }
    })
    expect(r.status).toBe(201)
    expect(r.body.kind).toBe('SelfSubjectAccessReview')
    expect(r.body.status.allowed).toBe(allowed)
    if (!allowed)
      expect(r.body.status.reason).toEqual(expect.stringContaining('patch virtualservices'))
  })
})

describe('RBAC Role', () => {
  afterEach(() => h.server.setRole(undefined))
  const review = (verb: string, group: string, resource: string) =>
    h.call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { namespace: NS, verb, group, resource } }
      }
    })

  it('grants exactly the rules, as RBAC: group, resource and verb must all match', async () => {
    h.server.setRole([{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get'] }])
    expect((await h.call('GET', `${DEPLOY_PATH}/reviews-blue`)).status).toBe(200)
    expect((await h.call('GET', DEPLOY_PATH)).status).toBe(403)
    expect((await h.call('GET', `${SVC_PATH}/reviews`)).status).toBe(403)
    // A rule for deployments does not cover their scale subresource.
    expect((await h.call('GET', `${DEPLOY_PATH}/reviews-blue/scale`)).status).toBe(403)
    expect((await review('get', 'apps', 'deployments')).body.status.allowed).toBe(true)
    expect((await review('patch', 'apps', 'deployments')).body.status.allowed).toBe(false)
    // Same resource name, other group: not granted.
    expect((await review('get', 'extensions', 'deployments')).body.status.allowed).toBe(false)
  })

  it('lets everyone create SelfSubjectAccessReviews (system:basic-user), unless denied', async () => {
    h.server.setRole([])
    expect((await review('get', '', 'pods')).status).toBe(201)
    h.server.setDenials([{ verb: 'create', resource: 'selfsubjectaccessreviews' }])
    try {
      expect((await review('get', '', 'pods')).status).toBe(403)
    } finally {
      h.server.setDenials([])
    }
  })

  it('audits every resource request in RBAC terms', async () => {
    const from = h.server.audit().length
    await h.call('GET', `${DEPLOY_PATH}/reviews-blue/scale`)
    await h.call('GET', POD_PATH)
    expect(h.server.audit().slice(from)).toEqual([
      {
        verb: 'get',
        group: 'apps',
        resource: 'deployments/scale',
        namespace: NS,
        name: 'reviews-blue'
      },
      { verb: 'list', group: '', resource: 'pods', namespace: NS }
    ])
  })
})

describe('faults', () => {
  afterEach(() => h.server.setFaults([]))

  it('adds latency to matching requests only', async () => {
    h.server.setFaults([{ latencyMs: 150, resources: ['virtualservices'] }])
    let t = Date.now()
    await h.call('GET', `${VS_PATH}/reviews`)
    expect(Date.now() - t).toBeGreaterThanOrEqual(140)
    t = Date.now()
    await h.call('GET', `${LEASE_PATH}/reviews-lock`)
    expect(Date.now() - t).toBeLessThan(140)
  })

  it('answers 500 InternalError or 503 ServiceUnavailable Status bodies', async () => {
    h.server.setFaults([{ errorRate: 1, verbs: ['get'] }])
    const seen = new Set<string>()
    for (let i = 0; i < 30 && seen.size < 2; i++) {
      const r = await h.call('GET', `${VS_PATH}/reviews`)
      expect([500, 503]).toContain(r.status)
      expect(r.body).toMatchObject({ kind: 'Status', status: 'Failure', code: r.status })
      seen.add(r.body.reason as string)
    }
    expect(seen).toEqual(new Set(['InternalError', 'ServiceUnavailable']))
    expect((await h.call('GET', VS_PATH)).status).toBe(200)
  })

  it('answers 409 Conflict to writes without applying them', async () => {
    h.server.setFaults([{ conflictRate: 1, resources: ['virtualservices'] }])
    const before = h.server.store.get('virtualservices', NS, 'reviews')
    const r = await h.call('PATCH', `${VS_PATH}/reviews`, {
      contentType: 'application/merge-patch+json',
      body: { spec: { hosts: ['x'] } }
    })
    expect(r.status).toBe(409)
    expect(r.body.reason).toBe('Conflict')
    expect(h.server.store.get('virtualservices', NS, 'reviews')).toEqual(before)
    expect((await h.call('GET', `${VS_PATH}/reviews`)).status).toBe(200)
  })

  it('drops the connection without an answer', async () => {
    h.server.setFaults([{ dropRate: 1, verbs: ['list'] }])
    await expect(h.call('GET', VS_PATH)).rejects.toThrow()
  })

  it('never applies to in-process writes', () => {
    h.server.setFaults([{ errorRate: 1, dropRate: 1, conflictRate: 1 }])
    const obj = h.server.store.create('leases', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'internal', namespace: NS }
    })
    expect(obj.metadata.resourceVersion).toBeDefined()
  })
})

describe('watch', () => {
  it('streams ADDED for what exists, then changes as newline-delimited JSON', async () => {
    const controller = new AbortController()
    const res = await fetch(
      `${h.server.url}${VS_PATH}?watch=true&fieldSelector=metadata.name%3Dreviews`,
      {
        headers: { Authorization: 'Bearer t' },
        signal: controller.signal
      }
    )
    if (!res.body) throw new Error('no body')
    const reader = res.body.getReader()
    const events: Array<{ type: string; object: { metadata: { name: string } } }> = []
    let buffer = ''
    const next = async () => {
      while (!buffer.includes('\n')) buffer += new TextDecoder().decode((await reader.read()).value)
      const i = buffer.indexOf('\n')
      const line = buffer.slice(0, i)
      buffer = buffer.slice(i + 1)
      events.push(JSON.parse(line) as (typeof events)[number])
    }
    await next()
    await h.call('PATCH', `${VS_PATH}/reviews`, {
      contentType: 'application/merge-patch+json',
      body: { metadata: { labels: { watched: 'yes' } } }
    })
    await next()
    controller.abort()
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED'])
    expect(events[1]?.object.metadata.name).toBe('reviews')
  })

  it('answers 410 Expired in an ERROR event for a resourceVersion older than its history', async () => {
    const res = await fetch(`${h.server.url}${VS_PATH}?watch=1&resourceVersion=1`, {
      headers: { Authorization: 'Bearer t' }
    })
    const text = await res.text()
    expect(JSON.parse(text.trim())).toMatchObject({
      type: 'ERROR',
      object: { kind: 'Status', code: 410, reason: 'Expired' }
    })
  })
})
