/**
 * One run of `deploy`: lock, deploy the candidate, wait until it is ready, shift weights step by
 * step while analysing the candidate, then promote or roll back. Decisions come from src/core;
 * this file sequences I/O and writes the record before each action it announces.
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
import { type CheckEntry, type Owner, type RolloutRecord, withCheck } from './core/record.js'
import {
  buildCandidate,
  type DeploymentObject,
  inMesh,
  type MeshPod,
  podTrouble,
  type PodObject,
  readiness
} from './core/workload.js'
import { DEPLOYMENTS, type Kube, KubeError, PODS, ROLLBACK_RETRY } from './adapters/kube.js'
import type { Prometheus } from './adapters/prometheus.js'
import type { LeaseStore } from './adapters/lease.js'
import { preflight, type Plan } from './preflight.js'
import type { Settings } from './inputs.js'
import type { Clock, Log } from './log.js'

export interface DeployDeps {
  settings: Readonly<Settings>
  kube: Kube
  prometheus: Prometheus
  leases: LeaseStore
  namespace: string
  owner: Owner
  runId: string
  log: Log
  clock: Clock
}

export interface Outcome {
  result: 'promoted' | 'rolled-back'
  record: RolloutRecord
  /** The candidate's last check. */
  last?: CheckResult
  reason?: string
}

function percent(rate: number | undefined): string {
  return rate === undefined ? 'n/a' : `${(rate * 100).toFixed(2)}%`
}

function ms(value: number | undefined): string {
  return value === undefined ? 'n/a' : `${Math.round(value)}ms`
}

/** One log line per check: weights, measured values, thresholds, verdict. */
export function describeCheck(r: CheckResult, t: Thresholds, stable: Measurement): string {
  const parts = [
    `requests ${r.requests === undefined ? 'none' : Math.round(r.requests)} (min ${t.minRequests})`,
    `error rate ${percent(r.errorRate)} (max ${percent(t.maxErrorRate)})`,
    `p99 ${ms(r.p99Ms)}${t.maxP99Ms === undefined ? '' : ` (max ${t.maxP99Ms}ms)`}`,
    `stable: ${percent(stable.requests ? (stable.errors ?? 0) / stable.requests : undefined)} errors, p99 ${ms(stable.p99Ms)}`
  ]
  return `${parts.join(' · ')} → ${r.verdict.toUpperCase()}${r.reasons.length ? ` (${r.reasons.join('; ')})` : ''}`
}

class Run {
  private record!: RolloutRecord
  private plan!: Plan
  private last?: CheckResult
  private readonly thresholds: Thresholds

  constructor(private readonly d: DeployDeps) {
    this.thresholds = {
      maxErrorRate: d.settings.maxErrorRate,
      maxP99Ms: d.settings.maxP99Ms,
      minRequests: d.settings.minRequests
    }
  }

  private get s(): Readonly<Settings> {
    return this.d.settings
  }

  private async save(patch: Partial<RolloutRecord>, hard = false): Promise<void> {
    this.record = {
      ...this.record,
      ...patch,
      heartbeatAt: new Date(this.d.clock.now()).toISOString()
    }
    await this.d.leases.save(this.record, { hard })
  }

  async execute(): Promise<Outcome> {
    const { log } = this.d
    this.plan = await log.group('Preflight', async () => {
      const plan = await preflight(this.d)
      log.info(
        `stable ${plan.stable} (${plan.stableImage ?? '?'}) → candidate ${plan.candidate} (${plan.candidateImage ?? '?'})`
      )
      log.info(
        `steps ${this.s.steps.join(', ')}% · bake ${formatDuration(this.s.stepDurationMs)} each · check every ${formatDuration(this.s.checkIntervalMs)}`
      )
      log.info(
        `analysis: reporter="${this.s.reporter}" · window ${formatDuration(this.s.analysisWindowMs)} · error rate ≤ ${percent(this.s.maxErrorRate)}${this.s.maxP99Ms === undefined ? '' : ` · p99 ≤ ${this.s.maxP99Ms}ms`} · at least ${this.s.minRequests} requests · roll back after ${this.s.failureLimit} failed checks in a row · up to ${this.s.maxInconclusive} extensions`
      )
      return plan
    })
    const { stable, candidate } = this.plan
    const now = new Date(this.d.clock.now()).toISOString()
    this.record = {
      id: this.d.runId,
      phase: 'deploying',
      service: this.s.service,
      namespace: this.d.namespace,
      stable: { color: stable, image: this.plan.stableImage },
      candidate: { color: candidate, image: this.plan.candidateImage },
      steps: [...this.s.steps],
      step: -1,
      weights: weightsFor(candidate, 0),
      startedAt: now,
      heartbeatAt: now,
      owner: this.d.owner,
      checks: []
    }
    const { tookOverFrom } = await this.d.leases.acquire(this.record)
    if (tookOverFrom)
      log.warning(`took over the rollout lock from ${tookOverFrom}, which stopped renewing it`)
    this.d.leases.startHeartbeat((e) =>
      log.warning(`could not renew the rollout lock: ${(e as Error).message}`)
    )
    try {
      return await this.rollout()
    } catch (error) {
      // Something unexpected broke mid-rollout: put traffic back on the stable color first.
      const reason = `the rollout stopped on an error: ${(error as Error).message}`
      log.warning(reason)
      try {
        return await this.rollback(reason)
      } catch (rollbackError) {
        throw await this.failed(reason, rollbackError)
      }
    } finally {
      this.d.leases.stopHeartbeat()
    }
  }

  /**
   * The action could not bring traffic to a safe state by itself: record `failed` with what a
   * person must do (best effort: the API server may be what is failing), and say it loudly.
   */
  private async failed(reason: string, rollbackError: unknown): Promise<Error> {
    const { stable, candidate } = this.plan
    const todo = `set the weights of VirtualService ${this.s.virtualService} to ${stable}=100,${candidate}=0 by hand, then scale ${deploymentName(this.s.service, candidate)} to 0`
    const message = `${reason}; rolling back failed too (${(rollbackError as Error).message}): ${todo}`
    await this.save({
      phase: 'failed',
      reason: message,
      finishedAt: new Date(this.d.clock.now()).toISOString()
    }).catch((e: unknown) =>
      this.d.log.warning(`could not record the failure in the cluster: ${(e as Error).message}`)
    )
    return new Error(message)
  }

  private async rollout(): Promise<Outcome> {
    const { log } = this.d
    const { candidate } = this.plan

    if (this.plan.adoptFrom) {
      await log.group(
        `Adopt ${this.plan.adoptFrom.metadata.name} as ${deploymentName(this.s.service, 'blue')}`,
        async () => {
          const ok = await this.applyDeployment(
            'blue',
            this.plan.adoptFrom as DeploymentObject,
            undefined
          )
          if (!ok.ready)
            throw new Error(
              `the copy of ${this.plan.adoptFrom?.metadata.name} did not become ready: ${ok.reason}`
            )
        }
      )
    }

    const ready = await log.group(`Deploy ${deploymentName(this.s.service, candidate)}`, () =>
      this.applyDeployment(candidate, this.plan.template, this.s.image)
    )
    if (!ready.ready)
      return this.rollback(
        `candidate ${deploymentName(this.s.service, candidate)} did not become ready within ${formatDuration(this.s.readyTimeoutMs)}: ${ready.reason}`
      )

    await log.group('Prepare routing', async () => {
      if (await this.plan.traffic.ensureSubsets(this.s.colorLabel)) {
        log.info(
          `added subsets blue and green (label ${this.s.colorLabel}) to DestinationRule ${this.s.destinationRule}`
        )
      } else
        log.info(`DestinationRule ${this.s.destinationRule} already has subsets blue and green`)
      if (this.plan.adoptRoutes) {
        const w = await this.plan.traffic.setWeights(candidate, 0)
        log.info(`routes now name subsets: ${formatWeights(w.weights)}`)
        await this.save({ weights: w.weights, virtualServiceVersion: w.resourceVersion })
      }
    })

    await this.save({ phase: 'shifting' })
    for (const [i, weight] of this.s.steps.entries()) {
      const verdict = await log.group(
        `Step ${i + 1}/${this.s.steps.length}: ${candidate} ${weight}%`,
        () => this.step(i, weight)
      )
      if (verdict !== 'advance') return this.rollback(verdict.reason)
    }
    return this.promote()
  }

  /** Create or update the Deployment of `color` from a template, then wait until it is ready. */
  private async applyDeployment(
    color: Color,
    template: DeploymentObject,
    image: string | undefined
  ): Promise<{ ready: true } | { ready: false; reason: string }> {
    const { kube, log, namespace } = this.d
    const name = deploymentName(this.s.service, color)
    const replicas = Math.max(1, this.plan.stableDeployment.spec?.replicas ?? 1)
    const built = buildCandidate(template, {
      service: this.s.service,
      namespace,
      color,
      colorLabel: this.s.colorLabel,
      image,
      container: this.s.container,
      replicas
    })
    if ('error' in built) throw new Error(built.error)
    const existing = await kube.get(DEPLOYMENTS, namespace, name)
    if (existing) {
      await kube.replace(DEPLOYMENTS, namespace, {
        ...built.deployment,
        metadata: {
          ...existing.metadata,
          labels: built.deployment.metadata.labels,
          annotations: {
            ...existing.metadata.annotations,
            ...built.deployment.metadata.annotations
          }
        }
      } as never)
      log.info(`updated Deployment ${name}: ${replicas} replicas`)
    } else {
      await kube.create(DEPLOYMENTS, namespace, built.deployment as never)
      log.info(`created Deployment ${name}: ${replicas} replicas`)
    }
    const deadline = this.d.clock.now() + this.s.readyTimeoutMs
    let lastSummary = ''
    for (;;) {
      const d = (await kube.get(DEPLOYMENTS, namespace, name)) as DeploymentObject | undefined
      if (!d) throw new Error(`Deployment ${name} disappeared while waiting for it`)
      const r = readiness(d)
      if (r.summary !== lastSummary) log.info(`${name}: ${r.summary}`)
      lastSummary = r.summary
      if (r.ready || this.d.clock.now() >= deadline) {
        const pods = (await kube.list(
          PODS,
          namespace,
          `app=${this.s.service},${this.s.colorLabel}=${color}`
        )) as unknown as Array<PodObject & MeshPod>
        if (!r.ready) return { ready: false, reason: podTrouble(pods) || r.summary }
        const outside = pods.filter((p) => !inMesh(p)).length
        if (outside === 0) return { ready: true }
        return {
          ready: false,
          reason: `${outside} of ${pods.length} pods run without the istio-proxy sidecar, so weights would not apply to them (is sidecar.istio.io/inject "false" in the pod template?)`
        }
      }
      await this.d.clock.sleep(Math.min(1000, Math.max(0, deadline - this.d.clock.now())))
    }
  }

  private async step(
    index: number,
    weight: number
  ): Promise<'advance' | { kind: 'rollback'; reason: string }> {
    const { log, clock } = this.d
    const { candidate, stable } = this.plan
    await this.save({ step: index })
    const written = await this.plan.traffic.setWeights(candidate, weight)
    await this.save({ weights: written.weights, virtualServiceVersion: written.resourceVersion })
    log.info(
      `weights ${formatWeights(written.weights)} (VirtualService resourceVersion ${written.resourceVersion})`
    )

    const started = clock.now()
    const checks: CheckResult[] = []
    let extensions = 0
    for (;;) {
      const deadline = started + this.s.stepDurationMs * (extensions + 1)
      await clock.sleep(Math.max(0, Math.min(this.s.checkIntervalMs, deadline - clock.now())))
      const [m, sm] = await Promise.all([this.measure(candidate), this.measure(stable)])
      const result = evaluateCheck(m, this.thresholds)
      checks.push(result)
      this.last = result
      log.info(
        `check ${checks.length} · ${candidate} ${weight}% · ${describeCheck(result, this.thresholds, sm)}`
      )
      const entry: CheckEntry = {
        at: new Date(clock.now()).toISOString(),
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
      this.record = withCheck(this.record, entry)
      await this.save({})
      const v = stepVerdict(checks, clock.now() - started, extensions, {
        stepDurationMs: this.s.stepDurationMs,
        failureLimit: this.s.failureLimit,
        maxExtensions: this.s.maxInconclusive
      })
      if (v.kind === 'advance') return 'advance'
      if (v.kind === 'rollback') return v
      if (v.kind === 'extend') {
        extensions = v.extension
        log.warning(
          `step ${index + 1} extended (${extensions}/${this.s.maxInconclusive}) by ${formatDuration(this.s.stepDurationMs)}: ${v.reason}`
        )
      }
    }
  }

  private measure(color: Color): Promise<Measurement> {
    return this.d.prometheus.measure(
      {
        workload: deploymentName(this.s.service, color),
        namespace: this.d.namespace,
        reporter: this.s.reporter
      },
      this.s.analysisWindowMs
    )
  }

  private async promote(): Promise<Outcome> {
    const { log, kube, namespace } = this.d
    const { stable, candidate } = this.plan
    await log.group('Promote', async () => {
      const finishedAt = new Date(this.d.clock.now()).toISOString()
      await this.save({ phase: 'promoted', finishedAt }, true)
      await this.d.leases.save(this.record, { release: true, hard: true })
      log.info(`${candidate} is stable at 100%`)
      if (this.s.previousColor === 'scale-down') {
        await kube.patch(DEPLOYMENTS, namespace, deploymentName(this.s.service, stable), {
          spec: { replicas: 0 }
        })
        log.info(
          `scaled ${deploymentName(this.s.service, stable)} to 0 (previous-color: scale-down)`
        )
      } else
        log.info(
          `${deploymentName(this.s.service, stable)} keeps running for an instant switch back (previous-color: keep)`
        )
    })
    return { result: 'promoted', record: this.record, last: this.last }
  }

  /** Stable back to 100% in one write, then the candidate scaled to zero (kept for inspection). */
  private async rollback(reason: string): Promise<Outcome> {
    const { log, kube, namespace } = this.d
    const { stable, candidate } = this.plan
    return log.group('Roll back', async () => {
      log.warning(`rolling back: ${reason}`)
      this.record = { ...this.record, reason }
      if (this.record.weights[candidate] > 0 || this.record.step >= 0) {
        const w = await this.plan.traffic.setWeights(candidate, 0, ROLLBACK_RETRY)
        await this.save({ weights: w.weights, virtualServiceVersion: w.resourceVersion }, true)
        log.info(`weights ${formatWeights(w.weights)}`)
      } else
        log.info(`no traffic was shifted: weights stay ${formatWeights(weightsFor(candidate, 0))}`)
      try {
        await kube.patch(
          DEPLOYMENTS,
          namespace,
          deploymentName(this.s.service, candidate),
          { spec: { replicas: 0 } },
          ROLLBACK_RETRY
        )
        log.info(
          `scaled ${deploymentName(this.s.service, candidate)} to 0; it is kept for inspection`
        )
      } catch (error) {
        if (!(error instanceof KubeError && error.notFound)) throw error
      }
      await this.save(
        { phase: 'rolled-back', finishedAt: new Date(this.d.clock.now()).toISOString() },
        true
      )
      await this.d.leases.save(this.record, { release: true, hard: true })
      log.info(`${stable} is stable at 100%`)
      return { result: 'rolled-back' as const, record: this.record, last: this.last, reason }
    })
  }
}

/** Run `deploy` to its end: promoted or rolled back. Throws when preflight fails (nothing changed). */
export function deploy(deps: DeployDeps): Promise<Outcome> {
  return new Run(deps).execute()
}
