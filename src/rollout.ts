/**
 * The rollout engine: the I/O sequences every command shares (deploy a color and wait for it,
 * prepare routing, shift through the steps while analysing, pause, promote, roll back). It works
 * from the rollout record and its config, so a command that continues a rollout another run
 * started behaves exactly as that run would have. Decisions come from src/core; the record is
 * written before each action it announces.
 */
import { type Color, deploymentName, formatWeights, weightsFor } from './core/color.js'
import {
  checkStep,
  confidenceText,
  type Finding,
  initialState,
  type JudgeState,
  type MetricSample,
  rollbackLogE,
  safetyProgress,
  shareText,
  startStep,
  thresholds as judgeThresholds
} from './core/judge.js'
import {
  type ColorSnapshots,
  judged,
  type MetricSpec,
  type MetricsSource,
  p99Display,
  placeholders,
  queriesFor,
  type Reading,
  sampleCounts
} from './core/metrics.js'
import { formatDuration } from './core/duration.js'
import { checkDrift } from './core/drift.js'
import { TEST_ROUTE_NAME } from './core/httproute.js'
import type { TestHeader } from './core/test-route.js'
import { weightsToUndo } from './core/undo.js'
import {
  type CheckEntry,
  type CheckVerdict,
  judgeSettingsOf,
  type MetricEntry,
  metricSpecsOf,
  type RolloutRecord,
  withCheck
} from './core/record.js'
import { promRange } from './core/duration.js'
import {
  buildCandidate,
  type DeploymentObject,
  inMesh,
  isTerminating,
  type MeshPod,
  podTrouble,
  type PodObject,
  readiness
} from './core/workload.js'
import { LockLostError } from './adapters/lease.js'
import {
  DEPLOYMENTS,
  KubeError,
  PODS,
  type RecordStore,
  ROLLBACK_RETRY,
  type TrafficRouter,
  type WeightWrite,
  type WorkloadApi
} from './ports.js'
import type { Clock, Log } from './log.js'

/** Conflicts on the candidate's Deployment write (a controller's status updates) before giving up. */
const DEPLOY_CONFLICTS = 5

export interface EngineDeps {
  /** The Deployments and Pods of the colors. */
  kube: WorkloadApi
  /** Where the metrics come from; undefined: the rollout has no Prometheus to ask. */
  metrics?: MetricsSource
  records: RecordStore
  router: TrafficRouter
  log: Log
  clock: Clock
  /**
   * Set when a person's rollback or abort took the rollout over from another run: its weight
   * writes also mark every router object with this (the fence), so a write the other run had
   * planned before the takeover fails on the new resourceVersion.
   */
  fence?: string
}

/**
 * How one run of the engine ended: the engine's result, with the record it left. Not the
 * report's `Outcome`, which is where a rollout stands as a person sees it.
 */
export interface RolloutEnd {
  result: 'promoted' | 'rolled-back' | 'paused'
  record: RolloutRecord
  reason?: string
  /** Something a person must look at even though the run handled it (drift): fails the step. */
  alert?: string
}

/**
 * How waiting for a color's Deployment ended: ready, or why not (image pull, crash loop, timeout).
 * Not core/workload's `Readiness`, a Deployment's state at one read.
 */
export type ReadyWait = { ready: true } | { ready: false; reason: string }

function percent(rate: number | undefined): string {
  return rate === undefined ? 'n/a' : `${(rate * 100).toFixed(2)}%`
}

/** The display-only p99 query's name (see p99Display). */
const P99 = 'p99'

/** One log line per check: each metric's counts since the last check and how far its tests are. */
export function describeCheck(entry: CheckEntry, specs: readonly MetricSpec[]): string {
  const parts = specs.map((spec) => {
    const m = entry.metrics?.[spec.name]
    if (!m) return `${spec.name}: –`
    if (m.none !== undefined) return `${spec.name}: no data (${m.none})`
    if (spec.kind === 'gauge')
      return `${spec.name} ${m.v}${spec.max === undefined ? '' : ` (max ${spec.max})`}${spec.min === undefined ? '' : ` (min ${spec.min})`}`
    const c = m.c ? shareText({ bad: m.c[0], total: m.c[1] }) : 'none'
    const st = m.s ? ` vs stable ${shareText({ bad: m.s[0], total: m.s[1] })}` : ''
    const progress = [
      m.r !== undefined ? `rollback evidence ${Math.round(m.r * 100)}%` : '',
      m.ok !== undefined ? `safety ${Math.round(m.ok * 100)}%` : ''
    ].filter(Boolean)
    return `${spec.name} ${c}${st}${progress.length ? ` (${progress.join(', ')})` : ''}`
  })
  const p99 =
    entry.p99Ms === undefined
      ? ''
      : ` · p99 ≈ ${Math.round(entry.p99Ms)}ms${entry.stable?.p99Ms === undefined ? '' : ` (stable ${Math.round(entry.stable.p99Ms)}ms)`}`
  return `${parts.join(' · ')}${p99} → ${entry.verdict.toUpperCase()}${entry.reasons.length ? ` (${entry.reasons.join('; ')})` : ''}`
}

/** The analysis settings of a rollout, in one line for the log. */
export function describeAnalysis(r: RolloutRecord): string {
  const c = r.config
  const j = judgeSettingsOf(c)
  const specs = metricSpecsOf(c)
  const limits = specs
    .map((m) =>
      m.kind === 'gauge'
        ? `${m.name} within [${m.min ?? '-∞'}, ${m.max ?? '∞'}]`
        : `${m.name} (${m.what})${m.relative ? ' vs stable' : ''}${m.maxRate === undefined ? '' : ` ≤ ${percent(m.maxRate)}`}`
    )
    .join(', ')
  return [
    `steps ${r.steps.join(', ')}% · bake ${formatDuration(c.stepDurationMs)} each · check every ${formatDuration(c.checkIntervalMs)}${c.pauseAt === undefined ? '' : ` · pause at ${c.pauseAt}%`}`,
    `analysis: reporter="${c.reporter}" · ${limits}`,
    `judge: rolls back at ${confidenceText(j.alpha)} confidence of a regression beyond ${j.tolerance}× the stable; before 100% the candidate must be shown less than ${j.maxRegression}× worse · up to ${c.maxInconclusive} extensions, then ${c.onInconclusive ?? 'pause'} if still inconclusive`
  ].join('\n')
}

export class Rollout {
  private current: RolloutRecord

  constructor(
    private readonly d: EngineDeps,
    record: RolloutRecord
  ) {
    this.current = record
  }

  get record(): RolloutRecord {
    return this.current
  }

  /** Counter values at the previous check, per color: the counts of a check are differences. */
  private snapshots: { candidate: ColorSnapshots; stable: ColorSnapshots } = {
    candidate: {},
    stable: {}
  }

  private get specs(): MetricSpec[] {
    return metricSpecsOf(this.current.config)
  }

  private get evidence(): JudgeState {
    return this.current.evidence ?? initialState(judged(this.specs))
  }

  private name(color: Color): string {
    return deploymentName(this.current.service, color)
  }

  private now(): string {
    return new Date(this.d.clock.now()).toISOString()
  }

  /** Write the record (and renew the lock); `hard` retries as a rollback does. */
  async save(patch: Partial<RolloutRecord>, hard = false): Promise<void> {
    this.current = { ...this.current, ...patch, heartbeatAt: this.now() }
    await this.d.records.save(this.current, { hard })
  }

  /**
   * Make sure this run still holds the lock, with a guarded record write: LockLostError if a
   * person's rollback or abort took it over. Called before every write to traffic or workloads.
   */
  private confirm(hard = false): Promise<void> {
    return this.save({}, hard)
  }

  /**
   * The candidate's weight, in one guarded write. The VirtualService is read, then the lock
   * confirmed, then the patch sent with the version read: a takeover after the confirmation
   * writes the VirtualService itself (fenced), so this patch meets a conflict, and on a conflict
   * the lock is confirmed again before any new attempt.
   */
  private writeWeights(percent: number, hard = false): Promise<WeightWrite> {
    return this.d.router.setWeights(this.current.candidate.color, percent, {
      ...(hard ? { hard: true } : {}),
      beforeWrite: () => this.confirm(hard),
      ...(this.d.fence ? { fence: this.d.fence } : {})
    })
  }

  /**
   * The test route (config.testHeader) added to the candidate (`add`) or removed, guarded as a
   * weight write is; nothing is written where it is already as asked. Without a test header the
   * rollout never added one, so there is nothing to remove either.
   */
  private async writeTestRoute(add: boolean, hard = false): Promise<void> {
    const header = this.current.config.testHeader
    if (!header) return
    const { router, log } = this.d
    await router.setTestRoute(this.current.candidate.color, add ? header : undefined, {
      ...(hard ? { hard: true } : {}),
      beforeWrite: () => this.confirm(hard),
      ...(this.d.fence ? { fence: this.d.fence } : {})
    })
    log.info(
      add
        ? `test route in place: requests with header ${headerText(header)} go to ${this.current.candidate.color} (${router.description})`
        : `test route removed from ${router.description}`
    )
  }

  /**
   * Run `body`; if it breaks unexpectedly, put traffic back on the stable color. If even that
   * fails, record `failed` with what a person must do, and throw.
   */
  async guard(body: () => Promise<RolloutEnd>): Promise<RolloutEnd> {
    this.d.records.startHeartbeat((e) =>
      this.d.log.warning(
        e instanceof LockLostError
          ? e.message
          : `could not renew the rollout lock: ${(e as Error).message}`
      )
    )
    try {
      return await body()
    } catch (error) {
      // Taken over: the rollout is another run's now. Touch nothing, neither traffic nor record.
      if (error instanceof LockLostError) throw error
      const reason = `the rollout stopped on an error: ${(error as Error).message}`
      this.d.log.warning(reason)
      try {
        return await this.rollback(reason)
      } catch (rollbackError) {
        if (rollbackError instanceof LockLostError) throw rollbackError
        throw await this.failed(reason, rollbackError)
      }
    } finally {
      this.d.records.stopHeartbeat()
    }
  }

  private async failed(reason: string, rollbackError: unknown): Promise<Error> {
    const { stable, candidate, config } = this.current
    // The rollout ends here: the test route goes too if it can (it only ever sends to the
    // candidate, so taking it out is safe whatever the weights are).
    const routeLeft = await this.writeTestRoute(false, true).then(
      () => false,
      () => true
    )
    const todo = `set the weights of ${this.d.router.description} to ${stable.color}=100,${candidate.color}=0 by hand, ${routeLeft && config.testHeader ? `remove its routes named ${TEST_ROUTE_NAME}… (the test route for header ${headerText(config.testHeader)}), ` : ''}then scale ${this.name(candidate.color)} to 0`
    const message = `${reason}; rolling back failed too (${(rollbackError as Error).message}): ${todo}`
    await this.save({ phase: 'failed', reason: message, finishedAt: this.now() }).catch(
      (e: unknown) =>
        this.d.log.warning(`could not record the failure in the cluster: ${(e as Error).message}`)
    )
    return new Error(message)
  }

  /** Create or update the Deployment of `color` from a template, then wait until it is ready. */
  async applyDeployment(
    color: Color,
    template: DeploymentObject,
    image: string | undefined,
    options: { replicas: number; container?: string }
  ): Promise<ReadyWait> {
    const { kube, log } = this.d
    const { namespace, service, config } = this.current
    const name = this.name(color)
    const built = buildCandidate(template, {
      service,
      namespace,
      color,
      colorLabel: config.colorLabel,
      image,
      container: options.container,
      replicas: options.replicas
    })
    if ('error' in built) throw new Error(built.error)
    // Read, confirm, write: the replace carries the version read, so it cannot undo a takeover's
    // scale-down that came after the confirmation. The Deployment controller bumps that version
    // on every status change (a scale-down's pods terminating, say): on a conflict, read it
    // again, confirm again and write again.
    for (let conflicts = 0; ; conflicts++) {
      const existing = await kube.get(DEPLOYMENTS, namespace, name)
      await this.confirm()
      try {
        if (existing) {
          const metadata = {
            ...existing.metadata,
            labels: built.deployment.metadata.labels,
            annotations: {
              ...existing.metadata.annotations,
              ...built.deployment.metadata.annotations
            }
          }
          await kube.replace(DEPLOYMENTS, namespace, { ...built.deployment, metadata } as never)
          log.info(`updated Deployment ${name}: ${options.replicas} replicas`)
        } else {
          await kube.create(DEPLOYMENTS, namespace, built.deployment as never)
          log.info(`created Deployment ${name}: ${options.replicas} replicas`)
        }
        break
      } catch (error) {
        if (error instanceof KubeError && error.conflict && conflicts < DEPLOY_CONFLICTS) continue
        throw error
      }
    }
    return this.waitReady(color)
  }

  /**
   * Wait until the color's Deployment is available within the ready timeout, with every pod in
   * the mesh; on timeout, what the pods report.
   */
  async waitReady(color: Color): Promise<ReadyWait> {
    const { kube, log, clock } = this.d
    const { namespace, service, config } = this.current
    const name = this.name(color)
    const deadline = clock.now() + config.readyTimeoutMs
    let lastSummary = ''
    // A takeover is noticed within a check interval here too, not only at the next write.
    let verifyAt = clock.now() + config.checkIntervalMs
    for (;;) {
      this.d.records.assertHeld()
      if (clock.now() >= verifyAt) {
        await this.d.records.verify()
        verifyAt = clock.now() + config.checkIntervalMs
      }
      const d = (await kube.get(DEPLOYMENTS, namespace, name)) as DeploymentObject | undefined
      if (!d) throw new Error(`Deployment ${name} disappeared while waiting for it`)
      const r = readiness(d)
      if (r.summary !== lastSummary) log.info(`${name}: ${r.summary}`)
      lastSummary = r.summary
      if (r.ready || clock.now() >= deadline) {
        // Terminating pods are leaving: they judge neither readiness nor mesh membership.
        const pods = (
          (await kube.list(
            PODS,
            namespace,
            `app=${service},${config.colorLabel}=${color}`
          )) as unknown as Array<PodObject & MeshPod>
        ).filter((p) => !isTerminating(p))
        if (!r.ready) {
          return {
            ready: false,
            reason: `${name} did not become ready within ${formatDuration(config.readyTimeoutMs)}: ${podTrouble(pods) || r.summary}`
          }
        }
        const outside = pods.filter((p) => !inMesh(p)).length
        if (outside === 0) return { ready: true }
        return {
          ready: false,
          reason: `${outside} of ${pods.length} pods of ${name} run without the istio-proxy sidecar, so weights would not apply to them (is sidecar.istio.io/inject "false" in the pod template?)`
        }
      }
      // The Deployment controller writes its status as the pods come up: wait for that (at most
      // until the deadline or the next look at the lock) instead of reading again on a timer.
      await this.nextChange(name, d.metadata.resourceVersion ?? '', Math.min(deadline, verifyAt))
    }
  }

  /** Whether a watch failed already in this run (it is said once, then reads follow a timer). */
  private polling = false

  /**
   * Wait until Deployment `name` changes after `resourceVersion`, or the clock reaches `until`.
   * Where the watch is refused or fails, the wait is a second of polling instead; a version too
   * old to watch from is simply read again.
   */
  private async nextChange(name: string, resourceVersion: string, until: number): Promise<void> {
    const { kube, clock, log } = this.d
    const wait = Math.max(0, until - clock.now())
    const stop = new AbortController()
    try {
      if (this.polling) return await clock.sleep(Math.min(1000, wait))
      await Promise.race([
        kube.nextChange(DEPLOYMENTS, this.current.namespace, name, resourceVersion, stop.signal),
        clock.sleep(wait, stop.signal)
      ])
    } catch (error) {
      if (error instanceof KubeError && error.code === 410) return
      this.polling = true
      log.warning(
        `could not watch Deployment ${name} (${(error as Error).message}); reading it every second instead`
      )
      await clock.sleep(Math.min(1000, wait))
    } finally {
      stop.abort()
    }
  }

  /** Both color subsets in the DestinationRule; bare routes converted to the stable subset. */
  async prepareRouting(adoptRoutes: boolean): Promise<void> {
    const { log, router } = this.d
    const { config } = this.current
    await this.confirm()
    const done = await router.ensureColors(config.colorLabel)
    for (const line of done) log.info(line)
    if (done.length === 0) log.info(`both colors are addressable for ${router.description}`)
    if (adoptRoutes) {
      const w = await this.writeWeights(0)
      log.info(`routes now name subsets: ${formatWeights(w.weights)}`)
      await this.save({ weights: w.weights, routerVersions: w.versions })
    }
  }

  /**
   * Shift through the steps from index `from`, analysing each; pause at config.pauseAt, promote
   * after the last, roll back on a failing verdict.
   */
  async shift(from: number): Promise<RolloutEnd> {
    const { log } = this.d
    const { steps, candidate, config } = this.current
    if (this.current.phase !== 'shifting') await this.save({ phase: 'shifting' })
    // The record says shifting (and carries the header) before the route is written: a run that
    // dies now leaves a rollout that every recovery rolls back, test route included.
    await this.writeTestRoute(true)
    if (from === 0 && this.current.step < 0 && config.pauseAt === 0) return this.pauseBeforeSteps()
    for (let i = from; i < steps.length; i++) {
      const weight = steps[i] as number
      const verdict = await log.group(
        `Step ${i + 1}/${steps.length}: ${candidate.color} ${weight}%`,
        () => this.step(i, weight)
      )
      if (verdict.kind === 'stopped') return verdict.outcome
      if (verdict.kind === 'rollback') return this.rollback(verdict.reason)
      if (verdict.kind === 'inconclusive') {
        if (this.current.config.onInconclusive === 'rollback') {
          return this.rollback(`${verdict.reason} (on-inconclusive: rollback)`)
        }
        return this.pause(i, verdict.reason)
      }
      if (this.current.config.pauseAt === weight) return this.pause(i)
    }
    return this.promote()
  }

  /** Straight to 100% without analysis (promote with skip-analysis). */
  async skipToPromotion(): Promise<RolloutEnd> {
    const { steps } = this.current
    await this.save({ phase: 'shifting', step: steps.length - 1 })
    const written = await this.writeWeights(100)
    await this.save({ weights: written.weights, routerVersions: written.versions })
    this.d.log.info(`weights ${formatWeights(written.weights)} (analysis skipped)`)
    return this.promote()
  }

  private async step(
    index: number,
    weight: number
  ): Promise<
    | { kind: 'advance' }
    | { kind: 'rollback'; reason: string }
    | { kind: 'inconclusive'; reason: string }
    | { kind: 'stopped'; outcome: RolloutEnd }
  > {
    const { log, clock } = this.d
    const { candidate, config, steps } = this.current
    const before = await this.drift()
    if (before) return { kind: 'stopped', outcome: before }
    // The counters before the weights change: the first check counts from here.
    if (Object.keys(this.snapshots.candidate).length === 0) await this.sample(weight)
    await this.save({ step: index })
    const written = await this.writeWeights(weight)
    await this.save({ weights: written.weights, routerVersions: written.versions })
    log.info(
      `weights ${formatWeights(written.weights)} (${this.d.router.description}, resourceVersion ${Object.values(written.versions).join(', ')})`
    )

    const specs = this.specs
    const metrics = judged(specs)
    const settings = judgeSettingsOf(config)
    let progress = startStep(weight, clock.now())
    let checks = 0
    for (;;) {
      const deadline = progress.startedAt + config.stepDurationMs * (progress.extensions + 1)
      await clock.sleep(Math.max(0, Math.min(config.checkIntervalMs, deadline - clock.now())))
      this.d.records.assertHeld()
      const { samples, p99 } = await this.sample(weight)
      const checked = checkStep(this.evidence, progress, samples, {
        metrics,
        settings,
        stepDurationMs: config.stepDurationMs,
        maxExtensions: config.maxInconclusive,
        gate: steps[index + 1] === 100,
        now: clock.now()
      })
      progress = checked.progress
      const entry = this.checkEntry(index, weight, samples, checked.state, checked.findings, p99)
      checks++
      log.info(`check ${checks} · ${candidate.color} ${weight}% · ${describeCheck(entry, specs)}`)
      this.current = { ...withCheck(this.current, entry), evidence: checked.state }
      await this.save({})
      const drifted = await this.drift()
      if (drifted) return { kind: 'stopped', outcome: drifted }
      const v = checked.verdict
      if (v.kind === 'advance' || v.kind === 'rollback' || v.kind === 'inconclusive') return v
      if (v.kind === 'extend') {
        log.warning(
          `step ${index + 1} extended (${v.extension}/${config.maxInconclusive}) by ${formatDuration(config.stepDurationMs)}: ${v.reason}`
        )
      }
    }
  }

  /** What the report keeps of a check: each metric's counts and how far its tests are. */
  private checkEntry(
    index: number,
    weight: number,
    samples: Readonly<Record<string, MetricSample>>,
    state: JudgeState,
    findings: readonly Finding[],
    p99: { candidate?: number; stable?: number }
  ): CheckEntry {
    const specs = this.specs
    const t = judgeThresholds(judged(specs), judgeSettingsOf(this.current.config))
    const metrics: Record<string, MetricEntry> = {}
    for (const spec of specs) {
      const sample = samples[spec.name]
      const e = state[spec.name]
      const m: MetricEntry = {}
      if (!sample || sample.kind === 'none') m.none = sample?.reason ?? 'not measured'
      else if (sample.kind === 'gauge') m.v = sample.value
      else {
        m.c = [sample.candidate.bad, sample.candidate.total]
        if (sample.stable) m.s = [sample.stable.bad, sample.stable.total]
      }
      if (e?.kind === 'ratio' && spec.kind === 'ratio') {
        const toward = rollbackLogE(e, spec)
        m.r = round(Math.max(0, Math.min(1, toward / (t.rollback[spec.name] ?? Infinity))))
        if (spec.relative) {
          m.ok = round(safetyProgress(e, t))
        }
      }
      metrics[spec.name] = m
    }
    const verdict: CheckVerdict = findings.some((f) => f.kind === 'regressed')
      ? 'fail'
      : findings.some((f) => f.kind === 'no-data')
        ? 'inconclusive'
        : 'pass'
    const errors = samples.errors
    const entry: CheckEntry = {
      at: this.now(),
      step: index,
      weight,
      verdict,
      metrics,
      reasons: findings.flatMap((f) =>
        f.kind === 'regressed'
          ? [f.reason]
          : f.kind === 'no-data'
            ? [`${f.metric}: ${f.reason}`]
            : []
      )
    }
    if (errors?.kind === 'ratio') {
      entry.requests = errors.candidate.total
      if (errors.candidate.total > 0)
        entry.errorRate = errors.candidate.bad / errors.candidate.total
      if (errors.stable) {
        entry.stable = {
          requests: errors.stable.total,
          ...(errors.stable.total > 0 ? { errorRate: errors.stable.bad / errors.stable.total } : {})
        }
      }
    }
    if (p99.candidate !== undefined) entry.p99Ms = p99.candidate
    if (p99.stable !== undefined) entry.stable = { ...entry.stable, p99Ms: p99.stable }
    return entry
  }

  /**
   * Whether the weights are still the ones this rollout wrote; if a person or a tool changed them,
   * stop shifting and pause or roll back as config.onDrift says, naming who changed them.
   */
  private async drift(): Promise<RolloutEnd | undefined> {
    const { router, log } = this.d
    const { config, stable, step, steps, candidate } = this.current
    // A run that died between writing a step's weights and recording them leaves the objects one
    // write ahead of the record (some or all of them): that write was ours, not drift.
    const planned = step >= 0 ? weightsFor(candidate.color, steps[step] as number) : undefined
    const check = checkDrift(await router.read(stable.color), this.current.weights, planned)
    if (check.kind === 'in-step') return undefined
    if (check.kind === 'ahead') {
      log.info(
        `${router.description} already ${router.objects.length > 1 ? 'have' : 'has'} step ${step + 1}'s weights ${formatWeights(check.weights)}: recording them`
      )
      await this.save({ weights: check.weights, routerVersions: check.versions })
      return undefined
    }
    if (check.kind === 'part-ahead') {
      log.info(
        `step ${step + 1}'s weights reached ${check.objects.join(', ')} but not the other objects of ${router.description}: the step writes them all again`
      )
      return undefined
    }
    const message = check.message
    // A person's rollback or abort that took the rollout over changes the weights too: that is
    // not drift, and this run must not act on it.
    await this.confirm()
    const alert = `drift: ${message}`
    log.warning(alert)
    if ((config.onDrift ?? 'pause') === 'rollback') {
      return { ...(await this.rollback(`${alert} (on-drift: rollback)`)), alert }
    }
    await this.pauseAsFound(`${alert} (on-drift: pause)`)
    log.info(
      'stopped shifting and left the weights as found (on-drift: pause): promote continues from them, rollback ends the rollout'
    )
    return { result: 'paused', record: this.current, reason: this.current.reason, alert }
  }

  /**
   * Record the rollout as paused with the weights the router's first object has now (which may
   * not be the ones last written: a drift, or a run that died mid-write), so the record agrees with
   * the cluster and a later promote continues from there; then release the lock.
   */
  async pauseAsFound(reason: string): Promise<void> {
    const objects = await this.d.router.read(this.current.stable.color)
    const first = objects[0]
    const route = first?.found && !('error' in first.routes) ? first.routes[0] : undefined
    const versions = Object.fromEntries(
      objects.flatMap((o) => (o.found ? [[o.object, o.resourceVersion]] : []))
    )
    await this.save({
      phase: 'paused',
      reason,
      ...(route ? { weights: route.weights } : {}),
      routerVersions: versions
    })
    await this.d.records.save(this.current, { release: true })
  }

  /**
   * Read every metric of both colors at one instant and turn the counters into counts since the
   * previous reading. The first reading is the baseline and judges nothing.
   */
  private async sample(weight: number): Promise<{
    samples: Record<string, MetricSample>
    p99: { candidate?: number; stable?: number }
  }> {
    const { metrics, clock } = this.d
    const { service, namespace, candidate, stable, config } = this.current
    const specs = this.specs
    if (!metrics) {
      const none: MetricSample = { kind: 'none', reason: 'no prometheus-url for this rollout' }
      return { samples: Object.fromEntries(specs.map((s) => [s.name, none])), p99: {} }
    }
    const window = promRange(config.analysisWindowMs)
    const shown = [...specs, p99Display(config.reporter)]
    const at = clock.now()
    const [c, s] = await Promise.all(
      [candidate.color, stable.color].map((color) =>
        metrics.read(queriesFor(shown, placeholders(service, namespace, color, window)), at)
      )
    )
    const readings = {
      candidate: c as Record<string, Reading>,
      stable: s as Record<string, Reading>
    }
    const sampled = sampleCounts(specs, this.snapshots, readings, weight < 100)
    this.snapshots = sampled.snapshots
    const value = (r: Reading | undefined): number | undefined =>
      r?.kind === 'gauge' ? r.value : undefined
    return {
      samples: sampled.samples,
      p99: { candidate: value(readings.candidate[P99]), stable: value(readings.stable[P99]) }
    }
  }

  /**
   * `pause-at: 0`: the candidate is ready, the test route reaches it, no weight was written. The
   * lock is released; promote starts the steps.
   */
  private async pauseBeforeSteps(): Promise<RolloutEnd> {
    const { candidate, stable, config } = this.current
    await this.d.log.group('Pause at 0%', async () => {
      await this.save({ phase: 'paused' })
      await this.d.records.save(this.current, { release: true })
      this.d.log.info(
        `paused before the first step with ${formatWeights(this.current.weights)} (pause-at: 0): only requests with header ${headerText(config.testHeader)} reach ${candidate.color}, all others ${stable.color}. Run the action with command promote to start the steps, or rollback`
      )
    })
    return { result: 'paused', record: this.current }
  }

  private async pause(index: number, inconclusive?: string): Promise<RolloutEnd> {
    const weight = this.current.steps[index] as number
    await this.d.log.group(`Pause at ${weight}%`, async () => {
      await this.save({
        phase: 'paused',
        step: index,
        ...(inconclusive ? { reason: inconclusive } : {})
      })
      await this.d.records.save(this.current, { release: true })
      if (inconclusive) {
        this.d.log.warning(
          `paused with ${formatWeights(this.current.weights)}: ${inconclusive} (on-inconclusive: pause). Run the action with command resume to gather more evidence at ${weight}%, promote to go on without it, or rollback`
        )
      } else {
        this.d.log.info(
          `paused with ${formatWeights(this.current.weights)}: run the action with command promote to continue, or rollback`
        )
      }
    })
    // An inconclusive pause leaves a release half-way: a person must decide, so it fails the step.
    return {
      result: 'paused',
      record: this.current,
      ...(inconclusive ? { reason: inconclusive, alert: `paused: ${inconclusive}` } : {})
    }
  }

  async promote(): Promise<RolloutEnd> {
    const { log, kube } = this.d
    const { stable, candidate, namespace, config } = this.current
    await log.group('Promote', async () => {
      // Before the promotion is recorded, so that a run dying here leaves a rollout still
      // shifting, whose recovery removes the route. The candidate has 100% already: a route that
      // cannot be removed is worth a warning, not a rollback.
      await this.writeTestRoute(false, true).catch((error: unknown) => {
        if (error instanceof LockLostError) throw error
        log.warning(
          `could not remove the test route: ${(error as Error).message}; remove the routes named ${TEST_ROUTE_NAME}… from ${this.d.router.description} by hand`
        )
      })
      await this.save({ phase: 'promoted', finishedAt: this.now() }, true)
      await this.d.records.save(this.current, { release: true, hard: true })
      log.info(`${candidate.color} is stable at 100%`)
      if (config.previousColor === 'scale-down') {
        // The promotion stands whatever happens here: a failed scale-down must not turn into a
        // rollback to the color being scaled down.
        try {
          await kube.patch(DEPLOYMENTS, namespace, this.name(stable.color), {
            spec: { replicas: 0 }
          })
          log.info(`scaled ${this.name(stable.color)} to 0 (previous-color: scale-down)`)
        } catch (error) {
          log.warning(
            `promoted, but could not scale ${this.name(stable.color)} to 0: ${(error as Error).message}; scale it down by hand`
          )
        }
      } else {
        log.info(
          `${this.name(stable.color)} keeps running for an instant switch back (previous-color: keep)`
        )
      }
    })
    return { result: 'promoted', record: this.current }
  }

  /**
   * Stable back to 100% in one write, then the candidate scaled to zero (kept for inspection).
   * `extra` marks who stopped it, for rollbacks a person asked for.
   */
  async rollback(reason: string, extra: Partial<RolloutRecord> = {}): Promise<RolloutEnd> {
    const { log, kube } = this.d
    const { stable, candidate, namespace } = this.current
    return log.group('Roll back', async () => {
      log.warning(`rolling back: ${reason}`)
      // The record first: it says a rollback is under way, and confirms the lock is still ours.
      await this.save({ ...extra, reason }, true)
      if (weightsToUndo(this.current)) {
        const w = await this.writeWeights(0, true)
        await this.save({ weights: w.weights, routerVersions: w.versions }, true)
        log.info(`weights ${formatWeights(w.weights)}`)
      } else {
        log.info(
          `no traffic was shifted: weights stay ${formatWeights(weightsFor(candidate.color, 0))}`
        )
      }
      // Before the candidate scales down, so requests with the header are not sent to no pods.
      await this.writeTestRoute(false, true)
      try {
        await kube.patch(
          DEPLOYMENTS,
          namespace,
          this.name(candidate.color),
          { spec: { replicas: 0 } },
          ROLLBACK_RETRY
        )
        log.info(`scaled ${this.name(candidate.color)} to 0; it is kept for inspection`)
      } catch (error) {
        // Traffic is already back on the stable color, which is what matters: a candidate that
        // keeps running idle is worth a warning, not a failed rollback.
        if (!(error instanceof KubeError && error.notFound)) {
          log.warning(
            `could not scale ${this.name(candidate.color)} to 0: ${(error as Error).message}; it receives no traffic, scale it down by hand`
          )
        }
      }
      await this.save({ phase: 'rolled-back', finishedAt: this.now() }, true)
      await this.d.records.save(this.current, { release: true, hard: true })
      log.info(`${stable.color} is stable at 100%`)
      return { result: 'rolled-back' as const, record: this.current, reason }
    })
  }
}

/** `x-canary: true`, quoted, for messages. */
function headerText(header: TestHeader | undefined): string {
  return header ? `"${header.name}: ${header.value}"` : '(none)'
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000
}
