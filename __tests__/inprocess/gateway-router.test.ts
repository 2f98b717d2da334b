/**
 * GatewayRouter in-process against the sandbox's API pipeline (MemoryKube; no Prometheus, no
 * built action): the per-color Services it creates, keeps in step and refuses to take over; the
 * guard before the first weight write; the test-header rules, idempotent and invisible to the
 * weights. (Moved from __tests__/e2e/, where it ran the same calls over HTTP; the router over
 * client-node still runs end to end in __tests__/e2e/gateway-api.test.ts.)
 */
import { GatewayRouter } from '../../src/adapters/gateway.js'
import { SandboxApi } from '../../sandbox/apiserver/api.js'
import { MemoryStore } from '../../sandbox/apiserver/store.js'
import { seed } from '../../sandbox/seed.js'
import type { KubeObject } from '../../sandbox/types.js'
import { MemoryKube } from './memory-kube.js'
import { VirtualTime } from './virtual-time.js'

const SERVICE = { name: 'reviews', namespace: 'demo' }
const CONFIG = { kind: 'gateway-api' as const, apiVersion: 'v1', objects: ['reviews'], routes: [] }

let sb: { api: SandboxApi }
let router: GatewayRouter

beforeEach(() => {
  const time = new VirtualTime()
  const api = new SandboxApi({ store: new MemoryStore(1000, () => time.now()) })
  seed(api.store, { router: 'http-route-mesh' })
  sb = { api }
  router = new GatewayRouter(new MemoryKube({ api, clock: time }), SERVICE, CONFIG, time)
})

const route = (): KubeObject => sb.api.store.get('httproutes', 'demo', 'reviews') as KubeObject
const service = (name: string): KubeObject | undefined => sb.api.store.get('services', 'demo', name)
const ruleNames = (): Array<string | undefined> =>
  ((route().spec?.rules ?? []) as Array<{ name?: string }>).map((r) => r.name)

it('inspects the seed: one bare rule, counted as the stable color', async () => {
  expect(await router.inspect('version')).toEqual({
    ok: true,
    bare: true,
    routes: [{ name: '#0', weights: { blue: 100, green: 0 } }]
  })
})

it('refuses the first weight write while a color Service is missing, writing nothing', async () => {
  const before = route().metadata.resourceVersion
  await expect(router.setWeights('green', 10)).rejects.toThrow(
    'Service reviews-blue and reviews-green not found in namespace demo, so HTTPRoute reviews cannot send to them yet'
  )
  expect(route().metadata.resourceVersion).toBe(before)
})

it('a rollback (0%) before the color Services exist leaves the bare rule as it is', async () => {
  const before = route().metadata.resourceVersion as string
  expect(await router.setWeights('green', 0, { hard: true })).toEqual({
    weights: { blue: 100, green: 0 },
    versions: { reviews: before }
  })
  expect(route().metadata.resourceVersion).toBe(before)
})

it('creates both color Services once, then has nothing to do', async () => {
  expect(await router.ensureColors('version')).toEqual([
    'created Service reviews-blue (selector app=reviews,version=blue, the ports of reviews)',
    'created Service reviews-green (selector app=reviews,version=green, the ports of reviews)'
  ])
  const versions = ['blue', 'green'].map((c) => service(`reviews-${c}`)?.metadata.resourceVersion)
  expect(await router.ensureColors('version')).toEqual([])
  expect(['blue', 'green'].map((c) => service(`reviews-${c}`)?.metadata.resourceVersion)).toEqual(
    versions
  )
})

it('brings its own color Service back in step, guarded by its version', async () => {
  await router.ensureColors('version')
  const own = service('reviews-green') as KubeObject
  sb.api.store.replace('services', {
    ...own,
    spec: { ...own.spec, selector: { app: 'reviews' } }
  })
  expect(await router.ensureColors('version')).toEqual([
    'updated Service reviews-green to the selector and ports of reviews plus its color'
  ])
  expect(service('reviews-green')?.spec?.selector).toEqual({ app: 'reviews', version: 'green' })
})

it('never overwrites a Service it did not create, and inspect says so', async () => {
  sb.api.store.create('services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'reviews-green', namespace: 'demo' },
    spec: { selector: { app: 'other' }, ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] }
  })
  const before = service('reviews-green')?.metadata.resourceVersion
  const message =
    'Service reviews-green exists and selects app=other, not app=reviews,version=green, and istio-bluegreen did not create it'
  await expect(router.ensureColors('version')).rejects.toThrow(message)
  expect(service('reviews-green')?.metadata.resourceVersion).toBe(before)
  const inspected = await router.inspect('version')
  expect(inspected.ok).toBe(false)
  expect(!inspected.ok && inspected.message).toContain(message)
})

it('adopts the bare backendRef in one write, then the weights follow the steps', async () => {
  await router.ensureColors('version')
  const first = await router.setWeights('green', 0)
  expect(first.weights).toEqual({ blue: 100, green: 0 })
  expect((route().spec?.rules as Array<{ backendRefs: unknown[] }>)[0]?.backendRefs).toEqual([
    { group: '', kind: 'Service', name: 'reviews-blue', port: 9080, weight: 100 },
    { group: '', kind: 'Service', name: 'reviews-green', port: 9080, weight: 0 }
  ])
  expect(first.versions).toEqual({ reviews: route().metadata.resourceVersion })
  const next = await router.setWeights('green', 25, { fence: 'run-2' })
  expect(next.weights).toEqual({ blue: 75, green: 25 })
  const [state] = await router.read('blue')
  expect(state).toMatchObject({
    found: true,
    bare: false,
    fence: 'run-2',
    routes: [{ name: '#0', weights: { blue: 75, green: 25 } }]
  })
})

it('adds the test-header rule once, the weights ignore it, and removing it leaves no trace', async () => {
  await router.ensureColors('version')
  await router.setWeights('green', 10)
  const header = { name: 'x-canary', value: 'true' }
  const added = await router.setTestRoute('green', header)
  expect(ruleNames()).toEqual(['istio-bluegreen-test', undefined])
  expect(added.versions).toEqual({ reviews: route().metadata.resourceVersion })
  const test = (route().spec?.rules as Array<Record<string, unknown>>)[0]
  expect(test?.backendRefs).toEqual([expect.objectContaining({ name: 'reviews-green', weight: 1 })])
  expect(test?.matches).toEqual([
    {
      path: { type: 'PathPrefix', value: '/' },
      headers: [{ type: 'Exact', name: 'x-canary', value: 'true' }]
    }
  ])

  // Idempotent: the same call writes nothing.
  expect(await router.setTestRoute('green', header)).toEqual(added)
  // The weights are read and written on the service's own rule, still named #0.
  const [state] = await router.read('blue')
  expect(state).toMatchObject({ routes: [{ name: '#0', weights: { blue: 90, green: 10 } }] })
  await router.setWeights('green', 50)
  const rules = route().spec?.rules as Array<{
    backendRefs: Array<{ name: string; weight: number }>
  }>
  expect(rules[0]?.backendRefs.map((r) => `${r.name}=${r.weight}`)).toEqual(['reviews-green=1'])
  expect(rules[1]?.backendRefs.map((r) => `${r.name}=${r.weight}`)).toEqual([
    'reviews-blue=50',
    'reviews-green=50'
  ])

  const removed = await router.setTestRoute('green', undefined)
  expect(ruleNames()).toEqual([undefined])
  expect(await router.setTestRoute('green', undefined)).toEqual(removed)
})

it('keeps the weights of other backendRefs: the colors share what the service had', async () => {
  const seeded = route()
  sb.api.store.replace('httproutes', {
    ...seeded,
    spec: {
      ...seeded.spec,
      rules: [
        {
          name: 'main',
          backendRefs: [
            { name: 'reviews', port: 9080, weight: 300 },
            { name: 'legacy', port: 8080, weight: 100 }
          ]
        }
      ]
    }
  })
  await router.ensureColors('version')
  const refs = (): string[] =>
    (
      route().spec?.rules as Array<{ backendRefs: Array<{ name: string; weight: number }> }>
    )[0]?.backendRefs.map((r) => `${r.name}=${r.weight}`) ?? []
  expect((await router.setWeights('green', 10)).weights).toEqual({ blue: 90, green: 10 })
  expect(refs()).toEqual(['reviews-blue=270', 'legacy=100', 'reviews-green=30'])
  await router.setWeights('green', 100)
  expect(refs()).toEqual(['reviews-blue=0', 'legacy=100', 'reviews-green=300'])
  expect(await router.read('green')).toMatchObject([
    { routes: [{ name: 'main', weights: { blue: 0, green: 100 } }] }
  ])
})
