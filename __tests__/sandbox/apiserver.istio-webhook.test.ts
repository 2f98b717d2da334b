/**
 * Istio's validating webhook (validation.istio.io) as kube-apiserver relays it: the rules of
 * istiod's pkg/config/validation that the action could trip, answered 400 after schema
 * validation, with the webhook's words.
 */
import { istioDenial } from '../../sandbox/apiserver/istio-webhook.js'
import type { KubeObject } from '../../sandbox/types.js'
import { DR_PATH, NS, VS_PATH, seed, startHarness, type Harness } from './apiserver.harness.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness({ controllerDelayMs: 60_000 })
  seed(h.server.store)
})
afterAll(async () => {
  await h.close()
})

const DENIED =
  'admission webhook "validation.istio.io" denied the request: configuration is invalid: '

const vs = (spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'x' },
  spec
})
const dr = (spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'x' },
  spec
})
const split = (...routes: Array<Record<string, unknown>>) => ({
  hosts: ['reviews'],
  http: [{ route: routes }]
})
const to = (subset: string, weight?: number, host = 'reviews') => ({
  destination: { host, subset },
  ...(weight === undefined ? {} : { weight })
})

describe('over HTTP', () => {
  it('denies a negative weight with 400 and the webhook message, storing nothing', async () => {
    const r = await h.call('POST', VS_PATH, {
      body: { ...vs(split(to('blue', 110), to('green', -10))), metadata: { name: 'neg' } }
    })
    expect(r.status).toBe(400)
    expect(r.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `${DENIED}weight -10 < 0`,
      code: 400
    })
    expect(h.server.store.get('virtualservices', NS, 'neg')).toBeUndefined()
  })

  it('denies a JSON patch that leaves every weight of a split at 0, and keeps the object', async () => {
    const before = h.server.store.get('virtualservices', NS, 'reviews')
    const r = await h.call('PATCH', `${VS_PATH}/reviews`, {
      contentType: 'application/json-patch+json',
      body: [{ op: 'replace', path: '/spec/http/0/route/0/weight', value: 0 }]
    })
    expect(r.status).toBe(400)
    expect(r.body.message).toBe(`${DENIED}total destination weight = 0`)
    expect(h.server.store.get('virtualservices', NS, 'reviews')).toEqual(before)
  })

  it('admits weights that do not add up to 100, as current Istio does', async () => {
    const r = await h.call('POST', VS_PATH, {
      body: { ...vs(split(to('blue', 30), to('green', 30))), metadata: { name: 'sixty' } }
    })
    expect(r.status).toBe(201)
  })

  it('lets schema validation speak first (422), as kube runs admission after it', async () => {
    const r = await h.call('POST', VS_PATH, {
      body: {
        ...vs(split(to('blue', -1), to('green', 'x' as unknown as number))),
        metadata: { name: 's' }
      }
    })
    expect(r.status).toBe(422)
  })

  it('denies a DestinationRule with a duplicate subset', async () => {
    const r = await h.call('POST', DR_PATH, {
      body: {
        ...dr({
          host: 'reviews',
          subsets: [
            { name: 'blue', labels: { version: 'blue' } },
            { name: 'blue', labels: { version: 'green' } }
          ]
        }),
        metadata: { name: 'dup' }
      }
    })
    expect(r.status).toBe(400)
    expect(r.body.message).toBe(`${DENIED}duplicate subset names: blue`)
  })
})

describe('the rules', () => {
  it.each([
    ['a negative weight', vs(split(to('blue', 100), to('green', -1))), 'weight -1 < 0'],
    [
      'a split whose weights are all 0',
      vs(split(to('blue', 0), to('green', 0))),
      'total destination weight = 0'
    ],
    ['a wildcard destination', vs(split(to('blue', 100, '*'))), 'invalid destination host *'],
    [
      'a destination host that is no DNS name',
      vs(split(to('blue', 100, 'reviews_v2'))),
      'domain name "reviews_v2" invalid (label "reviews_v2" invalid)'
    ],
    [
      'a host whose later label is bad (named from there, as Istio does)',
      vs(split(to('blue', 100, 'reviews.demo_ns.svc'))),
      'domain name "demo_ns.svc" invalid (label "demo_ns" invalid)'
    ],
    [
      'an all-numeric top-level domain',
      vs(split(to('blue', 100, 'reviews.123'))),
      'domain name "123" invalid (top level domain "123" cannot be all-numeric)'
    ],
    [
      'a subset that is no DNS label',
      vs(split(to('blue_1', 100))),
      'subset name is invalid: blue_1'
    ],
    [
      'a destination port out of range',
      vs({
        hosts: ['r'],
        http: [{ route: [{ destination: { host: 'r', port: { number: 0 } } }] }]
      }),
      'port number 0 must be in the range 1..65535'
    ],
    [
      'an HTTP route with nowhere to go',
      vs({ hosts: ['r'], http: [{ name: 'primary' }] }),
      'HTTP route, redirect or direct_response is required'
    ],
    [
      'a route beside a redirect',
      vs({ hosts: ['r'], http: [{ redirect: { uri: '/x' }, route: [to('blue')] }] }),
      'HTTP route cannot contain both route and redirect'
    ],
    [
      'no route at all',
      vs({ hosts: ['r'] }),
      'http, tcp or tls must be provided in virtual service'
    ],
    [
      'the * host on the mesh',
      vs({ hosts: ['*'], http: [{ route: [to('blue')] }] }),
      'wildcard host * is not allowed for virtual services bound to the mesh gateway'
    ],
    [
      'a host twice (wildcards count)',
      vs({ hosts: ['*.example.com', 'a.example.com'], http: [{ route: [to('blue')] }] }),
      'duplicate hosts in virtual service: *.example.com & a.example.com'
    ],
    [
      'two errors, in Istio order and multierror format',
      vs(split(to('Blue!', 100), to('green', -5))),
      '2 errors occurred:\n\t* subset name is invalid: Blue!\n\t* weight -5 < 0\n\n'
    ],
    [
      'a DestinationRule host that is no DNS name',
      dr({ host: 'reviews_x' }),
      'domain name "reviews_x" invalid (label "reviews_x" invalid)'
    ],
    [
      'a subset label value Kubernetes would refuse',
      dr({ host: 'reviews', subsets: [{ name: 'blue', labels: { version: 'a b' } }] }),
      'invalid tag value: "a b"'
    ],
    [
      'an empty subset name',
      dr({ host: 'reviews', subsets: [{ name: '', labels: { version: 'x' } }] }),
      'subset name cannot be empty'
    ]
  ])('denies %s', (_what, o, message) => {
    const resource = o.kind === 'VirtualService' ? 'virtualservices' : 'destinationrules'
    expect(istioDenial(resource, o)).toBe(`configuration is invalid: ${message}`)
  })

  it.each([
    ['the seeded shape (one destination, no weight)', vs(split(to('blue')))],
    [
      'a 90/10 split with a third destination',
      vs(split(to('blue', 80), to('green', 10), to('x', 10, 'other')))
    ],
    ['weights that are not 100 in total', vs(split(to('blue', 1), to('green', 1)))],
    [
      'a gateway-bound external host',
      vs({
        hosts: ['myweb.example.com'],
        gateways: ['myweb-gateway'],
        http: [{ route: [to('blue', 100, 'myweb')] }]
      })
    ],
    [
      'a fully qualified host with a trailing dot',
      vs(split(to('blue', 100, 'reviews.demo.svc.cluster.local.')))
    ],
    ['upper-case subset names (Istio allows them)', vs(split(to('Blue', 100)))],
    [
      'the DestinationRule the action writes',
      dr({
        host: 'reviews',
        trafficPolicy: { loadBalancer: { simple: 'LEAST_CONN' } },
        subsets: [
          { name: 'blue', labels: { version: 'blue' } },
          { name: 'green', labels: { version: 'green' } }
        ]
      })
    ]
  ])('admits %s', (_what, o) => {
    const resource = o.kind === 'VirtualService' ? 'virtualservices' : 'destinationrules'
    expect(istioDenial(resource, o)).toBeUndefined()
  })
})
