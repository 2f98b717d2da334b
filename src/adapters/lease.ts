/**
 * The lock and the rollout record, in one coordination.k8s.io/v1 Lease per service
 * (`istio-bluegreen-<service>`): the holder and renew time make the lock, an annotation holds the
 * record. Every write is guarded by resourceVersion.
 */
import { int32Count, metadataProblems, microTime } from '../core/limits.js'
import { recordAnnotation, type RolloutRecord } from '../core/record.js'
import { type Kube, type KubeObject, KubeError, LEASES, ROLLBACK_RETRY } from './kube.js'

export const RECORD_ANNOTATION = 'istio-bluegreen.io/record'

export function leaseName(service: string): string {
  return `istio-bluegreen-${service}`
}

export class LockHeldError extends Error {
  constructor(
    readonly holder: string,
    readonly runUrl: string | undefined
  ) {
    super(
      `another run holds the rollout lock for this service: ${holder}${runUrl ? ` (${runUrl})` : ''}; wait for it to finish`
    )
    this.name = 'LockHeldError'
  }
}

interface LeaseSpec {
  holderIdentity?: string | null
  leaseDurationSeconds?: number
  acquireTime?: string | null
  renewTime?: string | null
  leaseTransitions?: number
}

/** Refuse to send a Lease the API server would refuse (e.g. others' annotations too big). */
function writable(body: KubeObject): KubeObject {
  const problems = metadataProblems(body.metadata)
  if (problems.length > 0) {
    throw new Error(
      `the Lease ${body.metadata.name} cannot hold the rollout record: ${problems.join('; ')}`
    )
  }
  return body
}

export interface LeaseState {
  holder?: string
  /** Whether the holder stopped renewing for longer than the lease duration. */
  expired: boolean
  record?: RolloutRecord
}

/** The run URL of the lock's holder, when the record knows it (not the URL of a run it replaced). */
export function holderRunUrl(state: LeaseState): string | undefined {
  const r = state.record
  if (!r || !state.holder) return undefined
  if (r.heldBy?.id === state.holder) return r.heldBy.runUrl
  return r.id === state.holder ? r.owner.runUrl : undefined
}

/** Read the lock and record from a Lease object. */
export function leaseState(lease: KubeObject | undefined, now: number): LeaseState {
  if (!lease) return { expired: true }
  const spec = (lease.spec ?? {}) as LeaseSpec
  const raw = lease.metadata.annotations?.[RECORD_ANNOTATION]
  const record = raw ? (JSON.parse(raw) as RolloutRecord) : undefined
  const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0
  const expired = now - renewed > (spec.leaseDurationSeconds ?? 0) * 1000
  return { holder: spec.holderIdentity ?? undefined, expired, record }
}

export class LeaseStore {
  private lease?: KubeObject
  /** Writes are chained so a heartbeat never races a record update. */
  private chain: Promise<unknown> = Promise.resolve()
  private heartbeat?: ReturnType<typeof setInterval>

  constructor(
    private readonly kube: Kube,
    private readonly namespace: string,
    private readonly service: string,
    readonly identity: string,
    private readonly durationSeconds = 60,
    private readonly now: () => number = Date.now
  ) {}

  async read(): Promise<LeaseState> {
    return leaseState(
      await this.kube.get(LEASES, this.namespace, leaseName(this.service)),
      this.now()
    )
  }

  /**
   * Take the lock and write the record. A lock whose holder stopped renewing is taken over; a
   * live one makes LockHeldError. Returns the record that was there before, if any.
   */
  async acquire(
    record: RolloutRecord
  ): Promise<{ previous?: RolloutRecord; tookOverFrom?: string }> {
    const name = leaseName(this.service)
    for (;;) {
      const current = await this.kube.get(LEASES, this.namespace, name)
      const state = leaseState(current, this.now())
      if (state.holder && !state.expired && state.holder !== this.identity) {
        throw new LockHeldError(state.holder, holderRunUrl(state))
      }
      const now = microTime(this.now())
      const spec: LeaseSpec = {
        ...((current?.spec ?? {}) as LeaseSpec),
        holderIdentity: this.identity,
        leaseDurationSeconds: this.durationSeconds,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: int32Count(
          (((current?.spec ?? {}) as LeaseSpec).leaseTransitions ?? 0) + (current ? 1 : 0)
        )
      }
      const body: KubeObject = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          ...(current?.metadata ?? { name, namespace: this.namespace }),
          labels: {
            ...current?.metadata.labels,
            'app.kubernetes.io/managed-by': 'istio-bluegreen'
          },
          annotations: {
            ...current?.metadata.annotations,
            [RECORD_ANNOTATION]: recordAnnotation(record)
          }
        },
        spec: spec as Record<string, unknown>
      }
      try {
        this.lease = current
          ? await this.kube.replace(LEASES, this.namespace, writable(body))
          : await this.kube.create(LEASES, this.namespace, writable(body))
      } catch (error) {
        // Someone else wrote the Lease between our read and write: look again.
        if (error instanceof KubeError && error.code === 409) continue
        throw error
      }
      const tookOverFrom = state.holder && state.holder !== this.identity ? state.holder : undefined
      return { previous: state.record, tookOverFrom }
    }
  }

  /** Write the record (and renew the lock). Fails if the lock was lost to another run. */
  save(record: RolloutRecord, options: { release?: boolean; hard?: boolean } = {}): Promise<void> {
    const next = this.chain.then(() => this.write(record, options))
    this.chain = next.catch(() => undefined)
    return next
  }

  private async write(
    record: RolloutRecord | undefined,
    options: { release?: boolean; hard?: boolean }
  ): Promise<void> {
    const name = leaseName(this.service)
    for (;;) {
      const lease = this.lease ?? (await this.kube.get(LEASES, this.namespace, name))
      if (!lease) throw new Error(`the Lease ${name} holding the rollout record disappeared`)
      const spec = (lease.spec ?? {}) as LeaseSpec
      if (spec.holderIdentity && spec.holderIdentity !== this.identity) {
        throw new LockHeldError(spec.holderIdentity, undefined)
      }
      const body: KubeObject = {
        ...lease,
        metadata: {
          ...lease.metadata,
          annotations: {
            ...lease.metadata.annotations,
            ...(record ? { [RECORD_ANNOTATION]: recordAnnotation(record) } : {})
          }
        },
        spec: {
          ...spec,
          holderIdentity: options.release ? null : this.identity,
          renewTime: microTime(this.now())
        } as Record<string, unknown>
      }
      try {
        this.lease = await this.kube.replace(
          LEASES,
          this.namespace,
          writable(body),
          options.hard ? ROLLBACK_RETRY : undefined
        )
        return
      } catch (error) {
        if (error instanceof KubeError && error.conflict) {
          this.lease = undefined
          continue
        }
        throw error
      }
    }
  }

  /** Renew the lock every third of its duration until stopped. */
  startHeartbeat(onError: (error: unknown) => void): void {
    this.heartbeat = setInterval(
      () => {
        const next = this.chain.then(() => this.write(undefined, {}))
        this.chain = next.catch(onError)
      },
      (this.durationSeconds * 1000) / 3
    )
    this.heartbeat.unref()
  }

  stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat)
    this.heartbeat = undefined
  }
}
