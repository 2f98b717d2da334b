/** Where the action writes its progress; @actions/core in the action, a recorder in tests. */
export interface Log {
  info(message: string): void
  warning(message: string): void
  /** Runs fn inside a collapsible group; the group closes even when fn throws. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>
}

export interface Clock {
  now(): number
  /** Resolves after `ms`, or as soon as `signal` aborts (then its timer is gone). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve()
      const done = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal?.addEventListener('abort', done, { once: true })
    })
}
