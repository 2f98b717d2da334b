import {
  backendRole,
  httpRouteColorWeights,
  httpRouteWeightPatch,
  type HttpRouteRule,
  type HttpRouteSpec,
  type RuleShape,
  ruleColorWeights,
  selectRules,
  splitRuleWeight
} from '../../src/core/httproute.js'
import type { JsonPatchOp } from '../../src/core/routes.js'
import { jsonPatch } from '../../sandbox/apiserver/patch.js'

const svc = { name: 'reviews', namespace: 'demo' }
const mesh = [{ group: '', kind: 'Service', name: 'reviews', port: 9080 }]

function shapes(spec: HttpRouteSpec, names: string[] = []): RuleShape[] {
  const r = selectRules(spec, svc, names, 'reviews')
  if ('error' in r) throw new Error(r.error)
  return r.rules
}

/** The spec after the sandbox API server's JSON Patch applies the ops (it throws when a test fails). */
function apply(spec: HttpRouteSpec, ops: JsonPatchOp[]): HttpRouteSpec {
  const doc = { metadata: { resourceVersion: '1' }, spec }
  return (jsonPatch(doc, JSON.stringify(ops)) as { spec: HttpRouteSpec }).spec
}

describe('backendRole', () => {
  it.each<[string, Record<string, unknown>, ReturnType<typeof backendRole>]>([
    ['the service itself', { name: 'reviews', port: 9080 }, 'bare'],
    ['blue', { name: 'reviews-blue' }, { color: 'blue' }],
    [
      'green, core group and kind spelled out',
      { group: '', kind: 'Service', name: 'reviews-green' },
      { color: 'green' }
    ],
    ['same namespace spelled out', { name: 'reviews', namespace: 'demo' }, 'bare'],
    ['another namespace', { name: 'reviews', namespace: 'other' }, 'other'],
    [
      'another kind',
      { group: 'multicluster.x-k8s.io', kind: 'ServiceImport', name: 'reviews' },
      'other'
    ],
    ['another service', { name: 'ratings' }, 'other'],
    ['a name that only starts like a color', { name: 'reviews-blue-2' }, 'other']
  ])('%s', (_name, ref, expected) => {
    expect(backendRole(ref as { name: string }, svc)).toEqual(expected)
  })
})

describe('selectRules', () => {
  const mixed: HttpRouteSpec = {
    rules: [
      { name: 'ratings', backendRefs: [{ name: 'ratings', port: 9080 }] },
      { name: 'istio-bluegreen-test', backendRefs: [{ name: 'reviews-green', port: 9080 }] },
      { name: 'primary', backendRefs: mesh },
      { backendRefs: [{ name: 'reviews-blue', port: 9080 }] }
    ]
  }

  it('defaults to every rule with a backendRef to the service, skipping the test rules', () => {
    expect(shapes(mixed).map((r) => [r.index, r.name])).toEqual([
      [2, 'primary'],
      [3, '#3']
    ])
  })

  it('picks named rules once each, in the order named', () => {
    expect(shapes(mixed, ['primary', 'primary']).map((r) => r.index)).toEqual([2])
  })

  it('reads shares and other weights', () => {
    const [shape] = shapes({
      rules: [
        {
          backendRefs: [
            { name: 'reviews-blue', port: 9080, weight: 300 },
            { name: 'legacy', port: 80, weight: 100 },
            { name: 'reviews-green', port: 9080 }
          ]
        }
      ]
    })
    expect(shape).toEqual({
      index: 0,
      name: '#0',
      colors: { blue: 0, green: 2 },
      serviceWeight: 301,
      otherWeight: 100
    })
  })

  it.each<[string, HttpRouteSpec, string[], string]>([
    [
      'unknown rule name',
      mixed,
      ['canary'],
      'input "routes": HTTPRoute reviews has no rule named "canary"; its rules are: ratings, primary, #3 (unnamed)'
    ],
    [
      'a named rule not to the service',
      mixed,
      ['ratings'],
      'input "routes": rule "ratings" of HTTPRoute reviews has no backendRef to reviews; name rules that send traffic to the service'
    ],
    [
      'the test rule by name',
      mixed,
      ['istio-bluegreen-test'],
      `rule "istio-bluegreen-test" is istio-bluegreen's own test-header rule`
    ],
    [
      'no rule to the service',
      {
        rules: [
          { backendRefs: [{ name: 'ratings', port: 80 }] },
          { backendRefs: [{ name: 'reviews', namespace: 'prod', port: 80 }] },
          { filters: [{ type: 'RequestRedirect' }] }
        ]
      },
      [],
      'no rule of HTTPRoute reviews has a backendRef to the Service reviews in namespace demo (backendRefs: ratings, reviews); check inputs "service" and "http-route"'
    ],
    ['no rules at all', {}, [], '(backendRefs: none)'],
    [
      'the service named twice',
      { rules: [{ name: 'p', backendRefs: [...mesh, { name: 'reviews', port: 9081 }] }] },
      [],
      'HTTPRoute rule "p" has two backendRefs to reviews; merge them into one'
    ],
    [
      'a color named twice',
      {
        rules: [
          {
            backendRefs: [
              { name: 'reviews-blue', port: 9080 },
              { name: 'reviews-blue', port: 9080, weight: 0 }
            ]
          }
        ]
      },
      [],
      'HTTPRoute rule #0 has two backendRefs to reviews-blue; merge them into one'
    ],
    [
      'bare beside a color',
      { rules: [{ backendRefs: [...mesh, { name: 'reviews-green', port: 9080 }] }] },
      [],
      'beside one to a color Service (reviews-blue or reviews-green); move the weight of reviews to the color Service of the stable color'
    ],
    [
      'weight 0 everywhere',
      {
        rules: [
          {
            backendRefs: [
              { name: 'reviews', port: 9080, weight: 0 },
              { name: 'legacy', port: 80, weight: 0 }
            ]
          }
        ]
      },
      [],
      "HTTPRoute rule #0 gives reviews weight 0 (reviews=0, legacy=0), so it has no share to shift; give reviews's backendRef the weight it should have"
    ],
    [
      'a service weight too small for percentages beside others',
      {
        rules: [
          {
            backendRefs: [
              { name: 'reviews', port: 9080 },
              { name: 'legacy', port: 80, weight: 3 }
            ]
          }
        ]
      },
      [],
      "gives reviews weight 1 beside other backendRefs (reviews=1, legacy=3); with a total under 100 the candidate's percentages cannot be set to the nearest percent: multiply every weight of the rule by 100"
    ],
    [
      'a service weight a single backendRef cannot hold',
      {
        rules: [
          {
            backendRefs: [
              { name: 'reviews-blue', port: 9080, weight: 1000000 },
              { name: 'reviews-green', port: 9080, weight: 1 },
              { name: 'legacy', port: 80, weight: 5 }
            ]
          }
        ]
      },
      [],
      'a total weight of 1000001'
    ],
    [
      'no room for the candidate',
      {
        rules: [
          {
            backendRefs: [
              { name: 'reviews', port: 9080, weight: 100 },
              ...Array.from({ length: 15 }, (_, i) => ({ name: `b${i}`, port: 80, weight: 10 }))
            ]
          }
        ]
      },
      [],
      'HTTPRoute rule #0 has 16 backendRefs; adding the color Service would exceed the 16 an HTTPRoute rule may hold'
    ]
  ])('refuses %s', (_name, spec, names, message) => {
    const r = selectRules(spec, svc, names, 'reviews')
    expect('error' in r && r.error).toContain(message)
  })

  it('accepts 16 backendRefs when both colors are already there', () => {
    const spec: HttpRouteSpec = {
      rules: [
        {
          backendRefs: [
            { name: 'reviews-blue', port: 9080, weight: 100 },
            { name: 'reviews-green', port: 9080, weight: 0 },
            ...Array.from({ length: 14 }, (_, i) => ({ name: `b${i}`, port: 80, weight: 10 }))
          ]
        }
      ]
    }
    expect(shapes(spec)).toHaveLength(1)
  })
})

describe('ruleColorWeights', () => {
  it.each<[string, HttpRouteRule, ReturnType<typeof ruleColorWeights>]>([
    [
      'a bare backendRef counts as the stable color',
      { backendRefs: mesh },
      { blue: 100, green: 0 }
    ],
    [
      'absent weights are 1 each',
      {
        backendRefs: [
          { name: 'reviews-blue', port: 9080 },
          { name: 'reviews-green', port: 9080 }
        ]
      },
      { blue: 50, green: 50 }
    ],
    [
      'a share of the service beside another backendRef',
      {
        backendRefs: [
          { name: 'reviews-blue', port: 9080, weight: 600 },
          { name: 'reviews-green', port: 9080, weight: 200 },
          { name: 'legacy', port: 80, weight: 200 }
        ]
      },
      { blue: 75, green: 25 }
    ],
    [
      'relative weights round to whole percents, green takes the rest',
      {
        backendRefs: [
          { name: 'reviews-blue', port: 9080, weight: 2 },
          { name: 'reviews-green', port: 9080, weight: 1 }
        ]
      },
      { blue: 67, green: 33 }
    ],
    [
      'a color at weight 0',
      {
        backendRefs: [
          { name: 'reviews-blue', port: 9080, weight: 0 },
          { name: 'reviews-green', port: 9080, weight: 7 }
        ]
      },
      { blue: 0, green: 100 }
    ]
  ])('%s', (_name, rule, expected) => {
    const shape = shapes({ rules: [rule] })[0] as RuleShape
    expect(ruleColorWeights(rule, shape, 'blue')).toEqual(expected)
  })

  it('reports each selected rule with its other backendRefs', () => {
    const spec: HttpRouteSpec = {
      rules: [
        { name: 'a', backendRefs: mesh },
        {
          name: 'b',
          backendRefs: [
            { name: 'reviews-green', port: 9080, weight: 100 },
            { name: 'legacy', port: 80 }
          ]
        }
      ]
    }
    expect(httpRouteColorWeights(spec, shapes(spec), 'green', svc)).toEqual([
      { rule: 'a', weights: { blue: 0, green: 100 }, others: [] },
      { rule: 'b', weights: { blue: 0, green: 100 }, others: [{ name: 'legacy', weight: 1 }] }
    ])
  })
})

describe('splitRuleWeight', () => {
  it.each([
    ['alone: percentages', 1, 0, 'green', 10, { blue: 90, green: 10 }],
    ['alone: whatever the total was', 1000, 0, 'green', 100, { blue: 0, green: 100 }],
    ['beside others: the total stays', 300, 100, 'green', 25, { blue: 225, green: 75 }],
    [
      'beside others: half rounds up for the candidate',
      150,
      50,
      'blue',
      1,
      { blue: 2, green: 148 }
    ],
    ['0% is all stable', 150, 50, 'blue', 0, { blue: 0, green: 150 }]
  ] as const)('%s', (_name, serviceWeight, otherWeight, candidate, percent, expected) => {
    const w = splitRuleWeight({ serviceWeight, otherWeight }, candidate, percent)
    expect(w).toEqual(expected)
    if (otherWeight > 0) expect(w.blue + w.green).toBe(serviceWeight)
  })

  it('realises every whole percent within half a point when the service weight is at least 100', () => {
    for (const serviceWeight of [100, 101, 150, 999, 1001]) {
      for (let percent = 0; percent <= 100; percent++) {
        const w = splitRuleWeight({ serviceWeight, otherWeight: 7 }, 'green', percent)
        expect(Math.abs((w.green * 100) / serviceWeight - percent)).toBeLessThanOrEqual(0.5)
      }
    }
  })
})

describe('httpRouteWeightPatch', () => {
  it('adopts the first release in one patch: the bare backendRef becomes the stable color, the candidate comes at 0', () => {
    const spec: HttpRouteSpec = {
      parentRefs: [{ group: '', kind: 'Service', name: 'reviews', port: 9080 }],
      rules: [
        {
          backendRefs: [
            {
              group: '',
              kind: 'Service',
              name: 'reviews',
              port: 9080,
              weight: 1,
              filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [] } }]
            }
          ]
        }
      ]
    }
    const ops = httpRouteWeightPatch(spec, '7', shapes(spec), 'green', 0, 'blue')
    expect(ops).toEqual([
      { op: 'replace', path: '/metadata/resourceVersion', value: '7' },
      { op: 'test', path: '/spec/rules/0/backendRefs/0/name', value: 'reviews' },
      { op: 'replace', path: '/spec/rules/0/backendRefs/0/name', value: 'reviews-blue' },
      { op: 'replace', path: '/spec/rules/0/backendRefs/0/weight', value: 100 },
      {
        op: 'add',
        path: '/spec/rules/0/backendRefs/-',
        value: {
          group: '',
          kind: 'Service',
          name: 'reviews-green',
          port: 9080,
          weight: 0,
          filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [] } }]
        }
      }
    ])
    const after = apply(spec, ops)
    expect(after.rules?.[0]?.backendRefs?.map((b) => [b.name, b.port, b.weight])).toEqual([
      ['reviews-blue', 9080, 100],
      ['reviews-green', 9080, 0]
    ])
    expect(
      ruleColorWeights(after.rules?.[0] as HttpRouteRule, shapes(after)[0] as RuleShape, 'blue')
    ).toEqual({ blue: 100, green: 0 })
  })

  it('keeps the share of other backendRefs when adopting beside them', () => {
    const spec: HttpRouteSpec = {
      rules: [
        {
          backendRefs: [
            { name: 'legacy', port: 80, weight: 100 },
            { name: 'reviews', port: 9080, weight: 300 }
          ]
        }
      ]
    }
    const after = apply(spec, httpRouteWeightPatch(spec, '1', shapes(spec), 'blue', 10, 'green'))
    expect(after.rules?.[0]?.backendRefs).toEqual([
      { name: 'legacy', port: 80, weight: 100 },
      { name: 'reviews-green', port: 9080, weight: 270 },
      { name: 'reviews-blue', port: 9080, weight: 30 }
    ])
  })

  it('adds a weight where it was absent and changes only the colors', () => {
    const spec: HttpRouteSpec = {
      rules: [
        { name: 'ratings', backendRefs: [{ name: 'ratings', port: 80 }] },
        {
          name: 'primary',
          backendRefs: [
            { name: 'reviews-blue', port: 9080 },
            { name: 'reviews-green', port: 9080, weight: 0 }
          ]
        }
      ]
    }
    const ops = httpRouteWeightPatch(spec, '3', shapes(spec), 'green', 25, 'blue')
    expect(ops).toEqual([
      { op: 'replace', path: '/metadata/resourceVersion', value: '3' },
      { op: 'test', path: '/spec/rules/1/backendRefs/0/name', value: 'reviews-blue' },
      { op: 'add', path: '/spec/rules/1/backendRefs/0/weight', value: 75 },
      { op: 'test', path: '/spec/rules/1/backendRefs/1/name', value: 'reviews-green' },
      { op: 'replace', path: '/spec/rules/1/backendRefs/1/weight', value: 25 }
    ])
    expect(ops.some((o) => o.path.startsWith('/spec/rules/0/'))).toBe(false)
  })

  it('appends the missing candidate color beside the stable one', () => {
    const spec: HttpRouteSpec = {
      rules: [{ backendRefs: [{ name: 'reviews-green', port: 9080, weight: 5 }] }]
    }
    const after = apply(spec, httpRouteWeightPatch(spec, '1', shapes(spec), 'blue', 50, 'green'))
    expect(after.rules?.[0]?.backendRefs).toEqual([
      { name: 'reviews-green', port: 9080, weight: 50 },
      { name: 'reviews-blue', port: 9080, weight: 50 }
    ])
  })

  it('a failed name test stops a patch planned on a version whose backendRefs moved', () => {
    const spec: HttpRouteSpec = { rules: [{ backendRefs: mesh }] }
    const ops = httpRouteWeightPatch(spec, '1', shapes(spec), 'green', 0, 'blue')
    const moved: HttpRouteSpec = {
      rules: [{ backendRefs: [{ name: 'legacy', port: 80 }, ...mesh] }]
    }
    expect(() => apply(moved, ops)).toThrow('testing value /spec/rules/0/backendRefs/0/name failed')
  })

  it('refuses the same color as stable and candidate', () => {
    const spec: HttpRouteSpec = { rules: [{ backendRefs: mesh }] }
    expect(() => httpRouteWeightPatch(spec, '1', shapes(spec), 'blue', 0, 'blue')).toThrow(
      'the stable color and the candidate are both blue'
    )
  })
})
