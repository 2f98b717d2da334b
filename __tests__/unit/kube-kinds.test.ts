/**
 * Kube fails loudly on a kind it has no call for, before any request: no read of an unknown
 * core-group kind falls back to Namespaces or Services, and no write goes to a core-group kind but Services.
 * The server below accepts no connection, so a request that went out would fail as Unreachable.
 */
import {
  DEPLOYMENTS,
  Kube,
  KubeError,
  type KubeObject,
  loadKubeConfig,
  PODS,
  type ResourceType,
  SERVICES,
  UnknownKindError
} from '../../src/adapters/kube.js'

const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: 'https://127.0.0.1:9' } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: x, context: { cluster: c, user: u, namespace: demo } }]
current-context: x
`
const kube = new Kube(loadKubeConfig({ kubeconfig }), {
  requestTimeoutMs: 2000,
  retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1, budgetMs: 0, conflicts: 0 }
})

const NAMESPACES: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'namespaces',
  kind: 'Namespace'
}
const CONFIGMAPS: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'configmaps',
  kind: 'ConfigMap'
}
const body: KubeObject = { metadata: { name: 'reviews' } }

describe('Kube throws on a kind it has no call for', () => {
  it.each<[string, () => Promise<unknown>, string]>([
    ['get a Namespace', () => kube.get(NAMESPACES, 'demo', 'demo'), 'get Namespace (namespaces'],
    ['get a ConfigMap', () => kube.get(CONFIGMAPS, 'demo', 'x'), 'get ConfigMap (configmaps'],
    ['list ConfigMaps', () => kube.list(CONFIGMAPS, 'demo'), 'list ConfigMap (configmaps'],
    ['list Namespaces', () => kube.list(NAMESPACES, 'demo'), 'list Namespace (namespaces'],
    [
      'create a ConfigMap',
      () => kube.create(CONFIGMAPS, 'demo', body),
      'create ConfigMap (configmaps'
    ],
    ['replace a Service', () => kube.replace(SERVICES, 'demo', body), 'replace Service (services'],
    ['patch a Pod', () => kube.patch(PODS, 'demo', 'p', []), 'patch Pod (pods']
  ])('%s', async (_name, call, start) => {
    const error = await call().then(
      () => undefined,
      (e: unknown) => e
    )
    expect(error).toBeInstanceOf(UnknownKindError)
    expect((error as Error).message).toMatch(
      new RegExp(`^Kube cannot ${start.replace('(', '\\(')}`)
    )
    expect((error as Error).message).toContain('add the call for')
  })

  it.each<[string, () => Promise<unknown>]>([
    ['get a Service', () => kube.get(SERVICES, 'demo', 'reviews')],
    ['list Pods', () => kube.list(PODS, 'demo')],
    ['list Services', () => kube.list(SERVICES, 'demo')],
    ['patch a Deployment', () => kube.patch(DEPLOYMENTS, 'demo', 'reviews-blue', [])],
    ['create a Service', () => kube.create(SERVICES, 'demo', body)],
    ['patch a Service', () => kube.patch(SERVICES, 'demo', 'reviews-blue', [])]
  ])('%s: a known kind goes out as a request (and finds no server)', async (_name, call) => {
    const error = await call().then(
      () => undefined,
      (e: unknown) => e
    )
    expect(error).toBeInstanceOf(KubeError)
    expect((error as KubeError).reason).toBe('Unreachable')
  })
})
