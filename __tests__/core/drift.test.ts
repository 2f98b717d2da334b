import { checkDrift, describeDrift, lastOtherWriter } from '../../src/core/drift.js'

describe('lastOtherWriter', () => {
  it.each([
    [undefined, undefined],
    [
      [{ manager: 'istio-bluegreen', operation: 'Update', time: '2026-11-25T10:00:00Z' }],
      undefined
    ],
    [
      [
        { manager: 'argocd-controller', operation: 'Apply', time: '2026-11-25T09:00:00Z' },
        { manager: 'kubectl-edit', operation: 'Update', time: '2026-11-25T10:05:00Z' },
        { manager: 'istio-bluegreen', operation: 'Update', time: '2026-11-25T10:06:00Z' }
      ],
      'kubectl-edit (Update at 2026-11-25T10:05:00Z)'
    ]
  ])('%j → %s', (entries, expected) => {
    expect(lastOtherWriter(entries)).toBe(expected)
  })
})

describe('describeDrift', () => {
  it('is silent while every route has the expected weights', () => {
    expect(
      describeDrift(
        'VirtualService reviews',
        [
          { blue: 75, green: 25 },
          { blue: 75, green: 25 }
        ],
        { blue: 75, green: 25 },
        undefined
      )
    ).toBeUndefined()
  })
  it('says what changed and who changed it', () => {
    expect(
      describeDrift(
        'VirtualService reviews',
        [
          { blue: 75, green: 25 },
          { blue: 100, green: 0 }
        ],
        { blue: 75, green: 25 },
        'kubectl-edit (Update at 2026-11-25T10:05:00Z)'
      )
    ).toBe(
      'the weights of VirtualService reviews are blue=100,green=0, not blue=75,green=25 as this rollout last wrote them; last changed by kubectl-edit (Update at 2026-11-25T10:05:00Z)'
    )
  })
  it('says when the managed fields do not tell', () => {
    expect(
      describeDrift('reviews', [{ blue: 50, green: 50 }], { blue: 90, green: 10 }, undefined)
    ).toContain('the managed fields do not say who changed them')
  })
})

describe('checkDrift: the "one write ahead" rule, object by object', () => {
  type State = Parameters<typeof checkDrift>[0][number]
  const at = (object: string, blue: number, writer?: string): State => ({
    object,
    what: `VirtualService ${object}`,
    found: true,
    resourceVersion: `${object}-rv`,
    routes: [
      { name: 'primary', weights: { blue, green: 100 - blue } },
      { name: 'mobile', weights: { blue, green: 100 - blue } }
    ],
    bare: false,
    testRoute: false,
    ...(writer ? { writer } : {})
  })
  const recorded = { blue: 90, green: 10 }
  const planned = { blue: 75, green: 25 }
  it.each<[string, State[], typeof planned | undefined, ReturnType<typeof checkDrift>]>([
    ['one object in step', [at('reviews', 90)], planned, { kind: 'in-step' }],
    ['two objects in step', [at('reviews', 90), at('edge', 90)], planned, { kind: 'in-step' }],
    [
      'every object one write ahead: recorded as the step',
      [at('reviews', 75), at('edge', 75)],
      planned,
      { kind: 'ahead', weights: planned, versions: { reviews: 'reviews-rv', edge: 'edge-rv' } }
    ],
    [
      'a write cut short between two objects',
      [at('reviews', 75), at('edge', 90)],
      planned,
      { kind: 'part-ahead', objects: ['reviews'] }
    ],
    [
      'ahead before any step is drift (nothing was planned)',
      [at('reviews', 75)],
      undefined,
      {
        kind: 'drift',
        message:
          'the weights of VirtualService reviews are blue=75,green=25, not blue=90,green=10 as this rollout last wrote them; the managed fields do not say who changed them'
      }
    ],
    [
      'one object changed by someone else, the other in step',
      [at('reviews', 90), at('edge', 40, 'kubectl-edit (Update at t)')],
      planned,
      {
        kind: 'drift',
        message:
          'the weights of VirtualService edge are blue=40,green=60, not blue=90,green=10 as this rollout last wrote them; last changed by kubectl-edit (Update at t)'
      }
    ],
    [
      'one object ahead, the other drifted: drift wins',
      [at('reviews', 75), at('edge', 40)],
      planned,
      {
        kind: 'drift',
        message:
          'the weights of VirtualService edge are blue=40,green=60, not blue=90,green=10 as this rollout last wrote them; the managed fields do not say who changed them'
      }
    ],
    [
      'a deleted object and an unreadable one, both named',
      [
        { object: 'reviews', what: 'VirtualService reviews', found: false },
        {
          ...(at('edge', 90) as State & { found: true }),
          routes: { error: 'VirtualService edge: no HTTP route named "primary"' },
          writer: 'argocd (Apply at t)'
        }
      ],
      planned,
      {
        kind: 'drift',
        message:
          'VirtualService reviews was deleted; VirtualService edge: no HTTP route named "primary" (changed by argocd (Apply at t))'
      }
    ]
  ])('%s', (_, objects, plan, expected) => {
    expect(checkDrift(objects, recorded, plan)).toEqual(expected)
  })

  it('a route of one object off the others is drift, not ahead', () => {
    const mixed = at('reviews', 75) as State & { found: true }
    const routes = [
      { name: 'primary', weights: { blue: 75, green: 25 } },
      { name: 'mobile', weights: { blue: 90, green: 10 } }
    ]
    expect(checkDrift([{ ...mixed, routes }], recorded, planned).kind).toBe('drift')
  })
})
