/**
 * Virtual time: a discrete-event clock for in-process runs of the commands. It is the engine's
 * Clock (now, sleep) and the timers of the sandbox's controller and of the Lease heartbeat; time
 * moves only from one timer to the next. `run` drives it: one turn of the event loop
 * (setImmediate) lets everything the last timer set off settle (promise chains, with no real I/O),
 * then the earliest due timer fires at its time, and so on until the awaited promise settles.
 * Timers due at the same instant fire in the order they were set, so a run is deterministic.
 *
 * It fails loudly instead of spinning: past `limitMs` of virtual time, past `maxAtOneInstant`
 * timers at one instant (a zero-delay loop), or when nothing is scheduled and the awaited promise
 * stays pending for `stallMs` of real time (it waits on something virtual time does not drive).
 */
import type { Clock } from '../../src/log.js'

export interface VirtualTimerHandle {
  readonly id: number
}

interface Timer {
  id: number
  at: number
  fn: () => void
}

/** The timer functions the sandbox's deployment controller takes. */
export interface Timers {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export interface VirtualTimeOptions {
  /** Virtual start, ms since the epoch. */
  start?: number
  /** How far virtual time may run past its start before `run` fails (default one week). */
  limitMs?: number
  /** Timers at one instant before `run` fails (default 100 000). */
  maxAtOneInstant?: number
  /** Real ms `run` waits with nothing scheduled before it fails (default 5 s). */
  stallMs?: number
}

export class RunawayError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RunawayError'
  }
}

export class VirtualTime implements Clock, Timers {
  private t: number
  private readonly start: number
  private readonly limitMs: number
  private readonly maxAtOneInstant: number
  private readonly stallMs: number
  private readonly queue: Timer[] = []
  private nextId = 1
  private atThisInstant = 0
  private readonly advanceHooks: Array<(now: number) => void> = []
  private pump?: Promise<void>
  /** Whether each promise a `run` awaits has settled: the pump stops when all have. */
  private readonly runs = new Set<() => boolean>()
  /** Timers fired so far. */
  fired = 0

  constructor(options: VirtualTimeOptions = {}) {
    this.start = options.start ?? Date.parse('2026-11-25T10:00:00.000Z')
    this.t = this.start
    this.limitMs = options.limitMs ?? 7 * 24 * 3600_000
    this.maxAtOneInstant = options.maxAtOneInstant ?? 100_000
    this.stallMs = options.stallMs ?? 5000
  }

  now(): number {
    return this.t
  }

  /** Resolves after `ms` of virtual time; an aborted signal drops the timer and resolves at once. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve()
      const handle = this.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }, ms)
      const onAbort = (): void => {
        this.clearTimeout(handle)
        resolve()
      }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  setTimeout(fn: () => void, ms: number): VirtualTimerHandle {
    const timer: Timer = { id: this.nextId++, at: this.t + Math.max(0, ms), fn }
    // Sorted by time, then by the order they were set: the new one goes after its equals.
    let i = this.queue.length
    while (i > 0 && (this.queue[i - 1] as Timer).at > timer.at) i--
    this.queue.splice(i, 0, timer)
    return { id: timer.id }
  }

  clearTimeout(handle: unknown): void {
    if (!handle || typeof handle !== 'object' || !('id' in handle)) return
    const i = this.queue.findIndex((t) => t.id === (handle as VirtualTimerHandle).id)
    if (i >= 0) this.queue.splice(i, 1)
  }

  /** Call `fn` every `ms` until the returned function is called. */
  every(ms: number, fn: () => void): () => void {
    let handle: VirtualTimerHandle | undefined
    let stopped = false
    const tick = (): void => {
      if (stopped) return
      handle = this.setTimeout(tick, ms)
      fn()
    }
    handle = this.setTimeout(tick, ms)
    return () => {
      stopped = true
      this.clearTimeout(handle)
    }
  }

  /** Called each time virtual time moves on, with the new time, before the timers due then fire. */
  onAdvance(hook: (now: number) => void): void {
    this.advanceHooks.push(hook)
  }

  /** Timers pending, for tests of the clock itself. */
  get pending(): number {
    return this.queue.length
  }

  /** Drive virtual time until `promise` settles; its value, or its rejection. */
  async run<T>(promise: Promise<T>): Promise<T> {
    let settled = false
    const watched = promise.then(
      (value) => {
        settled = true
        return value
      },
      (error: unknown) => {
        settled = true
        throw error
      }
    )
    // Keep the rejection for the caller; the pump only needs to know it settled.
    watched.catch(() => undefined)
    const isSettled = (): boolean => settled
    this.runs.add(isSettled)
    try {
      while (!settled) {
        this.pump ??= this.step().finally(() => (this.pump = undefined))
        await Promise.race([
          this.pump,
          watched.then(
            () => undefined,
            () => undefined
          )
        ])
      }
    } finally {
      this.runs.delete(isSettled)
    }
    return watched
  }

  /** Advance virtual time by `ms`, firing every timer due meanwhile. */
  async advance(ms: number): Promise<void> {
    const until = this.t + ms
    const done = new Promise<void>((resolve) => this.setTimeout(resolve, until - this.t))
    await this.run(done)
  }

  private allSettled(): boolean {
    return [...this.runs].every((settled) => settled())
  }

  /**
   * One pump step: a turn of the event loop, then the earliest timer, unless every awaited
   * promise settled meanwhile (nothing fires after the result is in).
   */
  private async step(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve))
    let stalled = 0
    while (!this.allSettled() && this.queue.length === 0) {
      // Nothing scheduled: the awaited promise waits on real I/O (a file read) or on nothing.
      if (stalled >= this.stallMs) {
        throw new RunawayError(
          `nothing is scheduled in virtual time and the run has not finished after ${this.stallMs} ms of real time: it waits on something virtual time does not drive (a real timer, real I/O, or a promise nobody settles)`
        )
      }
      await new Promise<void>((resolve) => setTimeout(resolve, 10))
      stalled += 10
    }
    if (this.allSettled()) return
    const timer = this.queue.shift() as Timer
    if (timer.at > this.start + this.limitMs) {
      throw new RunawayError(
        `virtual time ran past its limit (${this.limitMs / 3600_000} h after the start) with the run still going: a runaway loop?`
      )
    }
    if (timer.at > this.t) {
      this.t = timer.at
      this.atThisInstant = 0
      for (const hook of this.advanceHooks) hook(this.t)
    }
    if (++this.atThisInstant > this.maxAtOneInstant) {
      throw new RunawayError(
        `more than ${this.maxAtOneInstant} timers fired at ${new Date(this.t).toISOString()} without time moving: a zero-delay loop?`
      )
    }
    this.fired++
    timer.fn()
  }
}
