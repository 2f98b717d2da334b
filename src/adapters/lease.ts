/**
 * The lock and the rollout record, in one coordination.k8s.io/v1 Lease per service
 * (`istio-bluegreen-<service>`): the holder and renew time make the lock, an annotation holds the
 * record. Every write is guarded by resourceVersion.
 */
import { lockHeldMessage } from '../core/commands.js'
import { int32Count, metadataProblems, microTime } from '../core/limits.js'
import { recordAnnotation, type RolloutRecord } from '../core/record.js'
import { upgradeRecord } from '../core/schema.js'
import type { RecordState, RecordStore } from '../ports.js'
import { type KubeApi, type KubeObject, KubeError, LEASES, ROLLBACK_RETRY } from './kube.js'

export const RECORD_ANNOTATION = 'istio-bluegreen.io/record'

export function leaseName(service: string): string {
  return `istio-bluegreen-${service}`
}

/** Another live run holds the lock: worth waiting for (wait-for-lock). */
export class LockHeldError extends Error {
  constructor(
    readonly holder: string,
    readonly runUrl: string | undefined,
    times: { renewedAt?: string; expiresAt?: string } = {}
  ) {
    super(lockHeldMessage({ holder, runUrl, ...times }))
    this.name = 'LockHeldError'
  }
}

/**
 * This run held the lock and lost it: a person's rollback or abort (or, after this run stopped
 * renewing it, another run) took it over. The rollout is no longer this run's: it must stop
 * without touching traffic or the record.
 */
export class LockLostError extends Error {
  constructor(
    /** Who holds the lock now; undefined when the run that took it over already released it. */
    readonly holder: string | undefined,
    readonly stoppedBy: RolloutRecord['stoppedBy'] | undefined,
    message: string
  ) {
    super(message)
    this.name = 'LockLostError'
  }
}

/** The LockLostError a fresh read of the Lease explains: who took the rollout over, and how. */
export function lockLost(state: LeaseState): LockLostError {
  const stop = state.record?.stoppedBy
  const url = stop?.runUrl ?? holderRunUrl(state) ?? state.record?.heldBy?.runUrl
  const who = stop
    ? `\`${stop.command}\` by ${stop.actor ? `@${stop.actor}` : 'a person'}${url ? ` (${url})` : ''} at ${stop.at}`
    : `${state.holder ?? state.record?.heldBy?.id ?? 'another run'}${url ? ` (${url})` : ''}`
  return new LockLostError(
    state.holder,
    stop,
    `the rollout was taken over by ${who}; this run stopped without writing weights: the rollout is no longer its`
  )
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

export type LeaseState = RecordState

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
  // Upgraded from the format it was written in; a newer format than this code knows is refused.
  const record = raw
    ? upgradeRecord(JSON.parse(raw), `the Lease ${lease.metadata.name}'s record annotation`)
    : undefined
  const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0
  const expiry = renewed + (spec.leaseDurationSeconds ?? 0) * 1000
  return {
    holder: spec.holderIdentity ?? undefined,
    expired: now > expiry,
    ...(spec.renewTime
      ? { renewedAt: new Date(renewed).toISOString(), expiresAt: new Date(expiry).toISOString() }
      : {}),
    record
  }
}

/**
 * Call `fn` every `ms` until the returned function is called: a real interval by default (one
 * that does not keep the process alive); virtual time in in-process tests.
 */
export type Repeat = (ms: number, fn: () => void) => () => void

const realRepeat: Repeat = (ms, fn) => {
  const timer = setInterval(fn, ms)
  timer.unref()
  return () => clearInterval(timer)
}

export class LeaseStore implements RecordStore {
  private lease?: KubeObject
  /** Writes are chained so a heartbeat never races a record update. */
  private chain: Promise<unknown> = Promise.resolve()
  private stopBeating?: () => void
  /** Set once a write found the lock held by another run: every later write fails with it. */
  private lost?: LockLostError

  private readonly durationSeconds: number
  private readonly now: () => number
  private readonly repeat: Repeat

  /**
   * The Lease of `service` in `namespace`, held as `identity`. `durationSeconds`: how long the
   * lock outlives its holder's last renewal (default 60); `now` and `repeat`: the clock and the
   * heartbeat's timer (the wall clock and a real, unref'd interval by default).
   */
  constructor(
    private readonly kube: KubeApi,
    private readonly namespace: string,
    private readonly service: string,
    readonly identity: string,
    options: { durationSeconds?: number; now?: () => number; repeat?: Repeat } = {}
  ) {
    this.durationSeconds = options.durationSeconds ?? 60
    this.now = options.now ?? Date.now
    this.repeat = options.repeat ?? realRepeat
  }

  async read(): Promise<LeaseState> {
    return leaseState(
      await this.kube.get(LEASES, this.namespace, leaseName(this.service)),
      this.now()
    )
  }

  /**
   * Take the lock and write the record. A lock whose holder stopped renewing is taken over; a
   * live one makes LockHeldError, unless `override` (a person's rollback or abort): then it is
   * taken over too, and its holder finds out at its next write. `next` may build the record from
   * the one found, so a takeover never writes over a newer record than the one it read. Returns
   * the record that was there before, if any, and whom the lock was taken from.
   */
  async acquire(
    next: RolloutRecord | ((found: RolloutRecord | undefined) => RolloutRecord),
    options: { override?: boolean } = {}
  ): Promise<{
    previous?: RolloutRecord
    record: RolloutRecord
    tookOverFrom?: string
    live?: boolean
  }> {
    const name = leaseName(this.service)
    for (;;) {
      const current = await this.kube.get(LEASES, this.namespace, name)
      const state = leaseState(current, this.now())
      const other = state.holder !== undefined && state.holder !== this.identity
      if (other && !state.expired && !options.override) {
        throw new LockHeldError(state.holder as string, holderRunUrl(state), state)
      }
      const record = typeof next === 'function' ? next(state.record) : next
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
      this.lost = undefined
      return {
        previous: state.record,
        record,
        ...(other ? { tookOverFrom: state.holder, live: !state.expired } : {})
      }
    }
  }

  /** Throw the LockLostError a heartbeat or write already met, if any (no I/O). */
  assertHeld(): void {
    if (this.lost) throw this.lost
  }

  /** Read the Lease and throw LockLostError unless this run still holds the lock. */
  async verify(): Promise<void> {
    this.assertHeld()
    const state = await this.read()
    if (state.holder !== this.identity) throw this.lose(state)
  }

  private lose(state: LeaseState): LockLostError {
    this.lost = lockLost(state)
    this.stopHeartbeat()
    return this.lost
  }

  /**
   * Write the record (and renew the lock), guarded by the Lease's resourceVersion. On a conflict
   * the Lease is read again: if this run no longer holds it (a person's rollback or abort took it
   * over), LockLostError, and nothing is written.
   */
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
    this.assertHeld()
    const annotation = record ? recordAnnotation(record) : undefined
    for (;;) {
      const lease = this.lease ?? (await this.kube.get(LEASES, this.namespace, name))
      if (!lease) throw new Error(`the Lease ${name} holding the rollout record disappeared`)
      const spec = (lease.spec ?? {}) as LeaseSpec
      if (spec.holderIdentity !== this.identity) {
        // A release whose answer was lost (the retry met the version it made itself): done.
        const landed =
          options.release &&
          !spec.holderIdentity &&
          annotation !== undefined &&
          lease.metadata.annotations?.[RECORD_ANNOTATION] === annotation
        if (landed) {
          this.lease = lease
          return
        }
        throw this.lose(leaseState(lease, this.now()))
      }
      const body: KubeObject = {
        ...lease,
        metadata: {
          ...lease.metadata,
          annotations: {
            ...lease.metadata.annotations,
            ...(annotation ? { [RECORD_ANNOTATION]: annotation } : {})
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
    this.stopHeartbeat()
    this.stopBeating = this.repeat((this.durationSeconds * 1000) / 3, () => {
      const next = this.chain.then(() => this.write(undefined, {}))
      this.chain = next.catch(onError)
    })
  }

  stopHeartbeat(): void {
    this.stopBeating?.()
    this.stopBeating = undefined
  }
}
