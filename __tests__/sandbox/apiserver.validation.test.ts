/**
 * VirtualServices and DestinationRules checked against Istio's own CRD schemas, as
 * apiextensions-apiserver checks them: 422 Invalid with kube's messages and causes, pruning of
 * unknown fields (a warning, or an error with fieldValidation=Strict), and the CEL rules Istio uses.
 */
import { parseGoDuration } from '../../sandbox/apiserver/schema.js'
import { DR_PATH, NS, VS_PATH, seed, startHarness, type Harness } from './apiserver.harness.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness({ controllerDelayMs: 60_000 })
  seed(h.server.store)
})
afterAll(async () => {
  await h.close()
})

function vs(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name }, spec }
}
function dr(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name }, spec }
}
const route = (extra: Record<string, unknown>) => ({
  http: [{ route: [{ destination: { host: 'r' }, ...extra }] }]
})

describe('schema violations answer 422 Invalid', () => {
  it.each([
    [
      'a string weight',
      VS_PATH,
      vs('bad-1', route({ weight: '50' })),
      'FieldValueTypeInvalid',
      'spec.http[0].route[0].weight',
      'Invalid value: "string": spec.http[0].route[0].weight in body must be of type integer: "string"'
    ],
    [
      'a fractional int32 weight (kube-openapi names the format)',
      VS_PATH,
      vs('bad-2', route({ weight: 50.5 })),
      'FieldValueTypeInvalid',
      'spec.http[0].route[0].weight',
      'Invalid value: "float64": spec.http[0].route[0].weight in body must be of type int32: "float64"'
    ],
    [
      'a route without its required destination',
      VS_PATH,
      vs('bad-3', { http: [{ route: [{ weight: 100 }] }] }),
      'FieldValueRequired',
      'spec.http[0].route[0].destination',
      'Required value'
    ],
    [
      'hosts that is not a list',
      VS_PATH,
      vs('bad-4', { hosts: 'reviews' }),
      'FieldValueTypeInvalid',
      'spec.hosts',
      'Invalid value: "string": spec.hosts in body must be of type array: "string"'
    ],
    [
      'a port number below its minimum',
      VS_PATH,
      vs('bad-5', { http: [{ route: [{ destination: { host: 'r', port: { number: -1 } } }] }] }),
      'FieldValueInvalid',
      'spec.http[0].route[0].destination.port.number',
      'Invalid value: -1: spec.http[0].route[0].destination.port.number in body should be greater than or equal to 0'
    ],
    [
      'a timeout shorter than the CEL rule allows',
      VS_PATH,
      vs('bad-6', { http: [{ timeout: '0.5ms', route: [{ destination: { host: 'r' } }] }] }),
      'FieldValueInvalid',
      'spec.http[0].timeout',
      'Invalid value: "string": must be a valid duration greater than 1ms'
    ],
    [
      'a load balancer outside the enum',
      DR_PATH,
      dr('bad-7', { host: 'r', trafficPolicy: { loadBalancer: { simple: 'FASTEST' } } }),
      'FieldValueNotSupported',
      'spec.trafficPolicy.loadBalancer.simple',
      'Unsupported value: "FASTEST": supported values: "UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"'
    ],
    [
      'both simple and consistentHash (oneOf)',
      DR_PATH,
      dr('bad-8', {
        host: 'r',
        trafficPolicy: { loadBalancer: { simple: 'RANDOM', consistentHash: { useSourceIp: true } } }
      }),
      'FieldValueInvalid',
      '<nil>',
      'Invalid value: "": "spec.trafficPolicy.loadBalancer" must validate one and only one schema (oneOf). Found 2 valid alternatives'
    ],
    [
      'a subset label value that is not a string (additionalProperties)',
      DR_PATH,
      dr('bad-9', { host: 'r', subsets: [{ name: 'blue', labels: { version: 2 } }] }),
      'FieldValueTypeInvalid',
      'spec.subsets[0].labels.version',
      'Invalid value: "integer": spec.subsets[0].labels.version in body must be of type string: "integer"'
    ]
  ])('%s', async (_what, path, body, reason, field, causeMessage) => {
    const name = (body.metadata as { name: string }).name
    const kind = body.kind as string
    const r = await h.call('POST', path, { body })
    expect(r.status).toBe(422)
    expect(r.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `${kind}.networking.istio.io "${name}" is invalid: ${field}: ${causeMessage}`,
      reason: 'Invalid',
      details: {
        name,
        group: 'networking.istio.io',
        kind,
        causes: [{ reason, message: causeMessage, field }]
      },
      code: 422
    })
    expect(
      h.server.store.get(path === VS_PATH ? 'virtualservices' : 'destinationrules', NS, name)
    ).toBeUndefined()
  })

  it('validates patched objects too, leaving the stored one unchanged', async () => {
    const before = h.server.store.get('virtualservices', NS, 'reviews')
    const r = await h.call('PATCH', `${VS_PATH}/reviews`, {
      contentType: 'application/json-patch+json',
      body: [{ op: 'replace', path: '/spec/http/0/route/0/weight', value: 'ninety' }]
    })
    expect(r.status).toBe(422)
    expect(r.body.details.causes[0].field).toBe('spec.http[0].route[0].weight')
    expect(h.server.store.get('virtualservices', NS, 'reviews')).toEqual(before)
  })

  it.each(['v1beta1', 'v1alpha3'])(
    'validates against the %s schema when written under it',
    async (v) => {
      const body = {
        ...vs(`bad-${v}`, route({ weight: '1' })),
        apiVersion: `networking.istio.io/${v}`
      }
      const r = await h.call(
        'POST',
        `/apis/networking.istio.io/${v}/namespaces/${NS}/virtualservices`,
        { body }
      )
      expect(r.status).toBe(422)
    }
  )

  it('gathers several violations into one bracketed message', async () => {
    const r = await h.call('POST', VS_PATH, {
      body: vs('bad-many', { hosts: 'x', http: [{ route: [{ weight: 'y' }] }] })
    })
    expect(r.body.message).toMatch(
      /^VirtualService.networking.istio.io "bad-many" is invalid: \[.+, .+, .+\]$/
    )
    expect(r.body.details.causes).toHaveLength(3)
  })

  it('accepts int32 fields past the int32 range, as kube-openapi does not range-check formats', async () => {
    const r = await h.call('POST', VS_PATH, {
      body: vs('big-weight', route({ weight: 5_000_000_000 }))
    })
    expect(r.status).toBe(201)
  })
})

describe('unknown fields', () => {
  it('are pruned with a Warning header by default', async () => {
    const r = await h.call('POST', VS_PATH, {
      body: {
        ...vs('pruned', {
          hosts: ['r'],
          colour: 'blue',
          http: [{ route: [{ destination: { host: 'r', extra: 1 } }] }]
        }),
        top: 1
      }
    })
    expect(r.status).toBe(201)
    expect(r.body.spec).toEqual({
      hosts: ['r'],
      http: [{ route: [{ destination: { host: 'r' } }] }]
    })
    expect(r.body.top).toBeUndefined()
    expect(r.headers.get('warning')).toBe(
      '299 - "unknown field \\"spec.colour\\"", 299 - "unknown field \\"spec.http[0].route[0].destination.extra\\"", 299 - "unknown field \\"top\\""'
    )
  })

  it('are a 400 error with fieldValidation=Strict', async () => {
    const r = await h.call('POST', `${VS_PATH}?fieldValidation=Strict`, {
      body: vs('strict', { hosts: ['r'], colour: 'blue' })
    })
    expect(r.status).toBe(400)
    expect(r.body.message).toBe(
      'VirtualService in version "v1" cannot be handled as a VirtualService: strict decoding error: unknown field "spec.colour"'
    )
    expect(h.server.store.get('virtualservices', NS, 'strict')).toBeUndefined()
  })

  it('are kept where the schema preserves unknown fields (status)', async () => {
    const r = await h.call('PATCH', `${VS_PATH}/reviews/status`, {
      contentType: 'application/merge-patch+json',
      body: { status: { anything: { goes: true } } }
    })
    expect(r.body.status.anything).toEqual({ goes: true })
  })

  it('drop nulls of non-nullable fields and keep nullable ones', async () => {
    const r = await h.call('POST', VS_PATH, {
      body: vs('nulls', {
        hosts: ['r'],
        http: [{ mirrorPercent: null, route: [{ destination: { host: 'r' }, weight: null }] }]
      })
    })
    expect(r.status).toBe(201)
    expect(r.body.spec.http[0]).toEqual({
      mirrorPercent: null,
      route: [{ destination: { host: 'r' } }]
    })
  })
})

describe('Go durations (for the CEL duration rule)', () => {
  it.each([
    ['1ms', 1e6],
    ['1.5s', 1.5e9],
    ['1h2m', 3.72e12],
    ['0', 0],
    ['10', undefined],
    ['1x', undefined],
    ['', undefined]
  ])('%s is %s ns', (text, ns) => {
    expect(parseGoDuration(text)).toBe(ns)
  })
})
