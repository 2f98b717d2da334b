import { type RetireInput, retireDecision } from '../../src/core/adoption.js'

const ended: RetireInput = {
  phase: 'promoted',
  adopted: { deployment: 'reviews' },
  originalReplicas: 2,
  routesBare: false,
  servingReady: true
}

describe('retireDecision: scale the adopted original to 0 once its first release has ended', () => {
  it.each<[string, Partial<RetireInput>, ReturnType<typeof retireDecision>]>([
    ['promoted: scale it down', {}, { kind: 'scale-down', deployment: 'reviews', replicas: 2 }],
    [
      'rolled back: scale it down too (the adopted copy serves)',
      { phase: 'rolled-back' },
      { kind: 'scale-down', deployment: 'reviews', replicas: 2 }
    ],
    ['nothing adopted', { adopted: undefined }, { kind: 'none' }],
    [
      'already retired: never touched again (a person may have scaled it back up)',
      { adopted: { deployment: 'reviews', scaledDownAt: '2026-11-25T10:00:00.000Z' } },
      { kind: 'none' }
    ],
    ...(['deploying', 'shifting', 'paused'] as const).map(
      (phase): [string, Partial<RetireInput>, ReturnType<typeof retireDecision>] => [
        `${phase}: wait (a later promote or rollback retires it)`,
        { phase },
        { kind: 'wait', reason: `the release through it is ${phase}` }
      ]
    ),
    [
      'failed: wait, a person must first bring traffic to a safe state',
      { phase: 'failed' },
      { kind: 'wait', reason: 'the release through it is failed' }
    ],
    [
      'rolled back before routes named subsets: the original still serves, keep it',
      { phase: 'rolled-back', routesBare: true },
      {
        kind: 'wait',
        reason: 'a route still sends to the Service without a color subset, so its pods still serve'
      }
    ],
    [
      'the serving color is not available: keep it',
      { servingReady: false },
      { kind: 'wait', reason: 'the color that takes the traffic is not available' }
    ],
    [
      'already at 0 (a run crashed after scaling it): only record it',
      { originalReplicas: 0 },
      { kind: 'record', deployment: 'reviews', note: 'it is already at 0 replicas' }
    ],
    [
      'deleted by a person: only record it',
      { originalReplicas: undefined },
      { kind: 'record', deployment: 'reviews', note: 'it no longer exists' }
    ]
  ])('%s', (_name, change, expected) => {
    expect(retireDecision({ ...ended, ...change })).toEqual(expected)
  })
})
