/**
 * The post step (`post-if: always()`): when the main step did not finish (the job was cancelled,
 * the step timed out, the process was killed), bring traffic to a safe state according to
 * on-interrupt and release the lock. When the main step finished, it does nothing.
 */
import * as core from '@actions/core'
import { readSettings } from './inputs.js'
import { maskInputSecrets, maskKubeconfigSecrets } from './secrets.js'
import { Kube, loadKubeConfig } from './adapters/kube.js'
import { LeaseStore, LockLostError } from './adapters/lease.js'
import { IstioTraffic } from './adapters/istio.js'
import { Rollout } from './rollout.js'
import { formatWeights } from './core/color.js'
import { running } from './core/record.js'
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
    const kubeConfig = loadKubeConfig(settings)
    maskKubeconfigSecrets(kubeConfig)
    const kube = new Kube(kubeConfig)
    const namespace = settings.namespace ?? kube.contextNamespace() ?? 'default'
    const leases = new LeaseStore(
      kube,
      namespace,
      settings.service,
      runId,
      settings.leaseDurationMs / 1000
    )
    const { record, holder } = await leases.read()
    // Another run holds the lock, or a person's rollback or abort took the rollout over: it is
    // not this run's to roll back or pause.
    if (holder !== runId || !record) {
      if (record?.heldBy && record.heldBy.id !== runId) {
        core.info(
          `the rollout is ${record.heldBy.id}'s now${record.heldBy.runUrl ? ` (${record.heldBy.runUrl})` : ''}: nothing to clean up`
        )
      }
      return
    }
    // Only a running rollout was interrupted; a paused or ended one stays as it is.
    if (!running(record.phase)) {
      await leases.save(record, { release: true })
      return
    }
    core.warning(
      `the main step did not finish while the rollout was ${record.phase} with ${formatWeights(record.weights)}; on-interrupt: ${settings.onInterrupt}`
    )
    const traffic = new IstioTraffic(
      kube,
      { name: record.service, namespace },
      record.config.virtualService,
      record.config.destinationRule,
      record.config.istioVersion,
      record.config.routes
    )
    const rollout = new Rollout({ kube, leases, traffic, log, clock: systemClock }, record)
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
