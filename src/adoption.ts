/**
 * Retiring the Deployment a first release adopted: reads what the decision needs, scales the
 * original to 0 when src/core/adoption.ts says so, and records it. Safe to run again, by any
 * run (a crash between the scale and the record leaves it at 0, which the next run records).
 */
import { deploymentName } from './core/color.js'
import { retireDecision } from './core/adoption.js'
import type { RolloutRecord } from './core/record.js'
import { type DeploymentObject, readiness } from './core/workload.js'
import { LockHeldError } from './adapters/lease.js'
import { DEPLOYMENTS, type RecordStore, type TrafficRouter, type WorkloadApi } from './ports.js'
import type { Clock, Log } from './log.js'

export interface RetireDeps {
  kube: WorkloadApi
  router: TrafficRouter
  records: RecordStore
  log: Log
  clock: Clock
}

/** The record with the original scaled to 0 and noted, when its release has ended. */
export async function retireAdopted(d: RetireDeps, ended: RolloutRecord): Promise<RolloutRecord> {
  if (!ended.adopted || ended.adopted.scaledDownAt !== undefined) return ended
  // The rollout has ended and released its lock: take it again for this last write, so that it
  // is guarded like every other and never lands on a rollout another run has started since.
  let record: RolloutRecord
  try {
    record = (await d.records.acquire((found) => found ?? ended)).record
  } catch (error) {
    if (!(error instanceof LockHeldError)) throw error
    d.log.info(
      `${ended.adopted.deployment} keeps its replicas for now: another run holds the lock of ${ended.service}`
    )
    return ended
  }
  const adopted = record.adopted
  if (record.id !== ended.id || !adopted || adopted.scaledDownAt !== undefined) {
    await d.records.save(record, { release: true })
    return record
  }
  const { namespace, service } = record
  const serving = record.phase === 'promoted' ? record.candidate.color : record.stable.color
  const [original, servingDeployment, objects] = await Promise.all([
    d.kube.get(DEPLOYMENTS, namespace, adopted.deployment),
    d.kube.get(DEPLOYMENTS, namespace, deploymentName(service, serving)),
    d.router.read(serving)
  ])
  const decision = retireDecision({
    phase: record.phase,
    adopted,
    originalReplicas: original ? ((original as DeploymentObject).spec?.replicas ?? 1) : undefined,
    // An object whose routes cannot be read counts as bare: the original may still serve it.
    routesBare: objects.some((o) => o.found && ('error' in o.routes || o.bare)),
    servingReady: servingDeployment ? readiness(servingDeployment as DeploymentObject).ready : false
  })
  if (decision.kind === 'none' || decision.kind === 'wait') {
    if (decision.kind === 'wait') {
      d.log.info(`Deployment ${adopted.deployment} keeps its replicas for now: ${decision.reason}`)
    }
    await d.records.save(record, { release: true })
    return record
  }
  const copy = deploymentName(service, 'blue')
  if (decision.kind === 'scale-down') {
    await d.kube.patch(DEPLOYMENTS, namespace, decision.deployment, { spec: { replicas: 0 } })
    d.log.info(
      `scaled Deployment ${decision.deployment} to 0 (from ${decision.replicas}): it was adopted as ${copy}, which now serves the service; it is kept, not deleted — delete it when you no longer need it`
    )
  } else {
    d.log.info(`Deployment ${decision.deployment}, adopted as ${copy}: ${decision.note}`)
  }
  const retired: RolloutRecord = {
    ...record,
    adopted: { ...adopted, scaledDownAt: new Date(d.clock.now()).toISOString() }
  }
  try {
    await d.records.save(retired, { release: true })
  } catch (error) {
    d.log.warning(
      `scaled ${decision.deployment} to 0 but could not note it in the rollout record: ${(error as Error).message}`
    )
  }
  return retired
}
