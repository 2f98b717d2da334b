/**
 * The two phase predicates, over every phase: in flight (traffic between colors, or about to be)
 * and running (a run drives it; found with its run gone, the rollout was interrupted); no record is neither.
 */
import { inFlight, type Phase, running } from '../../src/core/record.js'

describe('inFlight and running', () => {
  it.each<[Phase | undefined, boolean, boolean]>([
    ['deploying', true, true],
    ['shifting', true, true],
    ['paused', true, false],
    ['promoted', false, false],
    ['rolled-back', false, false],
    ['failed', false, false],
    [undefined, false, false]
  ])('%s: in flight %s, running %s', (phase, flying, driven) => {
    expect(inFlight(phase)).toBe(flying)
    expect(running(phase)).toBe(driven)
  })
})
