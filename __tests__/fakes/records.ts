/**
 * An in-memory RecordStore: one record and one lock, as the Lease keeps them, with the same
 * rules (a live holder refuses others unless overridden; a write by a run that lost the lock
 * fails with LockLostError). `takeOver` plays a person's rollback taking the lock.
 */
import { LockHeldError, lockLost, LockLostError } from '../../src/adapters/lease.js'
import type { RolloutRecord } from '../../src/core/record.js'
import type { RecordState, RecordStore } from '../../src/ports.js'

export class MemoryRecordStore implements RecordStore {
  holder?: string
  record?: RolloutRecord
  /** Every record saved, in order (a copy each). */
  readonly saved: RolloutRecord[] = []
  private lost?: LockLostError

  constructor(
    readonly identity: string,
    initial: { holder?: string; record?: RolloutRecord } = {}
  ) {
    this.holder = initial.holder
    this.record = initial.record
  }

  async read(): Promise<RecordState> {
    return {
      ...(this.holder ? { holder: this.holder } : {}),
      expired: this.holder === undefined,
      ...(this.record ? { record: structuredClone(this.record) } : {})
    }
  }

  async acquire(
    next: RolloutRecord | ((found: RolloutRecord | undefined) => RolloutRecord),
    options: { override?: boolean } = {}
  ): Promise<{ previous?: RolloutRecord; record: RolloutRecord; tookOverFrom?: string }> {
    const other = this.holder !== undefined && this.holder !== this.identity
    if (other && !options.override) throw new LockHeldError(this.holder as string, undefined)
    const previous = this.record
    const record = typeof next === 'function' ? next(previous) : next
    const tookOverFrom = other ? this.holder : undefined
    this.holder = this.identity
    this.store(record)
    this.lost = undefined
    return { ...(previous ? { previous } : {}), record, ...(tookOverFrom ? { tookOverFrom } : {}) }
  }

  async save(record: RolloutRecord, options: { release?: boolean } = {}): Promise<void> {
    this.assertHeld()
    if (this.holder !== this.identity) {
      this.lost = lockLost(await this.read())
      throw this.lost
    }
    this.store(record)
    if (options.release) this.holder = undefined
  }

  assertHeld(): void {
    if (this.lost) throw this.lost
  }

  async verify(): Promise<void> {
    this.assertHeld()
    if (this.holder !== this.identity) {
      this.lost = lockLost(await this.read())
      throw this.lost
    }
  }

  startHeartbeat(): void {}
  stopHeartbeat(): void {}

  /** Another run (a person's rollback) takes the lock with `record`. */
  takeOver(by: string, record: RolloutRecord): void {
    this.holder = by
    this.store(record)
  }

  private store(record: RolloutRecord): void {
    // Through JSON, as the Lease annotation does: nothing the store keeps is shared with the run.
    this.record = JSON.parse(JSON.stringify(record)) as RolloutRecord
    this.saved.push(this.record)
  }
}
