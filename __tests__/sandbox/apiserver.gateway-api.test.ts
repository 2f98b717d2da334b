/**
 * Gateway API HTTPRoutes served as kube-apiserver serves the CRD (`gateway.networking.k8s.io`
 * v1 storage and v1beta1, one object under both), with its schema's defaults and validation and
 * the CEL rules a writer of weights, header rules or names can trip; and the Service validation
 * the action's per-color Services go through.
 */
import { NS, SVC_PATH, seed, startHarness, type Harness } from './apiserver.harness.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness({ controllerDelayMs: 60_000 })
  seed(h.server.store)
})
afterAll(async () => {
  await h.close()
})

const path = (version: string): string =>
  `/apis/gateway.networking.k8s.io/${version}/namespaces/${NS}/httproutes`

function route(
  name: string,
  spec: Record<string, unknown>,
  version = 'v1'
): Record<string, unknown> {
  return {
    apiVersion: `gateway.networking.k8s.io/${version}`,
    kind: 'HTTPRoute',
    metadata: { name },
    spec
  }
}

const MESH_PARENT = { group: '', kind: 'Service', name: 'reviews', port: 9080 }
const backends = (n: number, weight = 1): unknown[] =>
  Array.from({ length: n }, (_, i) => ({ name: `reviews-${i}`, port: 9080, weight }))

describe('HTTPRoute is served like the CRD on a cluster', () => {
  it('is discovered under v1 (preferred) and v1beta1', async () => {
    const group = await h.call('GET', '/apis/gateway.networking.k8s.io')
    expect(group.status).toBe(200)
    expect(group.body.preferredVersion).toEqual({
      groupVersion: 'gateway.networking.k8s.io/v1',
      version: 'v1'
    })
    expect(group.body.versions.map((v: { version: string }) => v.version)).toEqual([
      'v1',
      'v1beta1'
    ])
    for (const version of ['v1', 'v1beta1']) {
      const list = await h.call('GET', `/apis/gateway.networking.k8s.io/${version}`)
      expect(list.body.resources.map((r: { name: string }) => r.name)).toEqual([
        'httproutes',
        'httproutes/status'
      ])
      expect(list.body.resources[0]).toMatchObject({
        kind: 'HTTPRoute',
        categories: ['gateway-api']
      })
    }
  })

  it('creates at v1beta1, reads the same object at v1, with the schema defaults applied', async () => {
    const created = await h.call('POST', path('v1beta1'), {
      body: route(
        'both-versions',
        { parentRefs: [MESH_PARENT], rules: [{ backendRefs: [{ name: 'reviews', port: 9080 }] }] },
        'v1beta1'
      )
    })
    expect(created.status).toBe(201)
    expect(created.body.apiVersion).toBe('gateway.networking.k8s.io/v1beta1')
    const read = await h.call('GET', `${path('v1')}/both-versions`)
    expect(read.status).toBe(200)
    expect(read.body.apiVersion).toBe('gateway.networking.k8s.io/v1')
    expect(read.body.metadata.uid).toBe(created.body.metadata.uid)
    expect(read.body.metadata.generation).toBe(1)
    // What kube stores: a backendRef defaulted to the core Service kind with weight 1, a rule
    // without matches matching every path.
    expect(read.body.spec.rules).toEqual([
      {
        backendRefs: [{ group: '', kind: 'Service', name: 'reviews', port: 9080, weight: 1 }],
        matches: [{ path: { type: 'PathPrefix', value: '/' } }]
      }
    ])
    expect(read.body.spec.parentRefs).toEqual([MESH_PARENT])
  })

  it('defaults a Gateway parentRef and a header match written by the action', async () => {
    const created = await h.call('POST', path('v1'), {
      body: route('defaults', {
        parentRefs: [{ name: 'edge' }],
        rules: [
          {
            matches: [{ headers: [{ name: 'x-canary', value: 'true' }] }],
            backendRefs: [{ name: 'reviews-green', port: 9080 }]
          }
        ]
      })
    })
    expect(created.status).toBe(201)
    expect(created.body.spec.parentRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'edge' }
    ])
    expect(created.body.spec.rules[0].matches).toEqual([
      {
        headers: [{ name: 'x-canary', type: 'Exact', value: 'true' }],
        path: { type: 'PathPrefix', value: '/' }
      }
    ])
  })

  it('moves generation on a weight patch, not on a metadata change', async () => {
    await h.call('POST', path('v1'), {
      body: route('gen', { parentRefs: [MESH_PARENT], rules: [{ backendRefs: backends(2) }] })
    })
    const patched = await h.call('PATCH', `${path('v1')}/gen`, {
      contentType: 'application/json-patch+json',
      body: [{ op: 'replace', path: '/spec/rules/0/backendRefs/1/weight', value: 9 }]
    })
    expect(patched.status).toBe(200)
    expect(patched.body.metadata.generation).toBe(2)
    expect(patched.body.spec.rules[0].backendRefs[1].weight).toBe(9)
    const labelled = await h.call('PATCH', `${path('v1')}/gen`, {
      contentType: 'application/merge-patch+json',
      body: { metadata: { labels: { team: 'shop' } } }
    })
    expect(labelled.body.metadata.generation).toBe(2)
  })

  it('refuses strategic merge patch, as for every custom resource', async () => {
    const r = await h.call('PATCH', `${path('v1')}/gen`, {
      contentType: 'application/strategic-merge-patch+json',
      body: { spec: {} }
    })
    expect(r.status).toBe(415)
  })
})

describe('HTTPRoute validation answers 422 Invalid with field paths', () => {
  it.each([
    [
      'a weight above 1000000',
      {
        parentRefs: [MESH_PARENT],
        rules: [{ backendRefs: [{ name: 'a', port: 80, weight: 1000001 }] }]
      },
      'spec.rules[0].backendRefs[0].weight: Invalid value: 1000001: spec.rules[0].backendRefs[0].weight in body should be less than or equal to 1000000'
    ],
    [
      'a negative weight',
      {
        parentRefs: [MESH_PARENT],
        rules: [{ backendRefs: [{ name: 'a', port: 80, weight: -1 }] }]
      },
      'spec.rules[0].backendRefs[0].weight: Invalid value: -1: spec.rules[0].backendRefs[0].weight in body should be greater than or equal to 0'
    ],
    [
      '17 backendRefs in one rule',
      { parentRefs: [MESH_PARENT], rules: [{ backendRefs: backends(17) }] },
      'spec.rules[0].backendRefs: Too many: 17: must have at most 16 items'
    ],
    [
      'a Service backendRef without a port (CEL)',
      { parentRefs: [MESH_PARENT], rules: [{ backendRefs: [{ name: 'reviews-green' }] }] },
      'spec.rules[0].backendRefs[0]: Invalid value: "object": Must have port for Service reference'
    ],
    [
      'the same header twice in one match (list-type map)',
      {
        parentRefs: [MESH_PARENT],
        rules: [
          {
            matches: [
              {
                headers: [
                  { name: 'x-canary', value: 'true' },
                  { name: 'x-canary', value: 'yes' }
                ]
              }
            ],
            backendRefs: backends(1)
          }
        ]
      },
      'spec.rules[0].matches[0].headers[1]: Duplicate value: map[string]interface {}{"name":"x-canary"}'
    ],
    [
      'an empty header value',
      {
        parentRefs: [MESH_PARENT],
        rules: [
          { matches: [{ headers: [{ name: 'x-canary', value: '' }] }], backendRefs: backends(1) }
        ]
      },
      'spec.rules[0].matches[0].headers[0].value: Invalid value: "": spec.rules[0].matches[0].headers[0].value in body should be at least 1 chars long'
    ],
    [
      'a header name with a colon',
      {
        parentRefs: [MESH_PARENT],
        rules: [
          {
            matches: [{ headers: [{ name: 'x-canary:', value: 'true' }] }],
            backendRefs: backends(1)
          }
        ]
      },
      "spec.rules[0].matches[0].headers[0].name: Invalid value: \"x-canary:\": spec.rules[0].matches[0].headers[0].name in body should match '^[A-Za-z0-9!#$%&'*+\\-.^_\\x60|~]+$'"
    ],
    [
      'an unsupported header match type',
      {
        parentRefs: [MESH_PARENT],
        rules: [
          {
            matches: [{ headers: [{ name: 'x-canary', value: 'true', type: 'Prefix' }] }],
            backendRefs: backends(1)
          }
        ]
      },
      'spec.rules[0].matches[0].headers[0].type: Unsupported value: "Prefix": supported values: "Exact", "RegularExpression"'
    ],
    [
      'a relative path prefix (CEL)',
      {
        parentRefs: [MESH_PARENT],
        rules: [
          { matches: [{ path: { type: 'PathPrefix', value: 'api' } }], backendRefs: backends(1) }
        ]
      },
      "spec.rules[0].matches[0].path: Invalid value: \"object\": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"
    ],
    [
      'a rule name that is no DNS subdomain',
      { parentRefs: [MESH_PARENT], rules: [{ name: 'Canary_Header', backendRefs: backends(1) }] },
      'spec.rules[0].name: Invalid value: "Canary_Header": spec.rules[0].name in body should match \'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$\''
    ],
    [
      'two parentRefs to one Service, one with a sectionName and one without (CEL)',
      {
        parentRefs: [MESH_PARENT, { ...MESH_PARENT, sectionName: 'http' }],
        rules: [{ backendRefs: backends(1) }]
      },
      'spec.parentRefs: Invalid value: "array": sectionName must be specified when parentRefs includes 2 or more references to the same parent'
    ]
  ])('%s', async (_what, spec, message) => {
    const r = await h.call('POST', path('v1'), { body: route('bad', spec) })
    expect(r.status).toBe(422)
    expect(r.body.reason).toBe('Invalid')
    expect(r.body.message).toBe(`HTTPRoute.gateway.networking.k8s.io "bad" is invalid: ${message}`)
    expect(h.server.store.get('httproutes', NS, 'bad')).toBeUndefined()
  })

  it('takes the limits themselves: weight 1000000 and 0, 16 backendRefs, 16 rules', async () => {
    const ok = await h.call('POST', path('v1'), {
      body: route('limits', {
        parentRefs: [MESH_PARENT],
        rules: [
          { backendRefs: [...backends(15, 0), { name: 'top', port: 80, weight: 1_000_000 }] },
          ...Array.from({ length: 15 }, () => ({ backendRefs: backends(1) }))
        ]
      })
    })
    expect(ok.status).toBe(201)
  })

  it('checks a patch that would write a weight out of range, and keeps the object', async () => {
    const before = h.server.store.get('httproutes', NS, 'gen')
    const r = await h.call('PATCH', `${path('v1beta1')}/gen`, {
      contentType: 'application/json-patch+json',
      body: [{ op: 'replace', path: '/spec/rules/0/backendRefs/0/weight', value: 1000001 }]
    })
    expect(r.status).toBe(422)
    expect(r.body.details.causes).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'spec.rules[0].backendRefs[0].weight',
        message:
          'Invalid value: 1000001: spec.rules[0].backendRefs[0].weight in body should be less than or equal to 1000000'
      }
    ])
    expect(h.server.store.get('httproutes', NS, 'gen')).toEqual(before)
  })
})

describe('Service validation the per-color Services go through', () => {
  const svc = (name: string, spec: Record<string, unknown>): Record<string, unknown> => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec
  })

  it('creates, patches and deletes reviews-green with a selector and ports', async () => {
    const created = await h.call('POST', SVC_PATH, {
      body: svc('reviews-green', {
        selector: { app: 'reviews', version: 'green' },
        ports: [{ name: 'http', port: 9080 }]
      })
    })
    expect(created.status).toBe(201)
    expect(created.body.spec.clusterIP).toMatch(/^10\.96\./)
    expect(created.body.spec.ports).toEqual([
      { name: 'http', port: 9080, protocol: 'TCP', targetPort: 9080 }
    ])
    const patched = await h.call('PATCH', `${SVC_PATH}/reviews-green`, {
      contentType: 'application/merge-patch+json',
      body: { spec: { selector: { app: 'reviews', version: 'blue' } } }
    })
    expect(patched.status).toBe(200)
    expect(patched.body.spec.selector).toEqual({ app: 'reviews', version: 'blue' })
    expect(patched.body.spec.clusterIP).toBe(created.body.spec.clusterIP)
    const deleted = await h.call('DELETE', `${SVC_PATH}/reviews-green`)
    expect(deleted.status).toBe(200)
    expect((await h.call('GET', `${SVC_PATH}/reviews-green`)).status).toBe(404)
  })

  it.each([
    ['no ports', { selector: { app: 'r' } }, 'spec.ports: Required value'],
    [
      'port 0 (the defaulted targetPort is 0 too)',
      { ports: [{ port: 0 }] },
      '[spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive, spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive]'
    ],
    [
      'port 65536 with a valid targetPort',
      { ports: [{ port: 65536, targetPort: 8080 }] },
      'spec.ports[0].port: Invalid value: 65536: must be between 1 and 65535, inclusive'
    ],
    [
      'two ports, one without a name',
      { ports: [{ name: 'http', port: 80 }, { port: 81 }] },
      'spec.ports[1].name: Required value'
    ],
    [
      'two ports with one name',
      {
        ports: [
          { name: 'http', port: 80 },
          { name: 'http', port: 81 }
        ]
      },
      'spec.ports[1].name: Duplicate value: "http"'
    ],
    [
      'a port name in upper case',
      { ports: [{ name: 'HTTP', port: 80 }] },
      `spec.ports[0].name: Invalid value: "HTTP": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`
    ],
    [
      'protocol HTTP',
      { ports: [{ port: 80, protocol: 'HTTP' }] },
      'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'
    ],
    [
      'targetPort 70000',
      { ports: [{ port: 80, targetPort: 70000 }] },
      'spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive'
    ],
    [
      'a named targetPort longer than 15 characters',
      { ports: [{ port: 80, targetPort: 'http-application' }] },
      'spec.ports[0].targetPort: Invalid value: "http-application": must be no more than 15 characters'
    ],
    [
      'a selector value with a space',
      { selector: { version: 'green blue' }, ports: [{ port: 80 }] },
      `spec.selector: Invalid value: "green blue": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`
    ],
    [
      'a selector key with two slashes',
      { selector: { 'a/b/c': 'x' }, ports: [{ port: 80 }] },
      `spec.selector: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`
    ]
  ])('refuses %s', async (_what, spec, message) => {
    const r = await h.call('POST', SVC_PATH, { body: svc('bad-svc', spec) })
    expect(r.status).toBe(422)
    expect(r.body.message).toBe(`Service "bad-svc" is invalid: ${message}`)
  })

  it('defaults a targetPort of 0 to the port, as SetDefaults_ServicePort does', async () => {
    const r = await h.call('POST', SVC_PATH, {
      body: svc('zero-target', { ports: [{ port: 9080, targetPort: 0 }] })
    })
    expect(r.status).toBe(201)
    expect(r.body.spec.ports[0].targetPort).toBe(9080)
  })

  it('keeps the allocated clusterIP: leaving it out keeps it, changing it is refused', async () => {
    const created = await h.call('POST', SVC_PATH, {
      body: svc('reviews-blue', {
        selector: { app: 'reviews', version: 'blue' },
        ports: [{ port: 9080 }]
      })
    })
    const ip = created.body.spec.clusterIP as string
    const put = await h.call('PUT', `${SVC_PATH}/reviews-blue`, {
      body: svc('reviews-blue', {
        selector: { app: 'reviews', version: 'blue' },
        ports: [{ port: 9080 }]
      })
    })
    expect(put.status).toBe(200)
    expect(put.body.spec.clusterIP).toBe(ip)
    expect(put.body.spec.clusterIPs).toEqual([ip])
    const moved = await h.call('PATCH', `${SVC_PATH}/reviews-blue`, {
      contentType: 'application/merge-patch+json',
      body: { spec: { clusterIP: '10.96.200.200' } }
    })
    expect(moved.status).toBe(422)
    expect(moved.body.message).toBe(
      'Service "reviews-blue" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.96.200.200"}: may not change once set'
    )
  })
})
