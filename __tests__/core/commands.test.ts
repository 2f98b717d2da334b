import { admit, type CommandName, lockHeldMessage } from '../../src/core/commands.js'
import type { Phase } from '../../src/core/record.js'

const free = { heldByOther: false }
const held = {
  heldByOther: true,
  holder: 'acme/shop#7.1',
  runUrl: 'https://github.com/acme/shop/actions/runs/7',
  renewedAt: '2026-11-25T10:00:20.000Z',
  expiresAt: '2026-11-25T10:01:20.000Z'
}

describe('admit', () => {
  it.each<[CommandName, Phase | undefined, string]>([
    ['deploy', undefined, 'fresh'],
    ['deploy', 'promoted', 'fresh'],
    ['deploy', 'rolled-back', 'fresh'],
    ['deploy', 'shifting', 'recover'],
    ['deploy', 'deploying', 'recover'],
    ['promote', 'paused', 'continue'],
    ['resume', 'paused', 'continue'],
    ['resume', 'shifting', 'interrupted'],
    ['resume', 'deploying', 'interrupted'],
    ['rollback', 'shifting', 'continue'],
    ['rollback', 'paused', 'continue'],
    ['rollback', 'failed', 'continue'],
    ['rollback', 'promoted', 'instant'],
    ['abort', 'paused', 'continue'],
    ['abort', 'deploying', 'continue'],
    ['status', 'shifting', 'read-only'],
    ['plan', 'paused', 'read-only']
  ])('%s in phase %s proceeds (%s)', (command, phase, mode) => {
    expect(admit(command, phase, free)).toEqual({ kind: 'proceed', mode })
  })

  it.each<[CommandName, Phase | undefined, string]>([
    [
      'deploy',
      'paused',
      'a rollout is paused; promote it, or roll it back (rollback or abort), before deploying a new release'
    ],
    [
      'deploy',
      'failed',
      'the last rollout failed and could not restore traffic by itself (see status); run rollback once the cluster answers, then deploy'
    ],
    [
      'promote',
      'promoted',
      'nothing to promote: promote continues a paused rollout, and the rollout is promoted'
    ],
    [
      'promote',
      undefined,
      'nothing to promote: promote continues a paused rollout, and the rollout is not started'
    ],
    [
      'promote',
      'shifting',
      'nothing to promote: promote continues a paused rollout, and the rollout is shifting'
    ],
    [
      'resume',
      'rolled-back',
      'nothing to resume: resume continues a paused or interrupted rollout, and the rollout is rolled-back'
    ],
    [
      'rollback',
      'rolled-back',
      'nothing to roll back: the last rollout was already rolled back, and the stable color has 100%'
    ],
    ['rollback', undefined, 'nothing to roll back: no rollout is recorded for this service'],
    [
      'abort',
      'promoted',
      'nothing to abort: the last rollout was promoted; rollback switches back to the previous color'
    ],
    ['abort', 'rolled-back', 'nothing to abort: no rollout is in flight (rolled-back)']
  ])('%s in phase %s refuses', (command, phase, message) => {
    expect(admit(command, phase, free)).toEqual({ kind: 'refuse', message })
  })

  it.each<[CommandName, Phase]>([
    ['deploy', 'shifting'],
    ['deploy', 'promoted'],
    ['promote', 'paused'],
    ['resume', 'shifting'],
    ['resume', 'paused']
  ])(
    '%s in phase %s refuses while another live run holds the lock, naming it',
    (command, phase) => {
      expect(admit(command, phase, held)).toEqual({
        kind: 'refuse',
        message:
          'acme/shop#7.1 (https://github.com/acme/shop/actions/runs/7) is running a rollout of this service right now (it last renewed the lock at 2026-11-25T10:00:20.000Z; if that run died, the lock expires at 2026-11-25T10:01:20.000Z); wait for it to finish, or let this run wait with wait-for-lock (abort and rollback take the lock over at once)'
      })
    }
  )

  // A person's word wins at once: the same decision as with a free lock, live holder or not.
  it.each<[CommandName, Phase, string]>([
    ['rollback', 'shifting', 'continue'],
    ['rollback', 'deploying', 'continue'],
    ['rollback', 'paused', 'continue'],
    ['rollback', 'failed', 'continue'],
    ['rollback', 'promoted', 'instant'],
    ['abort', 'shifting', 'continue'],
    ['abort', 'deploying', 'continue']
  ])(
    '%s in phase %s proceeds while another live run holds the lock (%s)',
    (command, phase, mode) => {
      expect(admit(command, phase, held)).toEqual({ kind: 'proceed', mode })
    }
  )

  it.each<[CommandName, Phase, string]>([
    ['rollback', 'rolled-back', 'nothing to roll back'],
    ['abort', 'promoted', 'nothing to abort']
  ])('%s in phase %s still refuses what makes no sense, held or not', (command, phase, text) => {
    const answer = admit(command, phase, held)
    expect(answer.kind).toBe('refuse')
    expect(answer.kind === 'refuse' && answer.message).toContain(text)
  })

  it('names the holder without times it does not know', () => {
    expect(lockHeldMessage({ holder: 'run-1' })).toBe(
      'run-1 is running a rollout of this service right now; wait for it to finish, or let this run wait with wait-for-lock (abort and rollback take the lock over at once)'
    )
  })

  it.each<CommandName>(['status', 'plan'])(
    '%s reads even while a run holds the lock',
    (command) => {
      expect(admit(command, 'shifting', held)).toEqual({ kind: 'proceed', mode: 'read-only' })
    }
  )
})
