/**
 * The rollout engine: the I/O sequences every command shares (deploy a color and wait for it,
 * prepare routing, shift through the steps while analysing, pause, promote, roll back). It works
 * from the rollout record and its config, so a command that continues a rollout another run
 * started behaves exactly as that run would have. Decisions come from src/core; the record is
 * written before each action it announces.
 */
import { type Color, deploymentName, formatWeights, weightsFor } from './core/color.js'
import {
  type CheckResult,
  evaluateCheck,
  type Measurement,
  stepVerdict,
  type Thresholds
} from './core/analysis.js'
import { formatDuration } from './core/duration.js'
import { describeDrift, lastOtherWriter, type ManagedFieldsEntry } from './core/drift.js'
import { type CheckEntry, type RolloutRecord, withCheck } from './core/record.js'
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
import { DEPLOYMENTS, type Kube, KubeError, PODS, ROLLBACK_RETRY } from './adapters/kube.js'
import type { IstioTraffic } from './adapters/istio.js'
import type { Prometheus } from './adapters/prometheus.js'
import type { LeaseStore } from './adapters/lease.js'
import type { Clock, Log } from './log.js'

export interface EngineDeps {
  kube: Kube
  prometheus?: Prometheus
  leases: LeaseStore
  traffic: IstioTraffic
  log: Log
  clock: Clock
}

export interface Outcome {
  result: 'promoted' | 'rolled-back' | 'paused'
  record: RolloutRecord
  reason?: string
  /** Something a person must look at even though the run handled it (drift): fails the step. */
  alert?: string
}

export type Readiness = { ready: true } | { ready: false; reason: string }

function percent(rate: number | undefined): string {
  return rate === undefined ? 'n/a' : `${(rate * 100).toFixed(2)}%`
}

function ms(value: number | undefined): string {
  return value === undefined ? 'n/a' : `${Math.round(value)}ms`
}

/** One log line per check: measured values, thresholds, verdict; the stable color beside. */
export function describeCheck(r: CheckResult, t: Thresholds, stable: Measurement): string {
  const parts = [
    `requests ${r.requests === undefined ? 'none' : Math.round(r.requests)} (min ${t.minRequests})`,
    `error rate ${percent(r.errorRate)} (max ${percent(t.maxErrorRate)})`,
    `p99 ${ms(r.p99Ms)}${t.maxP99Ms === undefined ? '' : ` (max ${t.maxP99Ms}ms)`}`,
    `stable: ${percent(stable.requests ? (stable.errors ?? 0) / stable.requests : undefined)} errors, p99 ${ms(stable.p99Ms)}`
  ]
  return `${parts.join(' · ')} → ${r.verdict.toUpperCase()}${r.reasons.length ? ` (${r.reasons.join('; ')})` : ''}`
}

/** The analysis settings of a rollout, in one line for the log. */
export function describeAnalysis(r: RolloutRecord): string {
  const c = r.config
  return [
    `steps ${r.steps.join(', ')}% · bake ${formatDuration(c.stepDurationMs)} each · check every ${formatDuration(c.checkIntervalMs)}${c.pauseAt === undefined ? '' : ` · pause at ${c.pauseAt}%`}`,
    `analysis: reporter="${c.reporter}" · window ${formatDuration(c.analysisWindowMs)} · error rate ≤ ${percent(c.maxErrorRate)}${c.maxP99Ms === undefined ? '' : ` · p99 ≤ ${c.maxP99Ms}ms`} · at least ${c.minRequests} requests · roll back after ${c.failureLimit} failed checks in a row · up to ${c.maxInconclusive} extensions`
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

  private get thresholds(): Thresholds {
    const c = this.current.config
    return { maxErrorRate: c.maxErrorRate, maxP99Ms: c.maxP99Ms, minRequests: c.minRequests }
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
    await this.d.leases.save(this.current, { hard })
  }

  /**
   * Run `body`; if it breaks unexpectedly, put traffic back on the stable color. If even that
   * fails, record `failed` with what a person must do, and throw.
   */
  async guard(body: () => Promise<Outcome>): Promise<Outcome> {
    this.d.leases.startHeartbeat((e) =>
      this.d.log.warning(`could not renew the rollout lock: ${(e as Error).message}`)
    )
    try {
      return await body()
    } catch (error) {
      const reason = `the rollout stopped on an error: ${(error as Error).message}`
      this.d.log.warning(reason)
      try {
        return await this.rollback(reason)
      } catch (rollbackError) {
        throw await this.failed(reason, rollbackError)
      }
    } finally {
      this.d.leases.stopHeartbeat()
    }
  }

  private async failed(reason: string, rollbackError: unknown): Promise<Error> {
    const { stable, candidate } = this.current
    const todo = `set the weights of VirtualService ${this.current.config.virtualService} to ${stable.color}=100,${candidate.color}=0 by hand, then scale ${this.name(candidate.color)} to 0`
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
  ): Promise<Readiness> {
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
    const existing = await kube.get(DEPLOYMENTS, namespace, name)
    if (existing) {
      const metadata = {
        ...existing.metadata,
        labels: built.deployment.metadata.labels,
        annotations: { ...existing.metadata.annotations, ...built.deployment.metadata.annotations }
      }
      await kube.replace(DEPLOYMENTS, namespace, { ...built.deployment, metadata } as never)
      log.info(`updated Deployment ${name}: ${options.replicas} replicas`)
    } else {
      await kube.create(DEPLOYMENTS, namespace, built.deployment as never)
      log.info(`created Deployment ${name}: ${options.replicas} replicas`)
    }
    return this.waitReady(color)
  }

  /**
   * Wait until the color's Deployment is available within the ready timeout, with every pod in
   * the mesh; on timeout, what the pods report.
   */
  async waitReady(color: Color): Promise<Readiness> {
    const { kube, log, clock } = this.d
    const { namespace, service, config } = this.current
    const name = this.name(color)
    const deadline = clock.now() + config.readyTimeoutMs
    let lastSummary = ''
    for (;;) {
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
      await clock.sleep(Math.min(1000, Math.max(0, deadline - clock.now())))
    }
  }

  /** Both color subsets in the DestinationRule; bare routes converted to the stable subset. */
  async prepareRouting(adoptRoutes: boolean): Promise<void> {
    const { log, traffic } = this.d
    const { config, candidate } = this.current
    if (await traffic.ensureSubsets(config.colorLabel)) {
      log.info(
        `added subsets blue and green (label ${config.colorLabel}) to DestinationRule ${config.destinationRule}`
      )
    } else log.info(`DestinationRule ${config.destinationRule} already has subsets blue and green`)
    if (adoptRoutes) {
      const w = await traffic.setWeights(candidate.color, 0)
      log.info(`routes now name subsets: ${formatWeights(w.weights)}`)
      await this.save({ weights: w.weights, virtualServiceVersion: w.resourceVersion })
    }
  }

  /**
   * Shift through the steps from index `from`, analysing each; pause at config.pauseAt, promote
   * after the last, roll back on a failing verdict.
   */
  async shift(from: number): Promise<Outcome> {
    const { log } = this.d
    const { steps, candidate } = this.current
    if (this.current.phase !== 'shifting') await this.save({ phase: 'shifting' })
    for (let i = from; i < steps.length; i++) {
      const weight = steps[i] as number
      const verdict = await log.group(
        `Step ${i + 1}/${steps.length}: ${candidate.color} ${weight}%`,
        () => this.step(i, weight)
      )
      if (verdict.kind === 'stopped') return verdict.outcome
      if (verdict.kind === 'rollback') return this.rollback(verdict.reason)
      if (this.current.config.pauseAt === weight) return this.pause(i)
    }
    return this.promote()
  }

  /** Straight to 100% without analysis (promote with skip-analysis). */
  async skipToPromotion(): Promise<Outcome> {
    const { candidate, steps } = this.current
    await this.save({ phase: 'shifting', step: steps.length - 1 })
    const written = await this.d.traffic.setWeights(candidate.color, 100)
    await this.save({ weights: written.weights, virtualServiceVersion: written.resourceVersion })
    this.d.log.info(`weights ${formatWeights(written.weights)} (analysis skipped)`)
    return this.promote()
  }

  private async step(
    index: number,
    weight: number
  ): Promise<
    | { kind: 'advance' }
    | { kind: 'rollback'; reason: string }
    | { kind: 'stopped'; outcome: Outcome }
  > {
    const { log, clock, traffic } = this.d
    const { candidate, stable, config } = this.current
    const before = await this.drift()
    if (before) return { kind: 'stopped', outcome: before }
    await this.save({ step: index })
    const written = await traffic.setWeights(candidate.color, weight)
    await this.save({ weights: written.weights, virtualServiceVersion: written.resourceVersion })
    log.info(
      `weights ${formatWeights(written.weights)} (VirtualService resourceVersion ${written.resourceVersion})`
    )

    const started = clock.now()
    const checks: CheckResult[] = []
    let extensions = 0
    for (;;) {
      const deadline = started + config.stepDurationMs * (extensions + 1)
      await clock.sleep(Math.max(0, Math.min(config.checkIntervalMs, deadline - clock.now())))
      const [m, sm] = await Promise.all([this.measure(candidate.color), this.measure(stable.color)])
      const result = evaluateCheck(m, this.thresholds)
      checks.push(result)
      log.info(
        `check ${checks.length} · ${candidate.color} ${weight}% · ${describeCheck(result, this.thresholds, sm)}`
      )
      const entry: CheckEntry = {
        at: this.now(),
        step: index,
        weight,
        verdict: result.verdict,
        requests: result.requests,
        errorRate: result.errorRate,
        p99Ms: result.p99Ms,
        stable: {
          requests: sm.requests,
          errorRate: sm.requests ? (sm.errors ?? 0) / sm.requests : undefined,
          p99Ms: sm.p99Ms
        },
        reasons: result.reasons
      }
      this.current = withCheck(this.current, entry)
      await this.save({})
      const drifted = await this.drift()
      if (drifted) return { kind: 'stopped', outcome: drifted }
      const v = stepVerdict(checks, clock.now() - started, extensions, {
        stepDurationMs: config.stepDurationMs,
        failureLimit: config.failureLimit,
        maxExtensions: config.maxInconclusive
      })
      if (v.kind === 'advance' || v.kind === 'rollback') return v
      if (v.kind === 'extend') {
        extensions = v.extension
        log.warning(
          `step ${index + 1} extended (${extensions}/${config.maxInconclusive}) by ${formatDuration(config.stepDurationMs)}: ${v.reason}`
        )
      }
    }
  }

  /**
   * Whether the weights are still the ones this rollout wrote; if a person or a tool changed them,
   * stop shifting and pause or roll back as config.onDrift says, naming who changed them.
   */
  private async drift(): Promise<Outcome | undefined> {
    const { traffic, log } = this.d
    const { config, stable } = this.current
    const vs = await traffic.readVirtualService()
    let message: string | undefined
    if (!vs) message = `VirtualService ${config.virtualService} was deleted`
    else {
      const found = traffic.weightsOf(vs, stable.color)
      const writer = lastOtherWriter(vs.metadata.managedFields as ManagedFieldsEntry[] | undefined)
      const { step, steps, candidate } = this.current
      // A run that died between writing a step's weights and recording them leaves the
      // VirtualService one write ahead of the record: that write was ours, not drift.
      const planned = step >= 0 ? weightsFor(candidate.color, steps[step] as number) : undefined
      if (
        typeof found !== 'string' &&
        planned &&
        !describeDrift(config.virtualService, found, planned, writer) &&
        describeDrift(config.virtualService, found, this.current.weights, writer)
      ) {
        log.info(
          `the VirtualService already has step ${step + 1}'s weights ${formatWeights(planned)}: recording them`
        )
        await this.save({ weights: planned, virtualServiceVersion: vs.metadata.resourceVersion })
        return undefined
      }
      message =
        typeof found === 'string'
          ? `${found} (changed by ${writer ?? 'someone else'})`
          : describeDrift(config.virtualService, found, this.current.weights, writer)
    }
    if (!message) return undefined
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
   * Record the rollout as paused with the weights the VirtualService has now (which may not be
   * the ones last written: a drift, or a run that died mid-write), so the record agrees with
   * the cluster and a later promote continues from there; then release the lock.
   */
  async pauseAsFound(reason: string): Promise<void> {
    const { traffic } = this.d
    const vs = await traffic.readVirtualService()
    const found = vs ? traffic.weightsOf(vs, this.current.stable.color) : undefined
    const weights = Array.isArray(found) && found[0] ? { weights: found[0] } : {}
    await this.save({
      phase: 'paused',
      reason,
      ...weights,
      ...(vs ? { virtualServiceVersion: vs.metadata.resourceVersion } : {})
    })
    await this.d.leases.save(this.current, { release: true })
  }

  private measure(color: Color): Promise<Measurement> {
    const { prometheus } = this.d
    if (!prometheus) return Promise.resolve({ failure: 'no prometheus-url for this rollout' })
    return prometheus.measure(
      {
        workload: this.name(color),
        namespace: this.current.namespace,
        reporter: this.current.config.reporter
      },
      this.current.config.analysisWindowMs
    )
  }

  private async pause(index: number): Promise<Outcome> {
    const weight = this.current.steps[index] as number
    await this.d.log.group(`Pause at ${weight}%`, async () => {
      await this.save({ phase: 'paused', step: index })
      await this.d.leases.save(this.current, { release: true })
      this.d.log.info(
        `paused with ${formatWeights(this.current.weights)}: run the action with command promote to continue, or rollback`
      )
    })
    return { result: 'paused', record: this.current }
  }

  async promote(): Promise<Outcome> {
    const { log, kube } = this.d
    const { stable, candidate, namespace, config } = this.current
    await log.group('Promote', async () => {
      await this.save({ phase: 'promoted', finishedAt: this.now() }, true)
      await this.d.leases.save(this.current, { release: true, hard: true })
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
  async rollback(reason: string, extra: Partial<RolloutRecord> = {}): Promise<Outcome> {
    const { log, kube, traffic } = this.d
    const { stable, candidate, namespace } = this.current
    return log.group('Roll back', async () => {
      log.warning(`rolling back: ${reason}`)
      this.current = { ...this.current, ...extra, reason }
      if (this.current.weights[candidate.color] > 0 || this.current.step >= 0) {
        const w = await traffic.setWeights(candidate.color, 0, ROLLBACK_RETRY)
        await this.save({ weights: w.weights, virtualServiceVersion: w.resourceVersion }, true)
        log.info(`weights ${formatWeights(w.weights)}`)
      } else {
        log.info(
          `no traffic was shifted: weights stay ${formatWeights(weightsFor(candidate.color, 0))}`
        )
      }
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
      await this.d.leases.save(this.current, { release: true, hard: true })
      log.info(`${stable.color} is stable at 100%`)
      return { result: 'rolled-back' as const, record: this.current, reason }
    })
  }
}
