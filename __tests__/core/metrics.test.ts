/** The metrics as data: counters differenced per series, the built-in PromQL, and bucket choice. */
import type { MetricDefinition, PlaceholderValues } from '../../src/core/custom-metrics.js'
import type { MetricSample } from '../../src/core/judge.js'
import {
  type Bucket,
  builtinMetrics,
  chooseBuckets,
  type ColorSnapshots,
  counterIncrease,
  type CounterSnapshot,
  customMetrics,
  judged,
  type LatencyBuckets,
  lifetimeShare,
  type MetricSpec,
  placeholders,
  queriesFor,
  ratioSince,
  type Reading,
  sampleCounts,
  seriesKey,
  type SeriesValue
} from '../../src/core/metrics.js'
import type { Reporter } from '../../src/core/queries.js'

/** One series of `istio_requests_total` from pod `pod`, response code `code`. */
function series(pod: string, value: number, code = '200'): SeriesValue {
  return { labels: { pod, response_code: code }, value }
}

const key = (pod: string, code = '200'): string => seriesKey({ pod, response_code: code })

describe('seriesKey', () => {
  it.each<[string, Record<string, string>, Record<string, string>]>([
    ['label order', { a: '1', b: '2' }, { b: '2', a: '1' }],
    ['three labels', { pod: 'p', code: '500', le: '250' }, { le: '250', pod: 'p', code: '500' }]
  ])('does not depend on %s', (_name, one, other) => {
    expect(seriesKey(one)).toBe(seriesKey(other))
  })

  it.each<[string, Record<string, string>, Record<string, string>]>([
    ['values', { a: '1' }, { a: '2' }],
    ['names', { a: '1' }, { b: '1' }],
    ['a value holding the separator', { a: '1,b="2"' }, { a: '1', b: '2' }]
  ])('tells series apart by %s', (_name, one, other) => {
    expect(seriesKey(one)).not.toBe(seriesKey(other))
  })
})

describe('counterIncrease', () => {
  it.each<[string, CounterSnapshot | undefined, SeriesValue[], number, CounterSnapshot]>([
    [
      'baseline (no snapshot before): nothing counted, every series kept',
      undefined,
      [series('a', 10), series('b', 5)],
      0,
      { [key('a')]: 10, [key('b')]: 5 }
    ],
    ['growth of one series', { [key('a')]: 10 }, [series('a', 25)], 15, { [key('a')]: 25 }],
    [
      'several series summed',
      { [key('a')]: 10, [key('b')]: 5, [key('a', '503')]: 1 },
      [series('a', 12), series('b', 9), series('a', 4, '503')],
      2 + 4 + 3,
      { [key('a')]: 12, [key('b')]: 9, [key('a', '503')]: 4 }
    ],
    [
      'a counter that went down was reset (pod restart): counts from zero',
      { [key('a')]: 100 },
      [series('a', 7)],
      7,
      { [key('a')]: 7 }
    ],
    [
      'a series not seen before counts whole',
      { [key('a')]: 10 },
      [series('a', 10), series('new', 6)],
      6,
      { [key('a')]: 10, [key('new')]: 6 }
    ],
    [
      'an empty snapshot is not a baseline: every series counts whole',
      {},
      [series('a', 3)],
      3,
      { [key('a')]: 3 }
    ],
    [
      'a series that vanished is kept in the snapshot at its last value',
      { [key('a')]: 10, [key('gone')]: 8 },
      [series('a', 11)],
      1,
      { [key('a')]: 11, [key('gone')]: 8 }
    ],
    [
      'a series that came back counts only its growth since last seen',
      { [key('a')]: 11, [key('gone')]: 8 },
      [series('a', 11), series('gone', 12)],
      4,
      { [key('a')]: 11, [key('gone')]: 12 }
    ],
    [
      'NaN, infinite and negative values are ignored (and not remembered)',
      { [key('a')]: 10 },
      [series('a', NaN), series('b', -1), series('c', Infinity), series('d', 2)],
      2,
      { [key('a')]: 10, [key('d')]: 2 }
    ],
    [
      'no series: nothing counted, snapshot unchanged',
      { [key('a')]: 10 },
      [],
      0,
      { [key('a')]: 10 }
    ]
  ])('%s', (_name, before, now, increase, snapshot) => {
    expect(counterIncrease(before, now)).toEqual({ increase, snapshot })
  })

  it('matches a series whatever order Prometheus gives its labels in', () => {
    const first = counterIncrease(undefined, [
      { labels: { pod: 'a', response_code: '200' }, value: 10 }
    ])
    const second = counterIncrease(first.snapshot, [
      { labels: { response_code: '200', pod: 'a' }, value: 13 }
    ])
    expect(second.increase).toBe(3)
    expect(Object.keys(second.snapshot)).toHaveLength(1)
  })

  it('counts a vanished series only once it is back, over three readings', () => {
    const t0 = counterIncrease(undefined, [series('a', 10), series('b', 5)])
    const t1 = counterIncrease(t0.snapshot, [series('a', 12)])
    const t2 = counterIncrease(t1.snapshot, [series('a', 12), series('b', 8)])
    expect([t0.increase, t1.increase, t2.increase]).toEqual([0, 2, 3])
  })

  it('does not change the snapshot it was given', () => {
    const before = Object.freeze({ [key('a')]: 1 })
    counterIncrease(before, [series('a', 5), series('b', 1)])
    expect(before).toEqual({ [key('a')]: 1 })
  })
})

describe('ratioSince', () => {
  const counters = (total: SeriesValue[], bad: SeriesValue[]): Reading => ({
    kind: 'counters',
    total,
    bad
  })
  const before = {
    total: { [key('a')]: 100 },
    bad: { [key('a', '500')]: 2 }
  }

  it('takes the first reading as the baseline: a reason and a snapshot, no counts', () => {
    expect(ratioSince(undefined, counters([series('a', 100)], [series('a', 2, '500')]))).toEqual({
      reason: 'first reading (the baseline for the next check)',
      snapshot: before
    })
  })

  it.each<[string, Reading, { total: number; bad: number }]>([
    [
      'counts since the baseline',
      counters([series('a', 150)], [series('a', 5, '500')]),
      { total: 50, bad: 3 }
    ],
    [
      'bad capped at total (the two counters are read a moment apart)',
      counters([series('a', 103)], [series('a', 10, '500')]),
      { total: 3, bad: 3 }
    ],
    ['no bad series yet: zero bad', counters([series('a', 120)], []), { total: 20, bad: 0 }],
    [
      'a restarted pod counts from zero in both counters',
      counters([series('a', 40)], [series('a', 1, '500')]),
      { total: 40, bad: 1 }
    ]
  ])('%s', (_name, reading, counts) => {
    const r = ratioSince(before, reading)
    expect(r.counts).toEqual(counts)
    expect(r.reason).toBeUndefined()
    expect(r.snapshot).toBeDefined()
  })

  it.each<[string, Reading | undefined, string]>([
    ['a none reading passes its reason', { kind: 'none', reason: 'HTTP 503' }, 'HTTP 503'],
    [
      'a gauge reading for a ratio is a reason',
      { kind: 'gauge', value: 0.5 },
      'the query returned a single value, not counters'
    ],
    ['no reading at all', undefined, 'not measured']
  ])('%s (no counts, no snapshot)', (_name, reading, reason) => {
    expect(ratioSince(before, reading)).toEqual({ reason })
  })
})

describe('sampleCounts', () => {
  const specs: MetricSpec[] = [
    {
      kind: 'ratio',
      name: 'errors',
      what: '5xx',
      relative: true,
      maxRate: 0.01,
      total: 'T',
      badQuery: 'B'
    },
    { kind: 'gauge', name: 'cpu', query: 'Q', max: 0.8 }
  ]
  const snap = (total: number, bad: number) => ({
    total: { [key('a')]: total },
    bad: { [key('a', '500')]: bad }
  })
  const counters = (total: number, bad: number): Reading => ({
    kind: 'counters',
    total: [series('a', total)],
    bad: [series('a', bad, '500')]
  })
  const both: { candidate: ColorSnapshots; stable: ColorSnapshots } = {
    candidate: { errors: snap(100, 1) },
    stable: { errors: snap(1000, 10) }
  }

  it.each<
    [
      string,
      { candidate: ColorSnapshots; stable: ColorSnapshots },
      Record<string, Reading>,
      Record<string, Reading>,
      boolean,
      Record<string, MetricSample>
    ]
  >([
    [
      'both colors counted',
      both,
      { errors: counters(150, 3), cpu: { kind: 'gauge', value: 0.4 } },
      { errors: counters(1400, 14) },
      true,
      {
        errors: { kind: 'ratio', candidate: { total: 50, bad: 2 }, stable: { total: 400, bad: 4 } },
        cpu: { kind: 'gauge', value: 0.4 }
      }
    ],
    [
      'stable omitted once it serves nothing (candidate at 100%)',
      both,
      { errors: counters(150, 3), cpu: { kind: 'gauge', value: 0.4 } },
      { errors: counters(1400, 14) },
      false,
      {
        errors: { kind: 'ratio', candidate: { total: 50, bad: 2 } },
        cpu: { kind: 'gauge', value: 0.4 }
      }
    ],
    [
      "the stable's baseline: the candidate is judged alone",
      { candidate: { errors: snap(100, 1) }, stable: {} },
      { errors: counters(150, 3), cpu: { kind: 'gauge', value: 0.4 } },
      { errors: counters(1400, 14) },
      true,
      {
        errors: { kind: 'ratio', candidate: { total: 50, bad: 2 } },
        cpu: { kind: 'gauge', value: 0.4 }
      }
    ],
    [
      "the candidate's baseline gives kind none, with its reason",
      { candidate: {}, stable: { errors: snap(1000, 10) } },
      { errors: counters(150, 3), cpu: { kind: 'gauge', value: 0.4 } },
      { errors: counters(1400, 14) },
      true,
      {
        errors: {
          kind: 'none',
          reason: 'candidate: first reading (the baseline for the next check)'
        },
        cpu: { kind: 'gauge', value: 0.4 }
      }
    ],
    [
      "the candidate's failed query passes its reason; a gauge's none passes its reason",
      both,
      {
        errors: { kind: 'none', reason: 'HTTP 500 from Prometheus' },
        cpu: { kind: 'none', reason: 'no value for the query' }
      },
      { errors: counters(1400, 14) },
      true,
      {
        errors: { kind: 'none', reason: 'candidate: HTTP 500 from Prometheus' },
        cpu: { kind: 'none', reason: 'no value for the query' }
      }
    ],
    [
      'a gauge read as counters, or not read, has no value',
      both,
      { errors: counters(150, 3), cpu: counters(1, 1) },
      { errors: counters(1400, 14) },
      true,
      {
        errors: { kind: 'ratio', candidate: { total: 50, bad: 2 }, stable: { total: 400, bad: 4 } },
        cpu: { kind: 'none', reason: 'no value' }
      }
    ],
    [
      'nothing read for either metric',
      both,
      {},
      {},
      true,
      {
        errors: { kind: 'none', reason: 'candidate: not measured' },
        cpu: { kind: 'none', reason: 'no value' }
      }
    ]
  ])('%s', (_name, before, candidate, stable, stableServes, samples) => {
    expect(sampleCounts(specs, before, { candidate, stable }, stableServes).samples).toEqual(
      samples
    )
  })

  it.each<
    [
      string,
      { candidate: ColorSnapshots; stable: ColorSnapshots },
      Record<string, Reading>,
      Record<string, Reading>,
      { candidate: ColorSnapshots; stable: ColorSnapshots }
    ]
  >([
    [
      'new snapshots for both colors after counting',
      both,
      { errors: counters(150, 3) },
      { errors: counters(1400, 14) },
      { candidate: { errors: snap(150, 3) }, stable: { errors: snap(1400, 14) } }
    ],
    [
      'baselines are taken for both colors',
      { candidate: {}, stable: {} },
      { errors: counters(150, 3) },
      { errors: counters(1400, 14) },
      { candidate: { errors: snap(150, 3) }, stable: { errors: snap(1400, 14) } }
    ],
    [
      'a failed read keeps the snapshot before it, so the next check counts from there',
      both,
      { errors: { kind: 'none', reason: 'timeout' } },
      { errors: { kind: 'gauge', value: 1 } },
      both
    ]
  ])('%s', (_name, before, candidate, stable, snapshots) => {
    expect(sampleCounts(specs, before, { candidate, stable }, true).snapshots).toEqual(snapshots)
  })
})

describe('builtinMetrics', () => {
  const dest =
    '{reporter="destination",destination_workload="{{ workload }}",destination_workload_namespace="{{ namespace }}"'
  const errors: MetricSpec = {
    kind: 'ratio',
    name: 'errors',
    what: '5xx',
    relative: true,
    maxRate: 0.02,
    total: `istio_requests_total${dest}}`,
    badQuery: `istio_requests_total${dest},response_code=~"5.."}`
  }
  const latency: MetricSpec = {
    kind: 'ratio',
    name: 'latency',
    what: 'slower than 250ms',
    relative: true,
    total: `istio_request_duration_milliseconds_count${dest}}`,
    badQuery: `istio_request_duration_milliseconds_count${dest}} - ignoring(le) istio_request_duration_milliseconds_bucket${dest},le="250"}`
  }
  const limit: MetricSpec = {
    kind: 'ratio',
    name: 'latency-limit',
    what: 'slower than 500ms',
    relative: false,
    maxRate: 0.01,
    total: `istio_request_duration_milliseconds_count${dest}}`,
    badQuery: `istio_request_duration_milliseconds_count${dest}} - ignoring(le) istio_request_duration_milliseconds_bucket${dest},le="500"}`
  }
  const b250: Bucket = { le: '250', ms: 250 }
  const b500: Bucket = { le: '500', ms: 500 }

  it.each<[string, LatencyBuckets, MetricSpec[]]>([
    ['no buckets: errors alone, no latency or latency-limit', {}, [errors]],
    ['the relative bucket: errors and latency', { relative: b250 }, [errors, latency]],
    ['the limit bucket: errors and latency-limit', { limit: b500 }, [errors, limit]],
    ['both buckets', { relative: b250, limit: b500 }, [errors, latency, limit]]
  ])('%s', (_name, buckets, specs) => {
    expect(builtinMetrics({ reporter: 'destination', maxErrorRate: 0.02, buckets })).toEqual(specs)
  })

  it.each<[string, Reporter | string, string]>([
    ['source', 'source', 'reporter="source"'],
    ['a quote and a backslash, escaped', 'a"b\\c', 'reporter="a\\"b\\\\c"'],
    ['a newline, escaped', 'a\nb', 'reporter="a\\nb"']
  ])('writes the reporter as a PromQL string: %s', (_name, reporter, matcher) => {
    const specs = builtinMetrics({
      reporter: reporter as Reporter,
      maxErrorRate: 0.01,
      buckets: { relative: b250, limit: b500 }
    })
    const queries = specs.flatMap((s) => (s.kind === 'ratio' ? [s.total, s.badQuery] : []))
    expect(queries).toHaveLength(6)
    for (const q of queries) {
      // every selector in the query (two in a slow-request query) carries the reporter
      const selectors = q.split('{reporter=').length - 1
      expect(selectors).toBeGreaterThan(0)
      expect(q.split(`{${matcher},`).length - 1).toBe(selectors)
    }
  })

  it('quotes the bucket bound as PromQL labels it', () => {
    const [, slow] = builtinMetrics({
      reporter: 'destination',
      maxErrorRate: 0.01,
      buckets: { relative: { le: '+Inf', ms: Infinity } }
    })
    expect(slow?.kind === 'ratio' ? slow.badQuery : '').toMatch(/,le="\+Inf"}$/)
  })
})

describe('customMetrics and judged', () => {
  const defs: MetricDefinition[] = [
    { kind: 'gauge', name: 'p95', query: 'q1{workload="{{ workload }}"}', max: 0.3 },
    { kind: 'gauge', name: 'floor', query: 'q2', min: 1 },
    { kind: 'gauge', name: 'band', query: 'q3', min: 1, max: 2 },
    { kind: 'ratio', name: 'payments', bad: 'bad{}', total: 'total{}', maxRate: 0.01 },
    { kind: 'ratio', name: 'queue', bad: 'b', total: 't' }
  ]

  it.each<[string, number, MetricSpec, ReturnType<typeof judged>[number]]>([
    [
      'a gauge with max',
      0,
      { kind: 'gauge', name: 'p95', query: 'q1{workload="{{ workload }}"}', max: 0.3 },
      { kind: 'gauge', name: 'p95', max: 0.3 }
    ],
    [
      'a gauge with min',
      1,
      { kind: 'gauge', name: 'floor', query: 'q2', min: 1 },
      { kind: 'gauge', name: 'floor', min: 1 }
    ],
    [
      'a gauge with both bounds',
      2,
      { kind: 'gauge', name: 'band', query: 'q3', min: 1, max: 2 },
      { kind: 'gauge', name: 'band', min: 1, max: 2 }
    ],
    [
      'a ratio with max-rate, judged against stable too',
      3,
      {
        kind: 'ratio',
        name: 'payments',
        what: 'bad',
        relative: true,
        maxRate: 0.01,
        total: 'total{}',
        badQuery: 'bad{}'
      },
      { kind: 'ratio', name: 'payments', what: 'bad', relative: true, maxRate: 0.01 }
    ],
    [
      'a ratio without max-rate',
      4,
      { kind: 'ratio', name: 'queue', what: 'bad', relative: true, total: 't', badQuery: 'b' },
      { kind: 'ratio', name: 'queue', what: 'bad', relative: true }
    ]
  ])('%s', (_name, i, spec, view) => {
    const specs = customMetrics(defs)
    expect(specs[i]).toEqual(spec)
    expect(judged(specs)[i]).toEqual(view)
  })

  it('keeps no PromQL in the judged view, and absent bounds stay absent keys', () => {
    const specs = [
      ...builtinMetrics({
        reporter: 'destination',
        maxErrorRate: 0.01,
        buckets: { relative: { le: '250', ms: 250 } }
      }),
      ...customMetrics(defs)
    ]
    const view = judged(specs)
    expect(view.map((m) => m.name)).toEqual(specs.map((s) => s.name))
    for (const m of view) {
      expect(Object.keys(m)).not.toEqual(
        expect.arrayContaining([expect.stringMatching(/^(query|total|badQuery)$/)])
      )
      expect(Object.values(m).filter((v) => v === undefined)).toEqual([])
    }
  })
})

describe('placeholders and queriesFor', () => {
  it.each<[string, 'blue' | 'green', string, PlaceholderValues]>([
    [
      'blue',
      'blue',
      '60s',
      {
        namespace: 'demo',
        service: 'reviews',
        workload: 'reviews-blue',
        color: 'blue',
        window: '60s'
      }
    ],
    [
      'green',
      'green',
      '1m30s',
      {
        namespace: 'demo',
        service: 'reviews',
        workload: 'reviews-green',
        color: 'green',
        window: '1m30s'
      }
    ]
  ])('placeholders for %s', (_name, color, window, values) => {
    expect(placeholders('reviews', 'demo', color, window)).toEqual(values)
  })

  it('renders every spec for one color: built-in counters and a custom gauge', () => {
    const specs = [
      ...builtinMetrics({
        reporter: 'source',
        maxErrorRate: 0.01,
        buckets: { limit: { le: '500', ms: 500 } }
      }),
      ...customMetrics([
        {
          kind: 'gauge',
          name: 'p95',
          query:
            'histogram_quantile(0.95, rate(x_bucket{workload="{{ workload }}",ns="{{namespace}}",svc="{{ service }}",c="{{ color }}"}[{{ window }}]))',
          max: 0.3
        }
      ])
    ]
    const sel =
      '{reporter="source",destination_workload="reviews-green",destination_workload_namespace="demo"'
    expect(queriesFor(specs, placeholders('reviews', 'demo', 'green', '60s'))).toEqual([
      {
        kind: 'ratio',
        name: 'errors',
        total: `istio_requests_total${sel}}`,
        bad: `istio_requests_total${sel},response_code=~"5.."}`
      },
      {
        kind: 'ratio',
        name: 'latency-limit',
        total: `istio_request_duration_milliseconds_count${sel}}`,
        bad: `istio_request_duration_milliseconds_count${sel}} - ignoring(le) istio_request_duration_milliseconds_bucket${sel},le="500"}`
      },
      {
        kind: 'gauge',
        name: 'p95',
        query:
          'histogram_quantile(0.95, rate(x_bucket{workload="reviews-green",ns="demo",svc="reviews",c="green"}[60s]))'
      }
    ])
  })

  it('refuses a window that is not a PromQL range', () => {
    const specs = builtinMetrics({ reporter: 'source', maxErrorRate: 0.01, buckets: {} })
    expect(() => queriesFor(specs, placeholders('reviews', 'demo', 'blue', '1 minute'))).toThrow(
      'window "1 minute" is not a PromQL range'
    )
  })
})

describe('chooseBuckets', () => {
  // Unsorted, as a histogram's series may come back in any order.
  const bounds: Bucket[] = [
    { le: '1000', ms: 1000 },
    { le: '100', ms: 100 },
    { le: '500', ms: 500 },
    { le: '250', ms: 250 },
    { le: '25', ms: 25 }
  ]
  const b = (ms: number): Bucket => ({ le: String(ms), ms })

  it.each<[string, number | undefined, number | undefined, LatencyBuckets, string[]]>([
    ['p99 between bounds: the next bound up', 180, undefined, { relative: b(250) }, []],
    ['p99 on a bound: that bound', 100, undefined, { relative: b(100) }, []],
    ['p99 below the smallest bound: the smallest', 3, undefined, { relative: b(25) }, []],
    ['p99 and max-p99 each get their bound', 180, 400, { relative: b(250), limit: b(500) }, []],
    ['max-p99 on a bound: that bound', 180, 250, { relative: b(250), limit: b(250) }, []],
    [
      'p99 unknown: no relative test, the limit still judged',
      undefined,
      400,
      { limit: b(500) },
      ['the stable has no p99 latency over the analysis window: latency is not compared']
    ],
    [
      'p99 above the largest bound',
      1500.4,
      undefined,
      {},
      ["the stable's p99 (1500ms) is above the largest histogram bucket: latency is not compared"]
    ],
    [
      'max-p99 above the largest bound',
      180,
      2000,
      { relative: b(250) },
      ['max-p99-latency 2000ms is above the largest histogram bucket (1000ms): it cannot be judged']
    ],
    [
      'both unknown or too high: two notes',
      undefined,
      2000,
      {},
      [
        'the stable has no p99 latency over the analysis window: latency is not compared',
        'max-p99-latency 2000ms is above the largest histogram bucket (1000ms): it cannot be judged'
      ]
    ]
  ])('%s', (_name, p99, maxP99, buckets, notes) => {
    expect(chooseBuckets(bounds, p99, maxP99)).toEqual({ buckets, notes })
  })

  it('does not reorder the bounds it was given', () => {
    const given = [...bounds]
    chooseBuckets(given, 180, 400)
    expect(given).toEqual(bounds)
  })

  // BUG: with no histogram at all the note reads "the largest histogram bucket (nonems)".
  it('says there is no bucket, in words, when the histogram has none', () => {
    const { buckets, notes } = chooseBuckets([], undefined, 250)
    expect(buckets).toEqual({})
    expect(notes).toHaveLength(2)
    expect(notes[1]).toBe(
      "max-p99-latency 250ms cannot be judged: the stable's latency histogram has no buckets"
    )
    expect(notes[1]).not.toContain('nonems')
  })
})

describe('lifetimeShare', () => {
  const counters = (total: number[], bad: number[]): Reading => ({
    kind: 'counters',
    total: total.map((v, i) => series(`p${i}`, v)),
    bad: bad.map((v, i) => series(`p${i}`, v, '500'))
  })

  it.each<[string, Reading | undefined, number | undefined]>([
    ['one series', counters([1000], [5]), 0.005],
    ['summed over series', counters([600, 400], [3, 7]), 0.01],
    ['no bad series', counters([100], []), 0],
    ['bad above total is capped at 1', counters([10], [12]), 1],
    ['no total: undefined', counters([], [1]), undefined],
    ['a total of zero: undefined', counters([0], [0]), undefined],
    ['a gauge: undefined', { kind: 'gauge', value: 0.5 }, undefined],
    ['none: undefined', { kind: 'none', reason: 'x' }, undefined],
    ['not read: undefined', undefined, undefined]
  ])('%s', (_name, reading, share) => {
    expect(lifetimeShare(reading)).toBe(share)
  })
})
