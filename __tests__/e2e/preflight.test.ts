/**
 * Preflight refuses, with a message that names what is wrong and what to do, and leaves the
 * cluster exactly as it was (every object's resourceVersion unchanged).
 */
import { jest } from '@jest/globals'
import type { Sandbox } from '../../sandbox/index.js'
import type { KubeObject, ResourceName } from '../../sandbox/types.js'
import { expectExit, fastInputs, kubeEnv, runAction, sandbox } from './harness.js'

jest.setTimeout(120_000)

const RESOURCES: ResourceName[] = [
  'namespaces',
  'services',
  'pods',
  'deployments',
  'leases',
  'virtualservices',
  'destinationrules'
]

function versions(sb: Sandbox): Record<string, string | undefined> {
  return Object.fromEntries(
    RESOURCES.flatMap((r) =>
      sb.api.store
        .list(r)
        .map((o) => [
          `${r}/${o.metadata.namespace ?? ''}/${o.metadata.name}`,
          o.metadata.resourceVersion
        ])
    )
  )
}

function edit(
  sb: Sandbox,
  resource: ResourceName,
  name: string,
  change: (o: KubeObject) => KubeObject
): void {
  const o = sb.api.store.get(resource, 'demo', name)
  if (!o) throw new Error(`${resource}/${name} missing`)
  sb.api.store.replace(resource, change(structuredClone(o)))
}

describe('preflight', () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await sandbox()
  })
  afterAll(async () => {
    await sb.stop()
  })

  const rows: Array<[string, Record<string, string>, string, ((sb: Sandbox) => void)?]> = [
    [
      'a missing Service',
      { service: 'ratings' },
      'Service ratings not found in namespace demo; check inputs "service" and "namespace"'
    ],
    [
      'a missing VirtualService',
      { 'virtual-service': 'nope' },
      'VirtualService nope not found in namespace demo; create it, or set input "virtual-service"'
    ],
    [
      'a missing DestinationRule',
      { 'destination-rule': 'nope' },
      'DestinationRule nope not found in namespace demo; create one for host reviews, or set input "destination-rule"'
    ],
    [
      'an unknown route',
      { routes: 'canary' },
      'VirtualService reviews: input "routes": no HTTP route named "canary"; the routes are: primary'
    ],
    [
      'a missing container',
      { container: 'app' },
      'input "container": Deployment reviews-blue has no container "app" (it has: reviews)'
    ],
    [
      'Prometheus unreachable',
      { 'prometheus-url': 'http://127.0.0.1:9' },
      'Prometheus at http://127.0.0.1:9 is unreachable'
    ],
    [
      'stable pods outside the mesh',
      {},
      '3 of 3 pods of reviews-blue are not in the Istio mesh (no istio-proxy sidecar, no ambient redirection)',
      (s) => {
        for (const pod of s.api.store.list('pods', 'demo')) {
          const spec = pod.spec as { containers: Array<{ name: string }> }
          const annotations = { ...pod.metadata.annotations }
          delete annotations['sidecar.istio.io/status']
          s.api.store.replace('pods', {
            ...pod,
            metadata: { ...pod.metadata, annotations },
            spec: { ...spec, containers: spec.containers.filter((c) => c.name !== 'istio-proxy') }
          })
        }
      }
    ],
    [
      'a malformed input',
      { steps: '10,5,100' },
      'input "steps": "10,5,100" is not strictly increasing'
    ],
    [
      'a color subset that selects other labels',
      {},
      'DestinationRule reviews: subset "blue" selects version=v1, expected version=blue',
      (s) =>
        edit(s, 'destinationrules', 'reviews', (o) => ({
          ...o,
          spec: { ...o.spec, subsets: [{ name: 'blue', labels: { version: 'v1' } }] }
        }))
    ],
    [
      'weights between colors (a rollout in flight)',
      {},
      'VirtualService reviews is between colors (primary: blue=70,green=30)',
      (s) =>
        edit(s, 'virtualservices', 'reviews', (o) => ({
          ...o,
          spec: {
            ...o.spec,
            http: [
              {
                name: 'primary',
                route: [
                  { destination: { host: 'reviews', subset: 'blue' }, weight: 70 },
                  { destination: { host: 'reviews', subset: 'green' }, weight: 30 }
                ]
              }
            ]
          }
        }))
    ],
    [
      'the lock held by a live run',
      {},
      'deploy refused: acme/shop#41.1 is running a rollout of this service right now',
      (s) =>
        s.api.store.create('leases', {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: 'istio-bluegreen-reviews', namespace: 'demo' },
          spec: {
            holderIdentity: 'acme/shop#41.1',
            leaseDurationSeconds: 600,
            renewTime: new Date().toISOString().replace('Z', '000Z')
          }
        })
    ]
  ]

  // Rows as objects: a row without setup must not look like a test taking a `done` callback.
  it.each(rows.map(([name, inputs, message, setup]) => ({ name, inputs, message, setup })))(
    'refuses $name and changes nothing',
    async ({ inputs, message, setup }) => {
      const store = sb.api.store
      const saved = RESOURCES.flatMap((r) => store.list(r).map((o) => ({ r, o })))
      try {
        setup?.(sb)
        const before = versions(sb)
        const run = await runAction(
          fastInputs(sb, { image: 'example.com/reviews:2.0.0', ...inputs }),
          kubeEnv(sb)
        )
        expectExit(run, 'failure')
        expect(run.log).toContain(`::error::${message}`)
        expect(versions(sb)).toEqual(before)
      } finally {
        // Put back what the row's setup changed, so rows stay independent.
        for (const { r, o } of saved) {
          const now = store.get(r, o.metadata.namespace, o.metadata.name)
          if (now?.metadata.resourceVersion !== o.metadata.resourceVersion) store.replace(r, o)
        }
        if (store.get('leases', 'demo', 'istio-bluegreen-reviews')) {
          store.delete('leases', 'demo', 'istio-bluegreen-reviews')
        }
      }
    }
  )
})
