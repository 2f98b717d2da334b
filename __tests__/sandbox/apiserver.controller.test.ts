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
  const now = pods('roll')
  expect(now).toHaveLength(2)
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
