/**
 * Whether there is anything to undo: what a rollback must write, and what the post step does with
 * the rollout it finds after its main step died. Plain functions of the record and the lock.
 */
import { type RolloutRecord, running } from './record.js'

/**
 * Whether a rollback must write the weights back: the candidate may have traffic, because the
 * record gives it some, or a step was reached (its write may have landed without being recorded,
 * on some of the router's objects or all). Before the first step only the route adoption wrote,
 * and that left the stable color at 100%.
 */
export function weightsToUndo(
  record: Pick<RolloutRecord, 'weights' | 'step' | 'candidate'>
): boolean {
  return record.weights[record.candidate.color] > 0 || record.step >= 0
}

/** What the post step does with the rollout it finds. */
export type InterruptedRun =
  /** Not this run's (another run holds the lock, or took it over), or no rollout at all. */
  | { kind: 'none'; takenBy?: { id: string; runUrl?: string } }
  /** This run's lock, but nothing mid-way (paused or ended): only the lock to release. */
  | { kind: 'release'; record: RolloutRecord }
  /** This run's rollout, stopped while it ran (deploying, shifting): follow on-interrupt. */
  | { kind: 'on-interrupt'; record: RolloutRecord }

/** The post step's decision, from the lock's holder and the record, for the run `runId`. */
export function interruptedRun(
  found: { holder?: string; record?: RolloutRecord },
  runId: string
): InterruptedRun {
  const { holder, record } = found
  if (holder !== runId || !record) {
    const heldBy = record?.heldBy
    return heldBy && heldBy.id !== runId ? { kind: 'none', takenBy: heldBy } : { kind: 'none' }
  }
  return running(record.phase) ? { kind: 'on-interrupt', record } : { kind: 'release', record }
}
