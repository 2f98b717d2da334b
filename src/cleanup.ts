/**
 * The post step (`post-if: always()`): when the main step did not finish (the job was cancelled,
 * the step timed out, the process was killed), bring traffic to a safe state according to
 * on-interrupt and release the lock. When the main step finished, it does nothing.
 */
import * as core from '@actions/core'
import { readSettings } from './inputs.js'
import { maskInputSecrets } from './secrets.js'
import { LockLostError } from './adapters/lease.js'
import { connect, routerFor } from './adapters/factory.js'
import { Rollout } from './rollout.js'
import { formatWeights } from './core/color.js'
import { interruptedRun } from './core/undo.js'
import { systemClock, type Log } from './log.js'
import { STATE } from './state.js'

export { STATE } from './state.js'

const log: Log = {
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  group: (name, fn) => core.group(name, fn)
}

export async function cleanup(): Promise<void> {
  try {
    if (core.getState(STATE.finished) === 'true') return
    const runId = core.getState(STATE.runId)
    // The main step stopped before it could say who it was: it never took the lock.
    if (!runId) return
    const read = (name: string): string => core.getInput(name)
    maskInputSecrets(read)
    const settings = readSettings(read)
    const { kube, namespace, records } = connect(settings, runId)
    const found = interruptedRun(await records.read(), runId)
    // Another run holds the lock, or a person's rollback or abort took the rollout over: it is
    // not this run's to roll back or pause.
    if (found.kind === 'none') {
      if (found.takenBy) {
        core.info(
          `the rollout is ${found.takenBy.id}'s now${found.takenBy.runUrl ? ` (${found.takenBy.runUrl})` : ''}: nothing to clean up`
        )
      }
      return
    }
    const { record } = found
    if (found.kind === 'release') {
      await records.save(record, { release: true })
      return
    }
    core.warning(
      `the main step did not finish while the rollout was ${record.phase} with ${formatWeights(record.weights)}; on-interrupt: ${settings.onInterrupt}`
    )
    // The router the record names, not the one today's inputs would build.
    const router = routerFor(kube, { name: record.service, namespace }, record.config.router)
    const rollout = new Rollout({ kube, records, router, log, clock: systemClock }, record)
    if (settings.onInterrupt === 'pause') {
      await rollout.pauseAsFound('the job stopped mid-rollout; paused by on-interrupt: pause')
      core.warning(`paused with ${formatWeights(rollout.record.weights)}: run promote or rollback`)
      return
    }
    const outcome = await rollout.guard(() =>
      rollout.rollback(
        'the job stopped mid-rollout (cancelled, timed out or killed); on-interrupt: rollback'
      )
    )
    core.warning(`rolled back: ${formatWeights(outcome.record.weights)}`)
  } catch (error) {
    // Taken over while cleaning up: the run that took it over brings traffic back, not this one.
    if (error instanceof LockLostError) {
      core.warning(error.message)
      return
    }
    core.setFailed(
      `cleanup after an interrupted run failed: ${error instanceof Error ? error.message : String(error)}`
    )
  }
}
