/** Whether there is anything to undo: a rollback's weight write, and the post step's decision. */
import { type InterruptedRun, interruptedRun, weightsToUndo } from '../../src/core/undo.js'
import type { Phase } from '../../src/core/record.js'
import { rolloutRecord } from '../fixtures/record.js'

describe('weightsToUndo', () => {
  it.each([
    ['before the first step, nothing shifted', -1, { blue: 100, green: 0 }, false],
    ['a step reached (its write may have landed unrecorded)', 0, { blue: 100, green: 0 }, true],
    ['traffic on the candidate', 1, { blue: 75, green: 25 }, true],
    [
      'traffic recorded on the candidate before any step (instant switch back)',
      -1,
      { blue: 0, green: 100 },
      true
    ]
  ] as const)('%s → %s', (_, step, weights, expected) => {
    expect(weightsToUndo(rolloutRecord({ step, weights }))).toBe(expected)
  })
})

describe('interruptedRun: what the post step does', () => {
  const phases: Array<[Phase, InterruptedRun['kind']]> = [
    ['deploying', 'on-interrupt'],
    ['shifting', 'on-interrupt'],
    ['paused', 'release'],
    ['promoted', 'release'],
    ['rolled-back', 'release'],
    ['failed', 'release']
  ]
  it.each(phases)('this run holds the lock of a %s rollout → %s', (phase, kind) => {
    const record = rolloutRecord({ phase, heldBy: { id: 'run-1' } })
    expect(interruptedRun({ holder: 'run-1', record }, 'run-1')).toEqual({ kind, record })
  })
  it.each<[string, { holder?: string; heldBy?: { id: string; runUrl?: string } }, InterruptedRun]>([
    [
      'another run holds the lock',
      { holder: 'run-2', heldBy: { id: 'run-2' } },
      { kind: 'none', takenBy: { id: 'run-2' } }
    ],
    [
      'a person took it over and released it',
      { heldBy: { id: 'run-9', runUrl: 'https://x/9' } },
      { kind: 'none', takenBy: { id: 'run-9', runUrl: 'https://x/9' } }
    ],
    [
      'the lock is free and the record still ours (released)',
      { heldBy: { id: 'run-1' } },
      { kind: 'none' }
    ]
  ])('%s → nothing', (_, { holder, heldBy }, expected) => {
    const record = rolloutRecord({ phase: 'shifting', ...(heldBy ? { heldBy } : {}) })
    expect(interruptedRun({ holder, record }, 'run-1')).toEqual(expected)
  })
  it('no record → nothing', () => {
    expect(interruptedRun({ holder: 'run-1' }, 'run-1')).toEqual({ kind: 'none' })
  })
})
