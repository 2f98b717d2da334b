import { describeDrift, lastOtherWriter } from '../../src/core/drift.js'

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
