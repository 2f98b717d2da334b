import {
  colorServicePlan,
  desiredColorService,
  type ServiceObject
} from '../../src/core/color-services.js'

const reviews: ServiceObject = {
  metadata: {
    name: 'reviews',
    namespace: 'demo',
    labels: { app: 'reviews' },
    resourceVersion: '10'
  },
  spec: {
    type: 'ClusterIP',
    clusterIP: '10.0.0.7',
    selector: { app: 'reviews' },
    ports: [
      { name: 'http', port: 9080, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
      { name: 'admin', port: 9901, protocol: 'TCP' }
    ]
  }
}

const body = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: {
    name: 'reviews-green',
    namespace: 'demo',
    labels: { 'app.kubernetes.io/managed-by': 'istio-bluegreen' },
    annotations: { 'istio-bluegreen.io/color-service-of': 'reviews' }
  },
  spec: {
    type: 'ClusterIP',
    selector: { app: 'reviews', version: 'green' },
    ports: [
      { name: 'http', port: 9080, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
      { name: 'admin', port: 9901, targetPort: 9901, protocol: 'TCP' }
    ]
  }
}

/** The color Service as the API server would store it after creating `body`. */
function stored(
  overrides: Partial<NonNullable<ServiceObject['spec']>> = {},
  labels: Record<string, string> = body.metadata.labels
): ServiceObject {
  return {
    metadata: { ...body.metadata, labels, resourceVersion: '33' },
    spec: { ...structuredClone(body.spec), clusterIP: '10.0.0.9', ...overrides }
  }
}

function withSpec(spec: ServiceObject['spec']): ServiceObject {
  return { metadata: reviews.metadata, spec }
}

describe('desiredColorService', () => {
  it('copies selector and ports, adds the color, never the clusterIP, nodePort or type', () => {
    const nodePort = withSpec({
      ...reviews.spec,
      type: 'NodePort',
      ports: [{ port: 80, nodePort: 30080 }]
    })
    expect(desiredColorService(nodePort, 'version', 'blue')).toEqual({
      body: {
        ...body,
        metadata: { ...body.metadata, name: 'reviews-blue' },
        spec: {
          type: 'ClusterIP',
          selector: { app: 'reviews', version: 'blue' },
          ports: [{ port: 80, targetPort: 80, protocol: 'TCP' }]
        }
      }
    })
  })

  it.each<[string, ServiceObject, string]>([
    [
      'ExternalName',
      withSpec({ type: 'ExternalName', externalName: 'reviews.example.com' }),
      'Service reviews is of type ExternalName: it has no pods to split by color'
    ],
    [
      'no selector',
      withSpec({ ports: [{ port: 80 }] }),
      "Service reviews has no selector (its endpoints are managed by hand), so no color Service can select the pods of one color; give reviews a selector for the service's pods (e.g. app: reviews)"
    ],
    [
      'an empty selector on a headless Service',
      withSpec({ clusterIP: 'None', selector: {}, ports: [{ port: 80 }] }),
      'Service reviews has no selector'
    ],
    [
      'the color label in the selector',
      withSpec({ selector: { app: 'reviews', version: 'v1' }, ports: [{ port: 80 }] }),
      'Service reviews selects version=v1, the color label, so it can only ever reach one color; remove version from its selector, or set input "color-label"'
    ],
    ['no ports', withSpec({ selector: { app: 'reviews' } }), 'Service reviews has no ports']
  ])('refuses %s', (_name, service, message) => {
    const r = desiredColorService(service, 'version', 'green')
    expect('error' in r && r.error).toContain(message)
  })

  it('keeps the selector of a headless Service that has one', () => {
    const headless = withSpec({ ...reviews.spec, clusterIP: 'None' })
    const r = desiredColorService(headless, 'version', 'green')
    expect('body' in r && r.body.spec).toEqual(body.spec)
  })
})

describe('colorServicePlan', () => {
  it.each<[string, ServiceObject | undefined, ReturnType<typeof colorServicePlan>]>([
    ['missing: create it', undefined, { action: 'create', body }],
    ['in step, as stored with defaults', stored(), { action: 'none' }],
    [
      'in step, ports in another order',
      stored({ ports: [...body.spec.ports].reverse() }),
      { action: 'none' }
    ],
    [
      "someone else's Service that selects and serves the same: used as it is",
      stored({}, { team: 'shop' }),
      { action: 'none' }
    ],
    [
      'a port added to the service: patch the ports',
      stored({ ports: [body.spec.ports[0] as never] }),
      {
        action: 'patch',
        ops: [
          { op: 'replace', path: '/metadata/resourceVersion', value: '33' },
          { op: 'add', path: '/spec/ports', value: body.spec.ports }
        ]
      }
    ],
    [
      'a targetPort changed',
      stored({
        ports: [{ ...body.spec.ports[0], targetPort: 8080 } as never, body.spec.ports[1] as never]
      }),
      {
        action: 'patch',
        ops: [
          { op: 'replace', path: '/metadata/resourceVersion', value: '33' },
          { op: 'add', path: '/spec/ports', value: body.spec.ports }
        ]
      }
    ],
    [
      'the selector changed',
      stored({ selector: { app: 'reviews-old', version: 'green' } }),
      {
        action: 'patch',
        ops: [
          { op: 'replace', path: '/metadata/resourceVersion', value: '33' },
          { op: 'add', path: '/spec/selector', value: { app: 'reviews', version: 'green' } }
        ]
      }
    ],
    [
      'turned into a NodePort',
      stored({
        type: 'NodePort',
        ports: body.spec.ports.map((p, i) => ({ ...p, nodePort: 30000 + i }))
      }),
      {
        action: 'patch',
        ops: [
          { op: 'replace', path: '/metadata/resourceVersion', value: '33' },
          { op: 'add', path: '/spec/type', value: 'ClusterIP' },
          { op: 'add', path: '/spec/ports', value: body.spec.ports }
        ]
      }
    ]
  ])('%s', (_name, existing, expected) => {
    expect(colorServicePlan(reviews, existing, 'version', 'green')).toEqual(expected)
  })

  it.each<[string, ServiceObject, string]>([
    [
      'another selector',
      stored({ selector: { app: 'reviews' } }, { team: 'shop' }),
      'Service reviews-green exists and selects app=reviews, not app=reviews,version=green, and istio-bluegreen did not create it (no label app.kubernetes.io/managed-by=istio-bluegreen); it will not overwrite it: delete or rename it'
    ],
    [
      'other ports',
      stored({ ports: [{ port: 80 }] }, {}),
      'Service reviews-green exists and has ports other than those of reviews, and istio-bluegreen did not create it'
    ]
  ])("refuses someone else's Service with %s", (_name, existing, message) => {
    const r = colorServicePlan(reviews, existing, 'version', 'green')
    expect('error' in r && r.error).toContain(message)
  })

  it("passes on the service's own error before looking at the existing one", () => {
    const r = colorServicePlan(withSpec({ type: 'ExternalName' }), stored(), 'version', 'green')
    expect('error' in r && r.error).toContain('ExternalName')
  })
})
