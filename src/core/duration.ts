/** Parsing and printing of durations as users write them in inputs: `500ms`, `30s`, `5m`, `1h`, `1m30s`. */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const DURATION = /^(?:\d+(?:ms|s|m|h))+$/
const PART = /(\d+)(ms|s|m|h)/g

/** Milliseconds in `text`, or undefined when it is not a duration of the accepted form. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim()
  if (!DURATION.test(trimmed)) return undefined
  let total = 0
  for (const [, amount, unit] of trimmed.matchAll(PART)) {
    total += Number(amount) * (UNIT_MS[unit as string] as number)
  }
  return total
}

/** Shortest exact form of a duration: 90000 → `1m30s`, 1500 → `1500ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  if (ms % 1000 !== 0) return `${ms}ms`
  let seconds = ms / 1000
  const parts: string[] = []
  for (const [unit, size] of [
    ['h', 3600],
    ['m', 60],
    ['s', 1]
  ] as const) {
    if (seconds >= size) {
      parts.push(`${Math.floor(seconds / size)}${unit}`)
      seconds %= size
    }
  }
  return parts.join('')
}

/** A PromQL range selector for a duration: whole seconds, at least 1s (`90s`, `1m` → `60s`). */
export function promRange(ms: number): string {
  return `${Math.max(1, Math.round(ms / 1000))}s`
}
