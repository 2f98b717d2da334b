/**
 * What each command may do in each phase of the rollout record: a plain decision, so every
 * refusal is tested in one table and says what to do instead.
 */
import { inFlight, type Phase, running } from './record.js'

/** Every command the action knows, in the order the README lists them. */
export const COMMANDS = [
  'deploy',
  'promote',
  'resume',
  'rollback',
  'abort',
  'status',
  'plan'
] as const
export type CommandName = (typeof COMMANDS)[number]

export interface LockView {
  /** Whether another run holds the lock and still renews it. */
  heldByOther: boolean
  holder?: string
  runUrl?: string
  /** When the holder last renewed the lock (ISO time). */
  renewedAt?: string
  /** When the lock stops counting as held if its holder died (ISO time). */
  expiresAt?: string
}

/** Commands a person gives to stop a rollout: they take the lock over from any holder at once. */
export const OVERRIDING: readonly CommandName[] = ['rollback', 'abort']

/**
 * Why a command that waits its turn cannot run now: who holds the lock, when it renewed it last,
 * when the lock expires if its run died, and how to wait or to stop it.
 */
export function lockHeldMessage(lock: Omit<LockView, 'heldByOther'>): string {
  const holder = `${lock.holder ?? 'another run'}${lock.runUrl ? ` (${lock.runUrl})` : ''}`
  const when = [
    lock.renewedAt ? `it last renewed the lock at ${lock.renewedAt}` : '',
    lock.expiresAt ? `if that run died, the lock expires at ${lock.expiresAt}` : ''
  ]
    .filter(Boolean)
    .join('; ')
  return `${holder} is running a rollout of this service right now${when ? ` (${when})` : ''}; wait for it to finish, or let this run wait with wait-for-lock (abort and rollback take the lock over at once)`
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
 * Decide whether `command` makes sense now; `rollback` and `abort` proceed whoever holds the lock. `phase` is the record's (undefined: no rollout was
 * ever recorded for the service).
 */
export function admit(command: CommandName, phase: Phase | undefined, lock: LockView): Admission {
  if (command === 'status' || command === 'plan') return { kind: 'proceed', mode: 'read-only' }
  // A person's rollback or abort wins at once, live holder or not: it takes the lock over.
  if (lock.heldByOther && !OVERRIDING.includes(command)) return refuse(lockHeldMessage(lock))
  switch (command) {
    case 'deploy':
      if (phase === 'paused') {
        return refuse(
          'a rollout is paused; promote it, or roll it back (rollback or abort), before deploying a new release'
        )
      }
      // Its run died: follow on-interrupt for it first, then release anew.
      if (running(phase)) return { kind: 'proceed', mode: 'recover' }
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
      if (running(phase)) return { kind: 'proceed', mode: 'interrupted' }
      return refuse(
        `nothing to resume: resume continues a paused or interrupted rollout, and the rollout is ${phase ?? 'not started'}`
      )
    case 'rollback':
      if (phase === 'promoted') return { kind: 'proceed', mode: 'instant' }
      if (inFlight(phase) || phase === 'failed') {
        return { kind: 'proceed', mode: 'continue' }
      }
      return refuse(
        phase === 'rolled-back'
          ? 'nothing to roll back: the last rollout was already rolled back, and the stable color has 100%'
          : 'nothing to roll back: no rollout is recorded for this service'
      )
    case 'abort':
      if (inFlight(phase) || phase === 'failed') {
        return { kind: 'proceed', mode: 'continue' }
      }
      return refuse(
        phase === 'promoted'
          ? 'nothing to abort: the last rollout was promoted; rollback switches back to the previous color'
          : `nothing to abort: no rollout is in flight (${phase ?? 'none recorded'})`
      )
  }
}
