/**
 * When a step's checks run and what each does besides judging: plain functions of the clock and
 * of what the previous checks saw, so that the engine only sleeps and acts.
 *
 * - **When**: every check interval, counted from the step's start (a fixed rate: a check's own
 *   I/O does not push the next one back), but pulled earlier within its interval to just after
 *   the scrape that lands by then, when the metrics say how old their newest sample is. Checks at
 *   a 1 s interval then read a scrape a few tens of ms old instead of up to a second old, which is
 *   most of what a failing candidate's rollback waits for. The last check of a step is at its
 *   end, so the bake time stays what the user set.
 * - **What**: the record (check history and evidence) and the drift read of the router's objects
 *   are written and read at most every BACKGROUND_MS while a step bakes; a check whose verdict ends
 *   the step leaves the record to the action that follows, which writes it before it acts.
 */
import type { StepVerdict } from './judge.js'

/**
 * How long a baking step may leave its check history unwritten and the router unread for drift.
 * The check interval's default: at the defaults every check still writes and reads; at a 1 s
 * interval one check in ten does.
 */
export const BACKGROUND_MS = 10_000

/** How long after its timestamp a scrape's samples are first looked for. */
export const FIRST_SCRAPE_MARGIN_MS = 50

export interface CheckDuties {
  /** Write the record (check history, evidence) now. */
  record: boolean
  /** Read the router's objects and compare them with the record (drift). */
  drift: boolean
}

/**
 * What one check does besides judging, while its step bakes: a baking (or extended) step writes
 * the record and reads for drift when the last of each is BACKGROUND_MS old or more. A verdict
 * that ends the step (advance, rollback, inconclusive) leaves the record to what follows (the
 * next step, the rollback, the pause or the promotion), which writes it before it acts; the
 * engine looks at the objects as such a step ends, except for a rollback, which writes them.
 */
export function checkDuties(input: {
  verdict: StepVerdict['kind']
  now: number
  /** When this run last wrote the record. */
  recordedAt: number
  /** When this run last read the router's objects for drift (or wrote them). */
  lookedAt: number
}): CheckDuties {
  if (input.verdict !== 'bake' && input.verdict !== 'extend') return { record: false, drift: false }
  return {
    record: input.now - input.recordedAt >= BACKGROUND_MS,
    drift: input.now - input.lookedAt >= BACKGROUND_MS
  }
}

/** What the checks have learnt of the metrics' scrapes. */
export interface ScrapeTiming {
  /** When the newest sample read at the last check was taken, on the engine's clock. */
  newestAt?: number
  /** How long after its timestamp a scrape is waited for; doubled when a check finds it missing. */
  marginMs: number
}

export const INITIAL_SCRAPE_TIMING: ScrapeTiming = { marginMs: FIRST_SCRAPE_MARGIN_MS }

/**
 * The timing after a check whose newest sample was `ageMs` old (undefined: the metrics cannot
 * say). A check aimed just after a scrape (nextCheckAt's `scrape`) that did not find it waited
 * too little: the margin doubles, up to a quarter of the interval (a slow scrape, or one less
 * frequent than the checks, which no margin fixes). A check not aimed at one (the step's last, at
 * its end) says nothing of the margin.
 */
export function observeScrape(
  timing: ScrapeTiming,
  check: { at: number; scrape?: number },
  ageMs: number | undefined,
  intervalMs: number
): ScrapeTiming {
  if (ageMs === undefined || !Number.isFinite(ageMs) || ageMs < 0) {
    return { marginMs: timing.marginMs }
  }
  const newestAt = check.at - ageMs
  // Its timestamp, read through two clocks, within a few ms of the one aimed at.
  const missed = check.scrape !== undefined && newestAt < check.scrape - intervalMs / 10
  const marginMs = missed ? Math.min(timing.marginMs * 2, intervalMs / 4) : timing.marginMs
  return { newestAt, marginMs }
}

/**
 * When the next check of a step reads the metrics, and the scrape it is aimed at, if any.
 * `previous`: when the previous check was due (the step's start before its first check). One
 * interval later; or, once a scrape time is known, `marginMs` after the scrape that lands last by
 * then, assuming scrapes every interval from the newest one seen: earlier than the interval by
 * less than half of it, else one scrape later (by less than half an interval). From then on the
 * checks run every interval, each just after a scrape. Never after the step's `deadline` (the
 * last check is at the end of the bake time) and never before `now`; a check moved by either is
 * aimed at no scrape.
 */
export function nextCheckAt(input: {
  previous: number
  intervalMs: number
  deadline: number
  now: number
  timing: ScrapeTiming
}): { at: number; scrape?: number } {
  const { previous, intervalMs, deadline, now, timing } = input
  let at = previous + intervalMs
  let scrape: number | undefined
  if (timing.newestAt !== undefined && intervalMs > 0) {
    const since = at - timing.marginMs - timing.newestAt
    const aligned = timing.newestAt + Math.floor(since / intervalMs) * intervalMs + timing.marginMs
    at = aligned >= previous + intervalMs / 2 ? aligned : aligned + intervalMs
    scrape = at - timing.marginMs
  }
  if (at > deadline) return { at: Math.max(now, deadline) }
  if (at < now) return { at: now }
  return scrape === undefined ? { at } : { at, scrape }
}
