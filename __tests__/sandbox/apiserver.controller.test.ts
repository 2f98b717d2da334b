/**
 * The deployment controller simulator: pods per template, readiness from image behaviours,
 * Deployment status and conditions as kube-controller-manager writes them, rollouts, scaling,
 * garbage collection, and sidecar injection.
 */
import { podTemplateHash } from '../../sandbox/apiserver/pods.js'
import type { KubeObject } from '../../sandbox/types.js'
import {
  DEPLOY_PATH,
  NS,
  deployment,
  startHarness,
  waitFor,
  type Harness
} from './apiserver.harness.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness({ controllerDelayMs: 20 })
  h.server.store.create('namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NS }
  })
  h.behaviours.set('good:1', { ready: true, startupMs: 40 })
  h.behaviours.set('good:2', { ready: true, startupMs: 40 })
  h.behaviours.set('pull:1', { ready: false, notReadyReason: 'ImagePullBackOff' })
  h.behaviours.set('crash:1', { ready: false, notReadyReason: 'CrashLoopBackOff' })
})
afterAll(async () => {
  await h.close()
})

const store = () => h.server.store
const pods = (deploy: string): KubeObject[] =>
  store()
    .list('pods', NS)
    .filter((p) => String(p.metadata.ownerReferences?.[0]?.name ?? '').startsWith(`${deploy}-`))
const dep = (name: string): KubeObject => store().get('deployments', NS, name) as KubeObject
const condition = (d: KubeObject, type: string) =>
  ((d.status?.conditions ?? []) as Array<Record<string, unknown>>).find((c) => c.type === type)
const ready = (p: KubeObject) =>
  ((p.status?.conditions ?? []) as Array<Record<string, unknown>>).some(
    (c) => c.type === 'Ready' && c.status === 'True'
  )

async function create(
  name: string,
  image: string,
  replicas = 2,
  extra: Record<string, unknown> = {}
): Promise<KubeObject> {
  const body = deployment(name, name, image, replicas)
  body.spec = { ...body.spec, ...extra }
  const r = await h.call('POST', DEPLOY_PATH, { body })
  expect(r.status).toBe(201)
  return r.body as KubeObject
}

it('waits for its delay before reacting', async () => {
  const slow = await startHarness({ controllerDelayMs: 150 })
  slow.server.store.create('namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NS }
  })
  await slow.call('POST', DEPLOY_PATH, { body: deployment('slow', 'slow', 'any:1', 1) })
  await new Promise((r) => setTimeout(r, 60))
  expect(slow.server.store.list('pods', NS)).toHaveLength(0)
  await waitFor(() => slow.server.store.list('pods', NS).length === 1, 2000, 'pod after delay')
  await slow.close()
})

it('creates pods for the template and reports the Deployment available once they are ready', async () => {
  const d = await create('web', 'good:1')
  const hash = podTemplateHash(d.spec?.template)
  await waitFor(() => pods('web').length === 2 || undefined, 2000, 'pods')
  for (const p of pods('web')) {
    expect(p.metadata.name).toMatch(new RegExp(`^web-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`))
    expect(p.metadata.labels).toEqual({ app: 'reviews', version: 'web', 'pod-template-hash': hash })
    expect(p.metadata.ownerReferences).toEqual([
      expect.objectContaining({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        name: `web-${hash}`,
        controller: true
      })
    ])
    expect((p.spec?.containers as Array<Record<string, unknown>>)[0]).toMatchObject({
      name: 'app',
      image: 'good:1'
    })
    expect(p.status?.phase).toBe('Running')
  }
  const status = await waitFor(
    () => {
      const s = dep('web').status
      return s?.availableReplicas === 2 ? s : undefined
    },
    2000,
    'available'
  )
  expect(pods('web').every(ready)).toBe(true)
  expect(status).toEqual({
    observedGeneration: 1,
    replicas: 2,
    updatedReplicas: 2,
    readyReplicas: 2,
    availableReplicas: 2,
    conditions: [
      expect.objectContaining({
        type: 'Available',
        status: 'True',
        reason: 'MinimumReplicasAvailable',
        message: 'Deployment has minimum availability.'
      }),
      expect.objectContaining({
        type: 'Progressing',
        status: 'True',
        reason: 'NewReplicaSetAvailable',
        message: `ReplicaSet "web-${hash}" has successfully progressed.`
      })
    ]
  })
  const stored = dep('web')
  expect(stored.metadata.generation).toBe(1)
  expect(stored.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('1')
  expect(stored.metadata.managedFields).toContainEqual(
    expect.objectContaining({ manager: 'kube-controller-manager', subresource: 'status' })
  )
  const [container] = (pods('web')[0]?.status?.containerStatuses ?? []) as Array<
    Record<string, unknown>
  >
  expect(container).toMatchObject({
    name: 'app',
    ready: true,
    started: true,
    state: { running: expect.any(Object) }
  })
})

it.each([
  ['pull:1', 'ImagePullBackOff', 'Pending', 'Back-off pulling image "pull:1"'],
  [
    'crash:1',
    'CrashLoopBackOff',
    'Running',
    expect.stringMatching(/^back-off 10s restarting failed container=app pod=/)
  ]
])('pods of %s never become ready and say %s', async (image, reason, phase, message) => {
  const name = image.split(':')[0] as string
  await create(name, image)
  const status = await waitFor(
    () => {
      const s = dep(name).status
      return s?.unavailableReplicas === 2 ? s : undefined
    },
    2000,
    'status'
  )
  expect(status.readyReplicas).toBeUndefined()
  expect(status.availableReplicas).toBeUndefined()
  expect(condition(dep(name), 'Available')).toMatchObject({
    status: 'False',
    reason: 'MinimumReplicasUnavailable'
  })
  expect(condition(dep(name), 'Progressing')).toMatchObject({
    status: 'True',
    reason: 'ReplicaSetUpdated'
  })
  for (const p of pods(name)) {
    expect(p.status?.phase).toBe(phase)
    expect(p.status?.conditions).toContainEqual(
      expect.objectContaining({
        type: 'Ready',
        status: 'False',
        reason: 'ContainersNotReady',
        message: 'containers with unready status: [app]'
      })
    )
    expect(p.status?.containerStatuses).toEqual([
      expect.objectContaining({
        name: 'app',
        ready: false,
        state: { waiting: { reason, message } }
      })
    ])
  }
})

it('marks a stuck rollout ProgressDeadlineExceeded after progressDeadlineSeconds (second-precision times, as in kube)', async () => {
  await create('deadline', 'pull:1', 1, { progressDeadlineSeconds: 1 })
  const c = await waitFor(
    () => {
      const p = condition(dep('deadline'), 'Progressing')
      return p?.reason === 'ProgressDeadlineExceeded' ? p : undefined
    },
    3000,
    'deadline'
  )
  expect(c).toMatchObject({
    status: 'False',
    message: expect.stringMatching(/^ReplicaSet "deadline-\w+" has timed out progressing\.$/)
  })
})

it('rolls out a new template: new pods first, old ones removed once the new are ready', async () => {
  await create('roll', 'good:1')
  await waitFor(() => dep('roll').status?.availableReplicas === 2, 2000, 'first rollout')
  const oldNames = pods('roll').map((p) => p.metadata.name)
  const r = await h.call('PATCH', `${DEPLOY_PATH}/roll`, {
    contentType: 'application/strategic-merge-patch+json',
    body: { spec: { template: { spec: { containers: [{ name: 'app', image: 'good:2' }] } } } }
  })
  expect(r.body.metadata.generation).toBe(2)
  const newHash = podTemplateHash(r.body.spec.template)
  await waitFor(() => pods('roll').length === 4, 2000, 'surge')
  const done = await waitFor(
    () => {
      const d = dep('roll')
      return d.status?.observedGeneration === 2 &&
        condition(d, 'Progressing')?.reason === 'NewReplicaSetAvailable'
        ? d
        : undefined
    },
    2000,
    'second rollout'
  )
  // The rollout is complete while the old pods are still Terminating: not ready, not counted.
  const old = pods('roll').filter((p) => oldNames.includes(p.metadata.name))
  expect(old.every((p) => typeof p.metadata.deletionTimestamp === 'string' && !ready(p))).toBe(true)
  expect(done.status).toMatchObject({ replicas: 2, updatedReplicas: 2, availableReplicas: 2 })
  await waitFor(() => pods('roll').length === 2, 2000, 'old pods gone')
  const now = pods('roll')
  expect(
    now.every(
      (p) =>
        p.metadata.labels?.['pod-template-hash'] === newHash && !oldNames.includes(p.metadata.name)
    )
  ).toBe(true)
  expect(done.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('2')
})

it('hashes a pod template whatever the order of its keys, as kube hashes the decoded struct', () => {
  const template = {
    metadata: { labels: { app: 'a', version: 'v' } },
    spec: { containers: [{ name: 'app', image: 'i:1', ports: [{ containerPort: 80 }] }] }
  }
  const reordered = {
    spec: { containers: [{ ports: [{ containerPort: 80 }], image: 'i:1', name: 'app' }] },
    metadata: { labels: { version: 'v', app: 'a' } }
  }
  expect(podTemplateHash(reordered)).toBe(podTemplateHash(template))
  expect(podTemplateHash({ ...template, spec: { containers: [] } })).not.toBe(
    podTemplateHash(template)
  )
})

it('does not roll out a template sent again with its keys in another order', async () => {
  await create('reorder', 'good:1')
  await waitFor(() => dep('reorder').status?.availableReplicas === 2, 2000, 'first rollout')
  const before = pods('reorder')
    .map((p) => p.metadata.name)
    .sort()
  const current = (await h.call('GET', `${DEPLOY_PATH}/reorder`)).body as KubeObject
  const reverse = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(reverse)
      : typeof v === 'object' && v !== null
        ? Object.fromEntries(
            Object.entries(v)
              .reverse()
              .map(([k, x]) => [k, reverse(x)])
          )
        : v
  // An annotation moves generation (as kubectl apply's would), so the controller looks again.
  const r = await h.call('PUT', `${DEPLOY_PATH}/reorder`, {
    body: {
      ...current,
      metadata: { ...current.metadata, annotations: { touched: 'yes' } },
      spec: { ...current.spec, template: reverse(current.spec?.template) }
    }
  })
  expect(r.status).toBe(200)
  expect(r.body.metadata.generation).toBe(2)
  await waitFor(() => dep('reorder').status?.observedGeneration === 2, 2000, 'observed')
  // A new pod set would have been created at the controller's first look (20 ms).
  await new Promise((resolve) => setTimeout(resolve, 200))
  expect(
    pods('reorder')
      .map((p) => p.metadata.name)
      .sort()
  ).toEqual(before)
  expect(dep('reorder').metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('1')
})

it('keeps the old pods serving when the new template never becomes ready', async () => {
  await create('stuck', 'good:1')
  await waitFor(() => dep('stuck').status?.availableReplicas === 2, 2000, 'first rollout')
  await h.call('PATCH', `${DEPLOY_PATH}/stuck`, {
    contentType: 'application/strategic-merge-patch+json',
    body: { spec: { template: { spec: { containers: [{ name: 'app', image: 'pull:1' }] } } } }
  })
  const status = await waitFor(
    () => {
      const s = dep('stuck').status
      return s?.observedGeneration === 2 && s.replicas === 4 ? s : undefined
    },
    2000,
    'surge'
  )
  expect(status).toMatchObject({ updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 })
  expect(condition(dep('stuck'), 'Available')?.status).toBe('True')
  expect(condition(dep('stuck'), 'Progressing')?.reason).toBe('ReplicaSetUpdated')
})

it('scales to zero by removing every pod', async () => {
  await create('zero', 'good:1')
  await waitFor(() => pods('zero').length === 2, 2000, 'pods')
  await h.call('PATCH', `${DEPLOY_PATH}/zero`, {
    contentType: 'application/merge-patch+json',
    body: { spec: { replicas: 0 } }
  })
  await waitFor(
    () => pods('zero').length === 0 && dep('zero').status?.observedGeneration === 2,
    2000,
    'no pods'
  )
  expect(dep('zero').status).toEqual({
    observedGeneration: 2,
    conditions: [
      expect.objectContaining({ type: 'Available', status: 'True' }),
      expect.objectContaining({ type: 'Progressing', reason: 'NewReplicaSetAvailable' })
    ]
  })
})

it('follows behaviour changes at run time', async () => {
  h.behaviours.set('flaky:1', { ready: true, startupMs: 20 })
  await create('flaky', 'flaky:1')
  await waitFor(() => dep('flaky').status?.readyReplicas === 2, 2000, 'ready')
  h.behaviours.set('flaky:1', { ready: false, notReadyReason: 'CrashLoopBackOff' })
  await waitFor(
    () =>
      dep('flaky').status?.readyReplicas === undefined &&
      dep('flaky').status?.unavailableReplicas === 2,
    2000,
    'unready'
  )
  expect(pods('flaky').some(ready)).toBe(false)
  h.behaviours.set('flaky:1', { ready: true })
  await waitFor(() => dep('flaky').status?.readyReplicas === 2, 2000, 'ready again')
})

it('replaces a deleted pod and garbage-collects the pods of a deleted Deployment', async () => {
  await create('gc', 'good:1')
  await waitFor(() => pods('gc').length === 2, 2000, 'pods')
  const victim = pods('gc')[0] as KubeObject
  await h.call('DELETE', `/api/v1/namespaces/${NS}/pods/${victim.metadata.name}`)
  await waitFor(
    () =>
      pods('gc').length === 2 && !pods('gc').some((p) => p.metadata.name === victim.metadata.name),
    2000,
    'replacement'
  )
  await h.call('DELETE', `${DEPLOY_PATH}/gc`)
  await waitFor(() => pods('gc').length === 0, 2000, 'garbage collection')
})

describe('pods are deleted gracefully (Terminating for their grace period, here at 1%)', () => {
  const POD = (name: string) => `/api/v1/namespaces/${NS}/pods/${name}`
  const terminatingPods = (deploy: string) =>
    pods(deploy).filter((p) => typeof p.metadata.deletionTimestamp === 'string')

  it('keeps a deleted pod listed as Terminating, not ready and not counted, then removes it', async () => {
    await create('term', 'good:1')
    await waitFor(() => dep('term').status?.availableReplicas === 2, 2000, 'available')
    const victim = pods('term')[0] as KubeObject
    const before = Date.now()
    const r = await h.call('DELETE', POD(victim.metadata.name))
    expect(r.status).toBe(200)
    expect(r.body.kind).toBe('Pod')
    expect(r.body.metadata.deletionGracePeriodSeconds).toBe(30)
    const at = Date.parse(r.body.metadata.deletionTimestamp as string)
    expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 30_000)
    expect(at).toBeLessThanOrEqual(Date.now() + 30_000)
    const listed = (await h.call('GET', `/api/v1/namespaces/${NS}/pods`)).body.items as KubeObject[]
    const shown = listed.find((p) => p.metadata.name === victim.metadata.name)
    expect(shown?.metadata.deletionTimestamp).toBe(r.body.metadata.deletionTimestamp)
    expect(ready(shown as KubeObject)).toBe(false)
    // The ReplicaSet replaces it at once; the status never counts the Terminating pod.
    await waitFor(
      () => pods('term').length === 3 && dep('term').status?.availableReplicas === 2,
      2000,
      'replacement'
    )
    expect(dep('term').status).toMatchObject({
      replicas: 2,
      readyReplicas: 2,
      availableReplicas: 2
    })
    expect(terminatingPods('term').map((p) => p.metadata.name)).toEqual([victim.metadata.name])
    // 30 s at 1%: gone after 300 ms.
    await waitFor(() => pods('term').length === 2, 2000, 'removal')
    expect(Date.now() - before).toBeGreaterThanOrEqual(290)
    expect(terminatingPods('term')).toEqual([])
  })

  it('takes gracePeriodSeconds from DeleteOptions; a second delete may only shorten it', async () => {
    await create('grace', 'good:1', 1)
    const pod = await waitFor(() => pods('grace').find(ready), 2000, 'ready pod')
    const first = await h.call('DELETE', POD(pod.metadata.name), {
      body: { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 60 }
    })
    expect(first.body.metadata.deletionGracePeriodSeconds).toBe(60)
    const longer = await h.call('DELETE', `${POD(pod.metadata.name)}?gracePeriodSeconds=90`)
    expect(longer.status).toBe(200)
    expect(longer.body.metadata.deletionGracePeriodSeconds).toBe(60)
    expect(longer.body.metadata.resourceVersion).toBe(first.body.metadata.resourceVersion)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(store().get('pods', NS, pod.metadata.name)).toBeDefined()
    const shorter = await h.call('DELETE', `${POD(pod.metadata.name)}?gracePeriodSeconds=10`)
    expect(shorter.body.metadata.deletionGracePeriodSeconds).toBe(10)
    await waitFor(() => !store().get('pods', NS, pod.metadata.name), 2000, 'removal')
  })

  it('deletes at once with gracePeriodSeconds 0, or a pod never scheduled to a node', async () => {
    await create('now', 'good:1', 1)
    const pod = await waitFor(() => pods('now')[0], 2000, 'pod')
    const r = await h.call('DELETE', `${POD(pod.metadata.name)}?gracePeriodSeconds=0`)
    expect(r.status).toBe(200)
    expect(store().get('pods', NS, pod.metadata.name)).toBeUndefined()
    const bare = await h.call('POST', `/api/v1/namespaces/${NS}/pods`, {
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'unscheduled' },
        spec: { containers: [{ name: 'c', image: 'good:1' }] }
      }
    })
    expect(bare.status).toBe(201)
    await h.call('DELETE', POD('unscheduled'))
    expect(store().get('pods', NS, 'unscheduled')).toBeUndefined()
  })

  it('scales down through Terminating pods, which the status drops at once', async () => {
    await create('shrink', 'good:1', 3)
    await waitFor(() => dep('shrink').status?.availableReplicas === 3, 2000, 'available')
    await h.call('PATCH', `${DEPLOY_PATH}/shrink`, {
      contentType: 'application/merge-patch+json',
      body: { spec: { replicas: 1 } }
    })
    await waitFor(() => terminatingPods('shrink').length === 2, 2000, 'terminating')
    expect(dep('shrink').status).toMatchObject({ replicas: 1, availableReplicas: 1 })
    await waitFor(() => pods('shrink').length === 1, 2000, 'removed')
  })

  it('lets Recreate start the new pods only once the old ones are gone', async () => {
    await create('recreate', 'good:1', 1, { strategy: { type: 'Recreate' } })
    const first = await waitFor(() => pods('recreate').find(ready), 2000, 'ready pod')
    await h.call('PATCH', `${DEPLOY_PATH}/recreate`, {
      contentType: 'application/strategic-merge-patch+json',
      body: { spec: { template: { spec: { containers: [{ name: 'app', image: 'good:2' }] } } } }
    })
    await waitFor(() => terminatingPods('recreate').length === 1, 2000, 'terminating')
    expect(pods('recreate').map((p) => p.metadata.name)).toEqual([first.metadata.name])
    await waitFor(
      () =>
        pods('recreate').length === 1 && pods('recreate')[0]?.metadata.name !== first.metadata.name,
      3000,
      'new pod after the old one went'
    )
  })
})

it('injects the istio-proxy sidecar where the namespace asks for it', async () => {
  store().create('namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'meshed', labels: { 'istio-injection': 'enabled' } }
  })
  const body = {
    ...deployment('meshed', 'm', 'good:1', 1),
    metadata: { name: 'meshed', namespace: 'meshed' }
  }
  await h.call('POST', '/apis/apps/v1/namespaces/meshed/deployments', { body })
  const pod = await waitFor(() => store().list('pods', 'meshed')[0], 2000, 'pod')
  expect((pod.spec?.containers as Array<{ name: string }>).map((c) => c.name)).toEqual([
    'app',
    'istio-proxy'
  ])
  expect(pod.metadata.annotations?.['sidecar.istio.io/status']).toBeDefined()
  expect(pods('web')[0]?.spec?.containers).toHaveLength(1)
})
