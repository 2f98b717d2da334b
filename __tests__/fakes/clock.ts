/** A Clock whose sleeps return at once, moving time forward: an engine run takes no wall time. */
import type { Clock, Log } from '../../src/log.js'

export class FakeClock implements Clock {
  constructor(private t = Date.parse('2026-11-25T10:00:00.000Z')) {}
  now(): number {
    return this.t
  }
  async sleep(ms: number): Promise<void> {
    this.t += Math.max(0, ms)
  }
}

/** A Log that keeps every line, `info: …` or `warning: …`, and runs groups inline. */
export class RecordingLog implements Log {
  readonly lines: string[] = []
  info(message: string): void {
    this.lines.push(`info: ${message}`)
  }
  warning(message: string): void {
    this.lines.push(`warning: ${message}`)
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.lines.push(`group: ${name}`)
    return fn()
  }
}
