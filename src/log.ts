/** Where the action writes its progress; @actions/core in the action, a recorder in tests. */
export interface Log {
  info(message: string): void
  warning(message: string): void
  /** Runs fn inside a collapsible group; the group closes even when fn throws. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>
}

export interface Clock {
  now(): number
  sleep(ms: number): Promise<void>
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms))
}
