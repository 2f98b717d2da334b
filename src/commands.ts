/**
 * The action's commands. Each reads the rollout record, asks the core whether it makes sense in
 * the current phase, then drives the rollout engine. None reads inputs: they get the settings.
 */
import {
  type Color,
  COLORS,
  deploymentName,
  formatWeights,
  otherColor,
  weightsFor
} from './core/color.js'
import { admit, type CommandName, type LockView } from './core/commands.js'
import { formatDuration } from './core/duration.js'
import {
  type Owner,
  pickRolloutSettings,
  RECORD_SCHEMA,
  type RolloutConfig,
  type RolloutRecord,
  type RouterConfig
} from './core/record.js'
import { type DeploymentObject, readiness } from './core/workload.js'
import { holderRunUrl, LockHeldError } from './adapters/lease.js'
import { routerConfigFrom, routerFor } from './adapters/factory.js'
import {
  DEPLOYMENTS,
  type KubeApi,
  type MetricsSource,
  type RecordState,
  type RecordStore,
  type TrafficRouter
} from './ports.js'
import {
  type AnalysisPlan,
  checkPermissions,
  preflight,
  PreflightError,
  type Plan
} from './preflight.js'
import { estimateDecisions, stepEstimates } from './core/estimate.js'
import { judged, placeholders, queriesFor } from './core/metrics.js'
import { inFlight, judgeSettingsOf, metricSpecsOf } from './core/record.js'
import {
  estimateLines,
  estimateWarning,
  planText,
  routerWeightsText,
  statusText
} from './report.js'
import { promRange } from './core/duration.js'
import { describeAnalysis, type ReadyWait, type RolloutEnd, Rollout } from './rollout.js'
import { retireAdopted } from './adoption.js'
import type { Settings } from './inputs.js'
import type { Clock, Log } from './log.js'

/** Hooks for reporting a rollout outside the cluster (GitHub status and deployment). */
export interface Notifier {
  /** A rollout starts or continues; may add GitHub ids to the record. */
  started(record: RolloutRecord, previous?: RolloutRecord): Promise<RolloutRecord>
  finished(outcome: RolloutEnd): Promise<void>
  /** The run stopped on an error after a rollout started. */
  failed(message: string): Promise<void>
}

export const silentNotifier: Notifier = {
  started: async (record) => record,
  finished: async () => undefined,
  failed: async () => undefined
}

export interface CommandDeps {
  settings: Readonly<Settings>
  kube: KubeApi
  namespace: string
  owner: Owner
  runId: string
  records: RecordStore
  /** The metrics source at a Prometheus base URL, reached with this run's transport inputs. */
  metricsAt: (url: string) => MetricsSource
  log: Log
  clock: Clock
  notifier: Notifier
}

/** What a command ends with: the outcome of a rollout, or a read-only answer. */
export type CommandResult =
  | { kind: 'rollout'; outcome: RolloutEnd }
  | { kind: 'status'; record?: RolloutRecord; phase: string; weights?: string; text: string }
  | { kind: 'plan'; text: string; stable: Color; candidate: Color }

/** A command that makes no sense now; nothing was changed. */
export class RefusedError extends Error {
  constructor(command: CommandName, message: string) {
    super(`${command} refused: ${message}`)
    this.name = 'RefusedError'
  }
}

/** Refused only because another live run holds the lock: worth waiting for (wait-for-lock). */
export class LockBusyError extends RefusedError {
  constructor(command: CommandName, message: string) {
    super(command, message)
    this.name = 'LockBusyError'
  }
}

function lockView(state: RecordState, identity: string): LockView {
  return {
    heldByOther: state.holder !== undefined && !state.expired && state.holder !== identity,
    holder: state.holder,
    runUrl: holderRunUrl(state),
    renewedAt: state.renewedAt,
    expiresAt: state.expiresAt
  }
}

/** The config of a new rollout: its settings picked from the run's, its router, its analysis. */
function configFrom(
  s: Readonly<Settings>,
  router: RouterConfig,
  analysis: AnalysisPlan
): RolloutConfig {
  return {
    ...pickRolloutSettings(s),
    router,
    prometheusUrl: s.prometheusUrl ?? '',
    metrics: analysis.specs,
    buckets: analysis.buckets
  }
}

/** The router a rollout's config names (a continued rollout: the record's, not the inputs'). */
function routerOf(d: CommandDeps, config: RolloutConfig): TrafficRouter {
  return routerFor(
    d.kube,
    { name: d.settings.service, namespace: d.namespace },
    config.router,
    d.clock
  )
}

/** Read the record and the lock, and refuse what makes no sense in the current phase. */
async function admitted(
  d: CommandDeps,
  command: CommandName
): Promise<{ state: RecordState; mode: string }> {
  const state = await d.records.read()
  const lock = lockView(state, d.records.identity)
  const admission = admit(command, state.record?.phase, lock)
  if (admission.kind === 'refuse') {
    throw lock.heldByOther
      ? new LockBusyError(command, admission.message)
      : new RefusedError(command, admission.message)
  }
  return { state, mode: admission.mode }
}

function engine(d: CommandDeps, record: RolloutRecord, options: { fence?: boolean } = {}): Rollout {
  return new Rollout(
    {
      kube: d.kube,
      metrics: metricsOf(d, record),
      records: d.records,
      router: routerOf(d, record.config),
      log: d.log,
      clock: d.clock,
      ...(options.fence ? { fence: d.runId } : {})
    },
    record
  )
}

/** A rollout's metrics: this run's prometheus-url, else the record's; none without either. */
function metricsOf(d: CommandDeps, record: RolloutRecord): MetricsSource | undefined {
  const url = d.settings.prometheusUrl ?? record.config.prometheusUrl
  return url ? d.metricsAt(url) : undefined
}

async function finish(d: CommandDeps, ended: RolloutEnd): Promise<CommandResult> {
  const outcome = { ...ended, record: await retire(d, ended.record) }
  await d.notifier.finished(outcome)
  return { kind: 'rollout', outcome }
}

/** Scale down the Deployment a first release adopted, once that release has ended. */
function retire(d: CommandDeps, record: RolloutRecord): Promise<RolloutRecord> {
  const { kube, records, log, clock } = d
  return retireAdopted({ kube, records, log, clock, router: routerOf(d, record.config) }, record)
}

/** Take the lock for a record another run wrote, as this run. */
async function takeOver(d: CommandDeps, record: RolloutRecord): Promise<RolloutRecord> {
  const mine: RolloutRecord = {
    ...record,
    id: d.runId,
    heldBy: { id: d.runId, runUrl: d.owner.runUrl },
    heartbeatAt: new Date(d.clock.now()).toISOString()
  }
  const { tookOverFrom } = await d.records.acquire(mine)
  if (tookOverFrom) {
    d.log.warning(`took over the rollout lock from ${tookOverFrom}, which stopped renewing it`)
  }
  return mine
}

/** Warn when the configured steps cannot reach a decision at the stable's current traffic. */
function warnIfUndecidable(d: CommandDeps, record: RolloutRecord, analysis: AnalysisPlan): void {
  const judge = judgeSettingsOf(record.config)
  const estimate = estimateDecisions(
    judged(analysis.specs),
    judge,
    {
      steps: record.steps,
      stepDurationMs: record.config.stepDurationMs,
      maxExtensions: record.config.maxInconclusive,
      checkIntervalMs: record.config.checkIntervalMs
    },
    analysis.traffic
  )
  const warning = estimateWarning(estimate, judge, analysis.traffic)
  if (warning) d.log.warning(warning)
  else d.log.info(estimateLines(estimate, [], judge, analysis.traffic).join('\n'))
}

/** `deploy`: a new release into the candidate color. */
export async function deploy(d: CommandDeps): Promise<CommandResult> {
  const { settings, log } = d
  const { state, mode } = await admitted(d, 'deploy')
  if (mode === 'recover') await recover(d, state.record as RolloutRecord)
  // A run that ended the last release may have died before retiring what it adopted.
  else if (state.record) await retire(d, state.record)
  const plan = await log.group('Preflight', async () => {
    const p = await preflight({ ...d, metrics: d.metricsAt(settings.prometheusUrl ?? '') })
    log.info(
      `stable ${p.stable} (${p.stableImage ?? '?'}) → candidate ${p.candidate} (${p.candidateImage ?? '?'})`
    )
    return p
  })
  const now = new Date(d.clock.now()).toISOString()
  const record: RolloutRecord = {
    schema: RECORD_SCHEMA,
    id: d.runId,
    phase: 'deploying',
    service: settings.service,
    namespace: d.namespace,
    stable: { color: plan.stable, image: plan.stableImage },
    candidate: { color: plan.candidate, image: plan.candidateImage },
    steps: [...settings.steps],
    config: configFrom(settings, plan.routerConfig, plan.analysis),
    step: -1,
    weights: weightsFor(plan.candidate, 0),
    startedAt: now,
    heartbeatAt: now,
    owner: d.owner,
    heldBy: { id: d.runId, runUrl: d.owner.runUrl },
    checks: [],
    ...(plan.adoptFrom ? { adopted: { deployment: plan.adoptFrom.metadata.name } } : {})
  }
  log.info(describeAnalysis(record))
  warnIfUndecidable(d, record, plan.analysis)
  const { previous, tookOverFrom } = await d.records.acquire(record)
  if (tookOverFrom) {
    log.warning(`took over the rollout lock from ${tookOverFrom}, which stopped renewing it`)
  }
  const notified = await d.notifier.started(record, previous)
  const rollout = engine(d, notified)
  // What the notifier added (GitHub ids) goes to the record now; the lock was just taken.
  if (notified !== record) await rollout.save({})
  const replicas = Math.max(1, plan.stableDeployment.spec?.replicas ?? 1)
  const outcome = await rollout.guard(async () => {
    if (plan.adoptFrom) {
      const from = plan.adoptFrom
      await log.group(
        `Adopt ${from.metadata.name} as ${deploymentName(settings.service, 'blue')}`,
        async () => {
          const ok = await rollout.applyDeployment('blue', from, undefined, {
            replicas,
            container: settings.container
          })
          if (!ok.ready)
            throw new Error(`the copy of ${from.metadata.name} is not ready: ${ok.reason}`)
        }
      )
    }
    const ready = await log.group(
      `Deploy ${deploymentName(settings.service, plan.candidate)}`,
      () =>
        rollout.applyDeployment(plan.candidate, plan.template, settings.image, {
          replicas,
          container: settings.container
        })
    )
    if (!ready.ready) return rollout.rollback(`candidate ${ready.reason}`)
    await log.group('Prepare routing', () => rollout.prepareRouting(plan.adoptRoutes))
    return rollout.shift(0)
  })
  return finish(d, outcome)
}

/**
 * A deploy found a rollout whose run died mid-way: follow on-interrupt for it before releasing
 * anew. With `rollback` it puts the stable color back and returns; with `pause` it records the
 * rollout as paused, where a person decides, and refuses the new release.
 */
async function recover(d: CommandDeps, found: RolloutRecord): Promise<void> {
  const where = `phase ${found.phase}, step ${found.step + 1}/${found.steps.length}, weights ${formatWeights(found.weights)}, started by ${found.owner.runUrl ?? found.id}`
  d.log.warning(
    `found a rollout whose run stopped renewing its lock (${where}); on-interrupt: ${d.settings.onInterrupt}`
  )
  const record = await takeOver(d, found)
  const rollout = engine(d, record)
  if (d.settings.onInterrupt === 'rollback') {
    await rollout.guard(() =>
      rollout.rollback(`interrupted rollout rolled back before a new release (${where})`)
    )
    await retire(d, rollout.record)
    return
  }
  await rollout.pauseAsFound(`interrupted (${where}); paused by on-interrupt: pause`)
  throw new RefusedError(
    'deploy',
    `the interrupted rollout is now paused with ${formatWeights(rollout.record.weights)} (on-interrupt: pause); promote or roll it back, then deploy`
  )
}

/** `promote`: continue a paused rollout through its remaining steps (or straight to 100%). */
export async function promote(d: CommandDeps): Promise<CommandResult> {
  const { state } = await admitted(d, 'promote')
  const paused = state.record as RolloutRecord
  await checkAccess(d, paused)
  if (!d.settings.skipAnalysis) await checkPrometheus(d, paused)
  let record = await takeOver(d, { ...paused, config: { ...paused.config, pauseAt: undefined } })
  record = await d.notifier.started(record)
  const rollout = engine(d, record)
  d.log.info(
    `promoting ${paused.candidate.color} (${paused.candidate.image ?? '?'}) from ${paused.weights[paused.candidate.color]}%` +
      (d.settings.skipAnalysis ? ' straight to 100% (skip-analysis)' : '')
  )
  const outcome = await rollout.guard(() =>
    d.settings.skipAnalysis ? rollout.skipToPromotion() : rollout.shift(paused.step + 1)
  )
  return finish(d, outcome)
}

/** `resume`: continue a paused or interrupted rollout from the step it reached. */
export async function resume(d: CommandDeps): Promise<CommandResult> {
  const { state, mode } = await admitted(d, 'resume')
  const found = state.record as RolloutRecord
  const pauseAt = d.settings.pauseAt
  if (pauseAt === 0 && found.config.testHeader === undefined) {
    throw new RefusedError(
      'resume',
      'pause-at 0 pauses before the first step so that tests can reach the candidate through the test route, and this rollout was started without "test-header"; pause at one of its steps, or leave pause-at empty'
    )
  }
  await checkAccess(d, found)
  await checkPrometheus(d, found)
  let record = await takeOver(d, { ...found, config: { ...found.config, pauseAt } })
  record = await d.notifier.started(record)
  const rollout = engine(d, record)
  const from = Math.max(0, found.step)
  d.log.info(
    mode === 'interrupted'
      ? `resuming a rollout interrupted in phase ${found.phase} (step ${from + 1}/${found.steps.length}, last weights ${formatWeights(found.weights)})`
      : `resuming the paused rollout at ${found.steps[from]}%`
  )
  const outcome = await rollout.guard(async () => {
    // Stopped before the first weight was written: the candidate may be missing or not ready,
    // and the subsets may not be there yet. Redo those steps; each is a no-op when done.
    if (found.step < 0) {
      const ready = await d.log.group(
        `Deploy ${deploymentName(found.service, found.candidate.color)}`,
        () => ensureCandidate(d, rollout, found)
      )
      if (!ready.ready) return rollout.rollback(`candidate ${ready.reason}`)
      const objects = await routerOf(d, found.config).read(found.stable.color)
      const adopt = objects.some((o) => o.found && o.bare)
      await d.log.group('Prepare routing', () => rollout.prepareRouting(adopt))
    }
    return rollout.shift(from)
  })
  return finish(d, outcome)
}

/**
 * The candidate Deployment of a record, ready: waited for when it exists, else made again from
 * the stable Deployment with the recorded image (the run died before it created it).
 */
async function ensureCandidate(
  d: CommandDeps,
  rollout: Rollout,
  record: RolloutRecord
): Promise<ReadyWait> {
  const existing = await d.kube.get(
    DEPLOYMENTS,
    d.namespace,
    deploymentName(record.service, record.candidate.color)
  )
  if (existing) return rollout.waitReady(record.candidate.color)
  const stable = (await d.kube.get(
    DEPLOYMENTS,
    d.namespace,
    deploymentName(record.service, record.stable.color)
  )) as DeploymentObject | undefined
  if (!stable) {
    return {
      ready: false,
      reason: `neither it nor ${deploymentName(record.service, record.stable.color)} exists`
    }
  }
  return rollout.applyDeployment(record.candidate.color, stable, record.candidate.image, {
    replicas: Math.max(1, stable.spec?.replicas ?? 1),
    container: d.settings.container
  })
}

/** The record changed between admission and takeover so that the command means something else. */
class ChangedMeanwhile extends Error {
  constructor(readonly phase: string | undefined) {
    super(`the rollout changed to ${phase ?? 'nothing recorded'} meanwhile`)
    this.name = 'ChangedMeanwhile'
  }
}

/**
 * `rollback` and `abort`: stable back to 100%; after a promotion, an instant switch back. A
 * person's word wins at once: the lock is taken over from any holder, live or dead, with a
 * guarded write of the record (who stopped it, from which run) before any weight is written. The
 * run that held it finds out at its next record write, heartbeat or check and stops touching
 * traffic; this run's weight write changes the VirtualService's version (fenced), so a weight
 * write that run had in flight cannot land after it.
 */
export async function rollBack(
  d: CommandDeps,
  command: 'rollback' | 'abort'
): Promise<CommandResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await rollBackOnce(d, command)
    } catch (error) {
      // The holder moved on (promoted, rolled back) between our read and our takeover: decide
      // again from what the record says now.
      if (error instanceof ChangedMeanwhile && attempt < 3) {
        d.log.info(`${error.message}; deciding again`)
        continue
      }
      if (error instanceof ChangedMeanwhile) throw new RefusedError(command, error.message)
      throw error
    }
  }
}

async function rollBackOnce(d: CommandDeps, command: 'rollback' | 'abort'): Promise<CommandResult> {
  const { state, mode } = await admitted(d, command)
  const found = state.record as RolloutRecord
  await checkAccess(d, found)
  const stoppedBy = {
    command,
    ...(d.owner.actor ? { actor: d.owner.actor } : {}),
    ...(d.owner.runUrl ? { runUrl: d.owner.runUrl } : {}),
    at: new Date(d.clock.now()).toISOString()
  }
  const who = `${command === 'abort' ? 'aborted' : 'rolled back'} by ${d.owner.actor ?? 'a person'}`
  const instant = mode === 'instant'
  const previous = found.stable.color
  if (instant) {
    // After a promotion the colors' roles swap back: the promoted color is the one to drain.
    const d0 = (await d.kube.get(
      DEPLOYMENTS,
      d.namespace,
      deploymentName(found.service, previous)
    )) as DeploymentObject | undefined
    if (!d0 || (d0.spec?.replicas ?? 0) === 0 || !readiness(d0).ready) {
      throw new RefusedError(
        command,
        `the previous color ${previous} is not running (${d0 ? readiness(d0).summary : 'no Deployment'}), so there is nothing to switch back to instantly; deploy its image (${found.stable.image ?? '?'}) again instead`
      )
    }
  }
  // Built from the record found at the moment of the takeover, never the one admission read: a
  // live holder may have written since (a step, its weights, a check), and none of it is lost.
  const mine = (fresh: RolloutRecord | undefined): RolloutRecord => {
    const now = admit(command, fresh?.phase, { heldByOther: false })
    if (!fresh || now.kind !== 'proceed' || now.mode !== mode || fresh.id !== found.id) {
      throw new ChangedMeanwhile(fresh?.phase)
    }
    const base: RolloutRecord = instant
      ? {
          ...fresh,
          weights: weightsFor(fresh.candidate.color, 100),
          step: fresh.steps.length - 1,
          phase: 'shifting',
          instant: true
        }
      : fresh
    return {
      ...base,
      id: d.runId,
      heldBy: { id: d.runId, runUrl: d.owner.runUrl },
      heartbeatAt: new Date(d.clock.now()).toISOString(),
      stoppedBy
    }
  }
  const taken = await d.records.acquire(mine, { override: true })
  if (taken.tookOverFrom) {
    const url = taken.previous?.heldBy?.runUrl
    const from = `${taken.tookOverFrom}${url ? ` (${url})` : ''}`
    d.log.warning(
      taken.live
        ? `took over the rollout lock from ${from} while it was live: ${command} wins at once; if that run still runs, it stops at its next check without writing weights`
        : `took over the rollout lock from ${from}, which stopped renewing it`
    )
  }
  let record = taken.record
  record = await d.notifier.started(record)
  const rollout = engine(d, record, { fence: true })
  const outcome = await rollout.guard(() =>
    instant
      ? rollout.rollback(`instant switch back to ${previous}, ${who}`, {
          stoppedBy,
          instant: true
        })
      : rollout.rollback(who, { stoppedBy })
  )
  return finish(d, outcome)
}

/**
 * Before a command continues the analysis of a record (promote, resume): Prometheus answers with
 * this run's transport inputs. Otherwise every check would be inconclusive and the rollout would
 * end in a rollback that has nothing to do with the candidate.
 */
async function checkPrometheus(d: CommandDeps, record: RolloutRecord): Promise<void> {
  const url = d.settings.prometheusUrl ?? record.config.prometheusUrl
  const specs = metricSpecsOf(record.config)
  const values = placeholders(
    record.service,
    d.namespace,
    record.stable.color,
    promRange(record.config.analysisWindowMs)
  )
  const readings = await d.metricsAt(url).read(queriesFor(specs, values), d.clock.now())
  const failures = specs.flatMap((s) => {
    const r = readings[s.name]
    return r?.kind === 'none' ? [{ metric: s.name, reason: r.reason }] : []
  })
  const first = failures[0]
  if (first) {
    // Every query failing the same way is Prometheus itself (transport, credentials), not a metric.
    const one = failures.length === specs.length && failures.every((f) => f.reason === first.reason)
    throw new PreflightError(
      `${one ? first.reason : `metric ${first.metric}: ${first.reason}`}; nothing was changed: give this run the same prometheus-* inputs as the release`
    )
  }
}

/** The permissions a command that continues a record needs, and every object of its router. */
async function checkAccess(d: CommandDeps, record: RolloutRecord): Promise<void> {
  const router = routerOf(d, record.config)
  await checkPermissions(d.kube, d.namespace, router.permissions)
  const missing = (await router.read(record.stable.color)).filter((o) => !o.found)
  if (missing.length > 0) {
    throw new PreflightError(
      `${missing.map((o) => o.what).join(', ')} (from the rollout record) not found in namespace ${d.namespace}`
    )
  }
}

/** `status`: what the record and the cluster say now. Changes nothing. */
export async function status(d: CommandDeps): Promise<CommandResult> {
  const { record, holder, expired } = await d.records.read()
  const routerConfig = record?.config.router ?? (await routerConfigFrom(d.settings, d.kube))
  const router = routerFor(
    d.kube,
    { name: d.settings.service, namespace: d.namespace },
    routerConfig,
    d.clock
  )
  // The weights of the first object; any other object whose weights differ is listed too.
  const objects = await router.read('blue')
  const shown = objects.map((o) =>
    !o.found
      ? `${o.what} not found`
      : 'error' in o.routes
        ? o.routes.error
        : formatWeights(o.routes[0]?.weights ?? weightsFor('green', 0))
  )
  const first = objects[0]
  const readable = first?.found === true && !('error' in first.routes)
  const live = shown[0] ?? `${router.description} not found`
  const differing = objects.flatMap((o, i) =>
    i > 0 && shown[i] !== live ? [`${o.what}: weights ${shown[i]}`] : []
  )
  const deployments: Partial<Record<Color, DeploymentObject>> = {}
  for (const color of COLORS) {
    deployments[color] = (await d.kube.get(
      DEPLOYMENTS,
      d.namespace,
      deploymentName(d.settings.service, color)
    )) as DeploymentObject | undefined
  }
  const text = statusText({
    service: d.settings.service,
    namespace: d.namespace,
    weights: live,
    differing,
    testRoutes: objects.flatMap((o) => (o.found && o.testRoute ? [o.what] : [])),
    deployments,
    record,
    lock: { holder, expired }
  })
  return {
    kind: 'status',
    ...(record ? { record } : {}),
    phase: record?.phase ?? 'idle',
    weights: readable ? live : undefined,
    text
  }
}

/** `plan`: preflight and the weight plan for a release, changing nothing. */
export async function plan(d: CommandDeps): Promise<CommandResult> {
  const { settings, log } = d
  const state = await d.records.read()
  if (state.record && inFlight(state.record.phase)) {
    log.warning(
      `a rollout is ${state.record.phase} now; this release will have to wait until it is promoted or rolled back`
    )
  }
  const p: Plan = await log.group('Preflight', () =>
    preflight({ ...d, metrics: d.metricsAt(settings.prometheusUrl ?? '') }, { lenient: true })
  )
  const metrics = judged(p.analysis.specs)
  const judge = judgeSettingsOf(configFrom(settings, p.routerConfig, p.analysis))
  const shape = {
    steps: settings.steps,
    stepDurationMs: settings.stepDurationMs,
    maxExtensions: settings.maxInconclusive,
    checkIntervalMs: settings.checkIntervalMs
  }
  const estimate = estimateDecisions(metrics, judge, shape, p.analysis.traffic)
  const perStep = stepEstimates(metrics, judge, settings.steps, p.analysis.traffic)
  const warning = estimateWarning(estimate, judge, p.analysis.traffic)
  if (warning) log.warning(warning)
  const routing = routerWeightsText(await p.router.read(p.stable))
  const text = `${routing}\n${planText({
    service: settings.service,
    stable: p.stable,
    candidate: p.candidate,
    stableImage: p.stableImage,
    candidateImage: p.candidateImage,
    adoptFrom: p.adoptFrom?.metadata.name,
    steps: settings.steps,
    stepDurationMs: settings.stepDurationMs,
    pauseAt: settings.pauseAt,
    ...(settings.testHeader ? { testHeader: settings.testHeader } : {}),
    estimate,
    perStep,
    judge,
    traffic: p.analysis.traffic
  })}`
  log.info(text)
  return { kind: 'plan', text, stable: p.stable, candidate: otherColor(p.stable) }
}

/**
 * Run the command the settings name. While another run holds the lock, wait for it up to
 * wait-for-lock, looking again every few seconds, then run as if it had just started.
 */
export async function runCommand(d: CommandDeps): Promise<CommandResult> {
  const wait = d.settings.waitForLockMs
  const deadline = wait === undefined ? undefined : d.clock.now() + wait
  for (;;) {
    try {
      return await dispatch(d)
    } catch (error) {
      const busy = error instanceof LockBusyError || error instanceof LockHeldError
      const left = deadline === undefined ? 0 : deadline - d.clock.now()
      if (!busy || left <= 0) throw error
      d.log.info(
        `${(error as Error).message} — waiting (wait-for-lock, ${formatDuration(Math.round(left / 1000) * 1000)} left)`
      )
      await d.clock.sleep(Math.min(3000, left))
    }
  }
}

function dispatch(d: CommandDeps): Promise<CommandResult> {
  switch (d.settings.command) {
    case 'deploy':
      return deploy(d)
    case 'promote':
      return promote(d)
    case 'resume':
      return resume(d)
    case 'rollback':
      return rollBack(d, 'rollback')
    case 'abort':
      return rollBack(d, 'abort')
    case 'status':
      return status(d)
    case 'plan':
      return plan(d)
  }
}
