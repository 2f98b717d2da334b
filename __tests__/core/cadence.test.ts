/** When a step's checks run and what each writes and reads besides judging (core/cadence.ts). */
import {
  BACKGROUND_MS,
  checkDuties,
  FIRST_SCRAPE_MARGIN_MS,
  nextCheckAt,
  observeScrape,
  type ScrapeTiming
} from '../../src/core/cadence.js'
import type { StepVerdict } from '../../src/core/judge.js'

describe('checkDuties: the record and the drift read while a step bakes', () => {
  const T = 1_000_000
  it.each<[string, StepVerdict['kind'], number, number, { record: boolean; drift: boolean }]>([
    [
      'a check right after the step wrote both',
      'bake',
      T - 1000,
      T - 1000,
      { record: false, drift: false }
    ],
    ['9.9 s after both', 'bake', T - 9900, T - 9900, { record: false, drift: false }],
    [
      '10 s after both',
      'bake',
      T - BACKGROUND_MS,
      T - BACKGROUND_MS,
      { record: true, drift: true }
    ],
    [
      'the record 10 s old, the objects read 2 s ago',
      'bake',
      T - 10_000,
      T - 2000,
      { record: true, drift: false }
    ],
    [
      'the objects 12 s unread, the record fresh (a heartbeat does not count)',
      'bake',
      T - 500,
      T - 12_000,
      { record: false, drift: true }
    ],
    [
      'an extended step bakes the same way',
      'extend',
      T - 10_000,
      T - 10_000,
      { record: true, drift: true }
    ],
    // The action that follows writes the record before it acts (the engine looks at the
    // objects as such a step ends, whatever the time: not a duty of the bake).
    [
      'advance: the next step’s announcement (or the promotion) carries the history',
      'advance',
      T - 60_000,
      T - 60_000,
      { record: false, drift: false }
    ],
    [
      'rollback: its first write carries the history',
      'rollback',
      T - 60_000,
      T - 60_000,
      { record: false, drift: false }
    ],
    [
      'inconclusive: the pause records it',
      'inconclusive',
      T - 60_000,
      T - 60_000,
      { record: false, drift: false }
    ],
    ['nothing written yet in this run', 'bake', -Infinity, -Infinity, { record: true, drift: true }]
  ])('%s', (_name, verdict, recordedAt, lookedAt, expected) => {
    expect(checkDuties({ verdict, now: T, recordedAt, lookedAt })).toEqual(expected)
  })

  it('at a 1 s interval, one check in ten writes the record; at the default 10 s, every one', () => {
    for (const [intervalMs, writes] of [
      [1000, 6],
      [10_000, 60]
    ] as const) {
      let recordedAt = 0
      let count = 0
      for (let now = intervalMs; now <= 60 * 1000 * (intervalMs / 1000); now += intervalMs) {
        if (checkDuties({ verdict: 'bake', now, recordedAt, lookedAt: now }).record) {
          count++
          recordedAt = now
        }
      }
      expect(count).toBe(writes)
    }
  })
})

describe('observeScrape: what the checks learn of the scrapes', () => {
  const start: ScrapeTiming = { marginMs: FIRST_SCRAPE_MARGIN_MS }
  // [name, timing, check time, the scrape it was aimed at, age of the newest sample, then]
  it.each<[string, ScrapeTiming, number, number | undefined, number | undefined, ScrapeTiming]>([
    ['no age (no series, or a source that cannot say)', start, 5000, 4950, undefined, start],
    ['a negative age (clocks apart) says nothing either', start, 5000, 4950, -30, start],
    [
      'the first age: the newest sample on the engine clock',
      start,
      5000,
      undefined,
      420,
      { newestAt: 4580, marginMs: 50 }
    ],
    [
      'the scrape aimed at is there: the margin stays',
      { newestAt: 4580, marginMs: 50 },
      5630,
      5580,
      46,
      { newestAt: 5584, marginMs: 50 }
    ],
    [
      'it is not (the one before is the newest): the margin doubles',
      { newestAt: 4580, marginMs: 50 },
      5630,
      5580,
      1046,
      { newestAt: 4584, marginMs: 100 }
    ],
    [
      '… up to a quarter of the interval',
      { newestAt: 4580, marginMs: 200 },
      5780,
      5580,
      1200,
      { newestAt: 4580, marginMs: 250 }
    ],
    // The step's last check, at its end, sees what the one before saw: nothing to learn.
    [
      'a check aimed at no scrape leaves the margin',
      { newestAt: 4580, marginMs: 50 },
      5300,
      undefined,
      720,
      { newestAt: 4580, marginMs: 50 }
    ]
  ])('%s', (_name, timing, at, scrape, ageMs, expected) => {
    const check = scrape === undefined ? { at } : { at, scrape }
    expect(observeScrape(timing, check, ageMs, 1000)).toEqual(expected)
  })
})

describe('nextCheckAt: when the next check reads, and the scrape it is aimed at', () => {
  const at = (
    previous: number,
    timing: ScrapeTiming,
    o: { intervalMs?: number; deadline?: number; now?: number } = {}
  ): { at: number; scrape?: number } =>
    nextCheckAt({
      previous,
      intervalMs: o.intervalMs ?? 1000,
      deadline: o.deadline ?? Infinity,
      now: o.now ?? previous,
      timing
    })

  it.each<[string, number, ScrapeTiming, Parameters<typeof at>[2], [number, number?]]>([
    [
      'without scrape times: one interval after the previous one was due',
      10_000,
      { marginMs: 50 },
      {},
      [11_000]
    ],
    // Its own I/O does not push the schedule back: the previous check was due at 10 000.
    [
      'a fixed rate, however long the previous check took',
      10_000,
      { marginMs: 50 },
      { now: 10_300 },
      [11_000]
    ],
    // Scrapes at …, 9 600, 10 600: the one due by 11 000 lands at 10 600 + 50.
    [
      'pulled earlier to just after the scrape due by then',
      10_000,
      { newestAt: 9600, marginMs: 50 },
      {},
      [10_650, 10_600]
    ],
    [
      'the same, whichever scrape was seen last',
      10_000,
      { newestAt: 5600, marginMs: 50 },
      {},
      [10_650, 10_600]
    ],
    // The scrape due by 11 000 lands at 10 460, less than half an interval after 10 000: the
    // next one, at 11 460.
    [
      'one scrape later rather than more than half an interval early',
      10_000,
      { newestAt: 9410, marginMs: 50 },
      {},
      [11_460, 11_410]
    ],
    [
      'a scrape landing just at the interval',
      10_000,
      { newestAt: 9950, marginMs: 50 },
      {},
      [11_000, 10_950]
    ],
    ['the margin counts', 10_000, { newestAt: 9600, marginMs: 250 }, {}, [10_850, 10_600]],
    // The step's last check is at its end, so the bake time stays the user's.
    [
      'never after the deadline',
      10_000,
      { newestAt: 9600, marginMs: 50 },
      { deadline: 10_500 },
      [10_500]
    ],
    [
      'never before now (a check that took longer than an interval)',
      10_000,
      { marginMs: 50 },
      { now: 11_400 },
      [11_400]
    ],
    // A 10 s interval, a scrape seen at 8.3 s (scrapes every second, which the checks cannot
    // tell): 50 ms after it, then every 10 s from there, each just after a scrape.
    [
      'a longer interval than the scrape',
      0,
      { newestAt: 8300, marginMs: 50 },
      { intervalMs: 10_000 },
      [8350, 8300]
    ]
  ])('%s', (_name, previous, timing, options, expected) => {
    const [when, scrape] = expected
    expect(at(previous, timing, options)).toEqual(
      scrape === undefined ? { at: when } : { at: when, scrape }
    )
  })

  it('checks every interval, each just after a scrape, once it knows the scrapes (1 s both)', () => {
    // Scrapes every second at .37 (readable right away); the step starts at 100.0 s, ends at 106.2.
    const scrapeAt = (t: number): number => Math.floor((t - 370) / 1000) * 1000 + 370
    let timing: ScrapeTiming = { marginMs: FIRST_SCRAPE_MARGIN_MS }
    let due = 100_000
    const checks: number[] = []
    for (let i = 0; i < 7; i++) {
      const next = nextCheckAt({
        previous: due,
        intervalMs: 1000,
        deadline: 106_200,
        now: due,
        timing
      })
      due = next.at
      checks.push(next.at)
      timing = observeScrape(timing, next, next.at - scrapeAt(next.at), 1000)
    }
    // The first knows no scrape yet; the second moves to just after one (one scrape later, as
    // 101 420 would be less than half an interval after 101 000); the last is at the step's end.
    expect(checks).toEqual([101_000, 102_420, 103_420, 104_420, 105_420, 106_200, 106_200])
    expect(timing.marginMs).toBe(FIRST_SCRAPE_MARGIN_MS)
  })

  it('a margin too short for the scrape to be read grows until the checks find it', () => {
    // Each scrape (at .37) can be read 180 ms after its timestamp.
    const readable = (t: number): number => Math.floor((t - 550) / 1000) * 1000 + 370
    let timing: ScrapeTiming = { marginMs: FIRST_SCRAPE_MARGIN_MS }
    let due = 100_000
    const seen: Array<[number, number]> = []
    for (let i = 0; i < 6; i++) {
      const next = nextCheckAt({
        previous: due,
        intervalMs: 1000,
        deadline: Infinity,
        now: due,
        timing
      })
      due = next.at
      timing = observeScrape(timing, next, next.at - readable(next.at), 1000)
      seen.push([next.at, timing.marginMs])
    }
    // Each check that misses its scrape doubles the margin: from the fourth on, each finds it.
    expect(seen).toEqual([
      [101_000, 50],
      [102_420, 100],
      [103_470, 200],
      [104_570, 200],
      [105_570, 200],
      [106_570, 200]
    ])
  })
})
