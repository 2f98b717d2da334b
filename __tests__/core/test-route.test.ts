import { jsonPatch } from '../../sandbox/apiserver/patch.js'
import type { HttpRouteSpec } from '../../src/core/httproute.js'
import { selectRules } from '../../src/core/httproute.js'
import type { JsonPatchOp, VirtualServiceSpec } from '../../src/core/routes.js'
import { weightPatch } from '../../src/core/routes.js'
import {
  addTestRoutePatch,
  addTestRulePatch,
  parseTestHeader,
  removeTestRoutePatch,
  removeTestRulePatch,
  selectRoutesBesideTest,
  type TestHeader
} from '../../src/core/test-route.js'

const svc = { name: 'reviews', namespace: 'demo' }
const canary: TestHeader = { name: 'x-canary', value: 'true' }

/** The spec after the sandbox API server's JSON Patch applies the ops (it throws when a test fails). */
function apply<T>(spec: T, ops: JsonPatchOp[]): T {
  return (
    jsonPatch({ metadata: { resourceVersion: '1' }, spec }, JSON.stringify(ops)) as { spec: T }
  ).spec
}

function ok<T>(r: T | { error: string }): T {
  if (typeof r === 'object' && r !== null && 'error' in r) throw new Error(r.error)
  return r as T
}

describe('parseTestHeader', () => {
  it.each([
    ['x-canary: true', { name: 'x-canary', value: 'true' }],
    ['  X-Canary:true  ', { name: 'x-canary', value: 'true' }],
    ['x-user: a: b', { name: 'x-user', value: 'a: b' }],
    ['x~weird.name_1!: v\tw', { name: 'x~weird.name_1!', value: 'v\tw' }]
  ])('%j', (text, expected) => {
    expect(parseTestHeader(text)).toEqual(expected)
  })

  it.each(
    [
      ['x-canary', '"x-canary" has no ":" between the name and the value'],
      [': true', 'is a pseudo-header'],
      [
        ':authority: reviews',
        '":authority: reviews" is a pseudo-header, which routes cannot match as a header'
      ],
      ['x canary: true', '"x canary" is not a valid header name'],
      ['x-cänary: true', 'is not a valid header name'],
      ['x-canary:', 'header "x-canary" has no value'],
      ['x-canary: a\u0000b', 'the value of "x-canary" holds a control character'],
      ['x-canary: a\rb', 'holds a control character'],
      [
        'Host: reviews',
        'header "host" cannot select the test route: Envoy matches the host as the :authority pseudo-header'
      ],
      ['Connection: upgrade', 'it is hop-by-hop'],
      ['te: trailers', 'it is hop-by-hop'],
      ['x-envoy-force-trace: 1', 'Envoy owns the x-envoy- headers'],
      ['x-forwarded-for: 1.2.3.4', 'Envoy sets or appends the x-forwarded- headers'],
      ['method: GET', 'Istio ignores the header keys uri, scheme, method and authority'],
      [`x${'x'.repeat(256)}: 1`, 'the header name is 257 characters, more than 256'],
      [`x-canary: ${'v'.repeat(4097)}`, 'is 4097 characters, more than 4096']
    ].map(([text, message]) => [
      JSON.stringify(text).slice(0, 40),
      text as string,
      message as string
    ])
  )('refuses %s', (_label, text, message) => {
    const r = parseTestHeader(text)
    expect('error' in r && r.error).toContain(message)
    expect('error' in r && r.error).toMatch(
      /^input "test-header": .*; write it as "Name: value", e\.g\. "x-canary: true"$/s
    )
  })
})

describe('VirtualService test routes', () => {
  const spec: VirtualServiceSpec = {
    hosts: ['reviews', 'shop.example.com'],
    gateways: ['mesh', 'shop-gateway'],
    http: [
      {
        name: 'ratings',
        match: [{ uri: { prefix: '/ratings' } }],
        route: [{ destination: { host: 'ratings' } }]
      },
      {
        name: 'api',
        match: [
          { uri: { prefix: '/api' }, gateways: ['shop-gateway'] },
          { uri: { prefix: '/v2' }, headers: { 'x-tenant': { exact: 'a' } } }
        ],
        rewrite: { uri: '/' },
        route: [
          { destination: { host: 'reviews', port: { number: 9080 }, subset: 'blue' }, weight: 100 },
          { destination: { host: 'reviews', port: { number: 9080 }, subset: 'green' }, weight: 0 }
        ]
      },
      { name: 'rest', route: [{ destination: { host: 'reviews.demo.svc.cluster.local' } }] }
    ]
  }
  const add = (s: VirtualServiceSpec, header = canary, names: string[] = []): JsonPatchOp[] =>
    ok(addTestRoutePatch(s, '5', header, 'green', svc, names)).ops

  it('puts a copy of each selected route that also needs the header just before it', () => {
    const after = apply(spec, add(spec))
    expect(after.http?.map((r) => r.name)).toEqual([
      'ratings',
      'istio-bluegreen-test',
      'api',
      'istio-bluegreen-test-2',
      'rest'
    ])
    expect(after.http?.[1]).toEqual({
      name: 'istio-bluegreen-test',
      match: [
        {
          uri: { prefix: '/api' },
          gateways: ['shop-gateway'],
          headers: { 'x-canary': { exact: 'true' } }
        },
        {
          uri: { prefix: '/v2' },
          headers: { 'x-tenant': { exact: 'a' }, 'x-canary': { exact: 'true' } }
        }
      ],
      rewrite: { uri: '/' },
      route: [{ destination: { host: 'reviews', port: { number: 9080 }, subset: 'green' } }]
    })
    expect(after.http?.[3]).toEqual({
      name: 'istio-bluegreen-test-2',
      match: [{ headers: { 'x-canary': { exact: 'true' } } }],
      route: [{ destination: { host: 'reviews.demo.svc.cluster.local', subset: 'green' } }]
    })
    for (const i of [0, 2, 4]) {
      expect(after.http?.[i]).toEqual(spec.http?.[i / 2])
    }
  })

  it('is idempotent, and replaces test routes planned for another header or candidate', () => {
    const once = apply(spec, add(spec))
    expect(add(once)).toEqual([])
    const other = apply(once, add(once, { name: 'x-smoke', value: '1' }))
    expect(other.http?.map((r) => r.name)).toEqual(once.http?.map((r) => r.name))
    expect(JSON.stringify(other)).not.toContain('x-canary')
    expect(JSON.stringify(other)).toContain('"x-smoke":{"exact":"1"}')
  })

  it('only the named routes get a test route', () => {
    const after = apply(spec, add(spec, canary, ['rest']))
    expect(after.http?.map((r) => r.name)).toEqual([
      'ratings',
      'api',
      'istio-bluegreen-test',
      'rest'
    ])
  })

  it('selection skips the test routes and keeps the indexes of spec.http as it is', () => {
    const after = apply(spec, add(spec))
    const routes = ok(selectRoutesBesideTest(after, svc, []))
    expect(routes.routes.map((r) => [r.index, r.name])).toEqual([
      [2, 'api'],
      [4, 'rest']
    ])
    const shifted = apply(after, weightPatch(after, '6', routes.routes, 'green', 10))
    expect(shifted.http?.[1]).toEqual(after.http?.[1])
    expect(shifted.http?.[2]?.route?.map((d) => d.weight)).toEqual([90, 10])
    expect(selectRoutesBesideTest(after, svc, ['istio-bluegreen-test'])).toEqual({
      error: expect.stringContaining("is istio-bluegreen's own test-header route") as string
    })
  })

  it('removes every test route, each behind a test of its name, and nothing when there is none', () => {
    const after = apply(spec, add(spec))
    const ops = removeTestRoutePatch(after, '7')
    expect(ops).toEqual([
      { op: 'replace', path: '/metadata/resourceVersion', value: '7' },
      { op: 'test', path: '/spec/http/3/name', value: 'istio-bluegreen-test-2' },
      { op: 'remove', path: '/spec/http/3' },
      { op: 'test', path: '/spec/http/1/name', value: 'istio-bluegreen-test' },
      { op: 'remove', path: '/spec/http/1' }
    ])
    expect(apply(after, ops)).toEqual(spec)
    expect(removeTestRoutePatch(spec, '7')).toEqual([])
    const reordered = {
      ...after,
      http: [after.http?.[0], ...(after.http ?? []).slice(2), after.http?.[1]]
    }
    expect(() => apply(reordered as VirtualServiceSpec, ops)).toThrow(
      'testing value /spec/http/3/name failed'
    )
  })

  it('refuses a selected route that already matches the header', () => {
    const r = addTestRoutePatch(spec, '5', { name: 'x-tenant', value: 'b' }, 'green', svc, [])
    expect(r).toEqual({
      error:
        'input "test-header": HTTP route "api" already matches header "x-tenant"; choose another header name for the test route'
    })
  })
})

describe('HTTPRoute test rules', () => {
  const ref = { group: '', kind: 'Service', port: 9080 }
  const spec: HttpRouteSpec = {
    parentRefs: [{ group: '', kind: 'Service', name: 'reviews', port: 9080 }],
    rules: [
      {
        name: 'ratings',
        matches: [{ path: { type: 'PathPrefix', value: '/ratings' } }],
        backendRefs: [{ ...ref, name: 'ratings', weight: 1 }]
      },
      {
        name: 'api',
        matches: [
          { path: { type: 'Exact', value: '/api' }, method: 'GET' },
          {
            path: { type: 'PathPrefix', value: '/v2' },
            headers: [{ type: 'Exact', name: 'X-Tenant', value: 'a' }]
          }
        ],
        filters: [
          {
            type: 'URLRewrite',
            urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/' } }
          }
        ],
        backendRefs: [{ ...ref, name: 'reviews', weight: 1 }]
      },
      {
        backendRefs: [
          { ...ref, name: 'reviews-blue', weight: 100 },
          { ...ref, name: 'reviews-green', weight: 0 }
        ]
      }
    ]
  }
  const add = (s: HttpRouteSpec, header = canary): JsonPatchOp[] =>
    ok(addTestRulePatch(s, '5', header, 'green', svc, [], 'reviews')).ops

  it('copies each selected rule with the header added to every match, before it', () => {
    const after = apply(spec, add(spec))
    expect(after.rules?.map((r) => r.name)).toEqual([
      'ratings',
      'istio-bluegreen-test',
      'api',
      'istio-bluegreen-test-2',
      undefined
    ])
    expect(after.rules?.[1]).toEqual({
      name: 'istio-bluegreen-test',
      matches: [
        {
          path: { type: 'Exact', value: '/api' },
          method: 'GET',
          headers: [{ type: 'Exact', name: 'x-canary', value: 'true' }]
        },
        {
          path: { type: 'PathPrefix', value: '/v2' },
          headers: [
            { type: 'Exact', name: 'X-Tenant', value: 'a' },
            { type: 'Exact', name: 'x-canary', value: 'true' }
          ]
        }
      ],
      filters: spec.rules?.[1]?.filters,
      backendRefs: [{ ...ref, name: 'reviews-green', weight: 1 }]
    })
    expect(after.rules?.[3]).toEqual({
      name: 'istio-bluegreen-test-2',
      matches: [
        {
          path: { type: 'PathPrefix', value: '/' },
          headers: [{ type: 'Exact', name: 'x-canary', value: 'true' }]
        }
      ],
      backendRefs: [{ ...ref, name: 'reviews-green', weight: 1 }]
    })
    expect(add(after)).toEqual([])
    expect(ok(selectRules(after, svc, [], 'reviews')).rules.map((r) => r.index)).toEqual([2, 4])
    expect(apply(after, removeTestRulePatch(after, '8'))).toEqual(spec)
    expect(removeTestRulePatch(spec, '8')).toEqual([])
  })

  it.each<[string, HttpRouteSpec, TestHeader, string]>([
    [
      'a rule already matching the header, in another case',
      spec,
      { name: 'x-tenant', value: 'b' },
      'input "test-header": HTTPRoute rule "api" already matches header "x-tenant"; choose another header name for the test route'
    ],
    [
      'more than 16 rules',
      {
        rules: [
          ...Array.from({ length: 14 }, (_, i) => ({
            name: `r${i}`,
            backendRefs: [{ ...ref, name: 'ratings' }]
          })),
          { backendRefs: [{ ...ref, name: 'reviews' }] },
          { backendRefs: [{ ...ref, name: 'reviews-blue' }] }
        ]
      },
      canary,
      'HTTPRoute reviews has 16 rules and needs 2 more for the test route, over the 16 an HTTPRoute may hold'
    ],
    [
      'more than 128 matches',
      {
        rules: [
          {
            backendRefs: [{ ...ref, name: 'ratings' }],
            matches: Array.from({ length: 64 }, () => ({}))
          },
          {
            backendRefs: [{ ...ref, name: 'reviews' }],
            matches: Array.from({ length: 40 }, () => ({}))
          }
        ]
      },
      canary,
      'with the test route HTTPRoute reviews would hold 144 matches, over the 128'
    ],
    [
      'a match already holding 16 headers',
      {
        rules: [
          {
            backendRefs: [{ ...ref, name: 'reviews' }],
            matches: [
              { headers: Array.from({ length: 16 }, (_, i) => ({ name: `h${i}`, value: '1' })) }
            ]
          }
        ]
      },
      canary,
      'has 16 header matches; the test route needs one more and a match may hold 16'
    ]
  ])('refuses %s', (_name, s, header, message) => {
    const r = addTestRulePatch(s, '5', header, 'green', svc, [], 'reviews')
    expect('error' in r && r.error).toContain(message)
  })
})
