/**
 * What each command may do in each phase of the rollout record: a plain decision, so every
 * refusal is tested in one table and says what to do instead.
 */
import type { Phase } from './record.js'

export type CommandName = 'deploy' | 'promote' | 'resume' | 'rollback' | 'abort' | 'status' | 'plan'

export interface LockView {
  /** Whether another run holds the lock and still renews it. */
  heldByOther: boolean
  holder?: string
  runUrl?: string
}

/** What the command will do, or why it refuses. */
export type Admission =
  | {
      kind: 'proceed'
      mode: 'fresh' | 'continue' | 'interrupted' | 'recover' | 'instant' | 'read-only'
    }
  | { kind: 'refuse'; message: string }

function refuse(message: string): Admission {
  return { kind: 'refuse', message }
}

/**
 * Decide whether `command` makes sense now. `phase` is the record's (undefined: no rollout was
 * ever recorded for the service).
 */
export function admit(command: CommandName, phase: Phase | undefined, lock: LockView): Admission {
  if (command === 'status' || command === 'plan') return { kind: 'proceed', mode: 'read-only' }
  const holder = `${lock.holder ?? 'another run'}${lock.runUrl ? ` (${lock.runUrl})` : ''}`
  if (lock.heldByOther) {
    return refuse(
      `${holder} is running a rollout of this service right now; wait for it to finish (a concurrency group per service in the workflow makes runs queue instead of colliding)`
    )
  }
  switch (command) {
    case 'deploy':
      if (phase === 'paused') {
        return refuse(
          'a rollout is paused; promote it, or roll it back (rollback or abort), before deploying a new release'
        )
      }
      // Its run died: follow on-interrupt for it first, then release anew.
      if (phase === 'deploying' || phase === 'shifting') return { kind: 'proceed', mode: 'recover' }
      if (phase === 'failed') {
        return refuse(
          'the last rollout failed and could not restore traffic by itself (see status); run rollback once the cluster answers, then deploy'
        )
      }
      return { kind: 'proceed', mode: 'fresh' }
    case 'promote':
      if (phase === 'paused') return { kind: 'proceed', mode: 'continue' }
      return refuse(
        `nothing to promote: promote continues a paused rollout, and the rollout is ${phase ?? 'not started'}`
      )
    case 'resume':
      if (phase === 'paused') return { kind: 'proceed', mode: 'continue' }
      if (phase === 'deploying' || phase === 'shifting')
        return { kind: 'proceed', mode: 'interrupted' }
      return refuse(
        `nothing to resume: resume continues a paused or interrupted rollout, and the rollout is ${phase ?? 'not started'}`
      )
    case 'rollback':
      if (phase === 'promoted') return { kind: 'proceed', mode: 'instant' }
      if (
        phase === 'deploying' ||
        phase === 'shifting' ||
        phase === 'paused' ||
        phase === 'failed'
      ) {
        return { kind: 'proceed', mode: 'continue' }
      }
      return refuse(
        phase === 'rolled-back'
          ? 'nothing to roll back: the last rollout was already rolled back, and the stable color has 100%'
          : 'nothing to roll back: no rollout is recorded for this service'
      )
    case 'abort':
      if (
        phase === 'deploying' ||
        phase === 'shifting' ||
        phase === 'paused' ||
        phase === 'failed'
      ) {
        return { kind: 'proceed', mode: 'continue' }
      }
      return refuse(
        phase === 'promoted'
          ? 'nothing to abort: the last rollout was promoted; rollback switches back to the previous color'
          : `nothing to abort: no rollout is in flight (${phase ?? 'none recorded'})`
      )
  }
}
