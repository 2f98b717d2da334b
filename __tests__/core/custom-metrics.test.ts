import {
  parseMetricDefinitions,
  renderQuery,
  type MetricDefinition,
  type PlaceholderValues
} from '../../src/core/custom-metrics.js'
import { promRange } from '../../src/core/duration.js'

/** The rate parser's contract: a share, or an Error saying what a rate looks like. */
function parseRate(value: string): number {
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(value)
  const rate = percent ? Number(percent[1]) / 100 : /^\d*\.?\d+$/.test(value) ? Number(value) : NaN
  if (!(rate >= 0 && rate <= 1)) throw new Error(`"${value}" is not a rate; use e.g. 1% or 0.01`)
  return rate
}

function parse(text: string): readonly MetricDefinition[] {
  const result = parseMetricDefinitions(text, parseRate)
  if ('error' in result) throw new Error(`expected metrics, got: ${result.error}`)
  return result.metrics
}

function errorOf(text: string): string {
  const result = parseMetricDefinitions(text, parseRate)
  if (!('error' in result)) throw new Error(`expected an error, got ${JSON.stringify(result)}`)
  return result.error
}

const W = '{workload="{{ workload }}"}'

describe('parseMetricDefinitions', () => {
  it.each([
    ['empty text', ''],
    ['blank lines', '\n  \n'],
    ['only a comment', '# no metrics yet\n'],
    ['an empty list', '[]'],
    ['an explicit null', '~']
  ])('%s is no metrics', (_name, text) => {
    expect(parse(text)).toEqual([])
  })

  it.each([
    [
      'a gauge with max',
      `- name: queue-lag\n  query: max(queue_lag_seconds${W})\n  max: 5`,
      [{ kind: 'gauge', name: 'queue-lag', query: `max(queue_lag_seconds${W})`, max: 5 }]
    ],
    [
      'a gauge with min only, negative',
      `- name: headroom\n  query: min(free${W})\n  min: -0.5`,
      [{ kind: 'gauge', name: 'headroom', query: `min(free${W})`, min: -0.5 }]
    ],
    [
      'a gauge with min equal to max',
      `- name: replicas\n  query: count(up{color="{{color}}"})\n  min: 3\n  max: 3`,
      [{ kind: 'gauge', name: 'replicas', query: 'count(up{color="{{color}}"})', min: 3, max: 3 }]
    ],
    [
      'a ratio without max-rate',
      `- name: payment-failures\n  bad: sum(failed${W})\n  total: sum(all${W})`,
      [{ kind: 'ratio', name: 'payment-failures', bad: `sum(failed${W})`, total: `sum(all${W})` }]
    ],
    [
      'a ratio with max-rate as a percentage',
      `- name: p\n  bad: sum(failed${W})\n  total: sum(all${W})\n  max-rate: 0.5%`,
      [{ kind: 'ratio', name: 'p', bad: `sum(failed${W})`, total: `sum(all${W})`, maxRate: 0.005 }]
    ],
    [
      'a ratio with max-rate as a YAML number',
      `- name: p\n  bad: sum(failed${W})\n  total: sum(all${W})\n  max-rate: 0.01`,
      [{ kind: 'ratio', name: 'p', bad: `sum(failed${W})`, total: `sum(all${W})`, maxRate: 0.01 }]
    ],
    [
      'a block-scalar query, trimmed; every placeholder; flow style',
      '- name: lag\n  query: |\n    max(max_over_time(lag{namespace="{{namespace}}", service="{{ service }}",\n      workload="{{  workload  }}"}[{{ window }}]))\n  max: 1\n' +
        '- {name: b, bad: \'sum(e{color="{{ color }}"})\', total: \'sum(t{color="{{ color }}"})\'}',
      [
        {
          kind: 'gauge',
          name: 'lag',
          query:
            'max(max_over_time(lag{namespace="{{namespace}}", service="{{ service }}",\n  workload="{{  workload  }}"}[{{ window }}]))',
          max: 1
        },
        {
          kind: 'ratio',
          name: 'b',
          bad: 'sum(e{color="{{ color }}"})',
          total: 'sum(t{color="{{ color }}"})'
        }
      ]
    ]
  ])('reads %s', (_name, text, expected) => {
    expect(parse(text)).toStrictEqual(expected)
  })

  it('returns a frozen list of frozen definitions', () => {
    const metrics = parse(`- name: a\n  query: x${W}\n  max: 1`)
    expect(Object.isFrozen(metrics)).toBe(true)
    expect(Object.isFrozen(metrics[0])).toBe(true)
  })

  const gauge = (name: string, rest: string): string => `- name: ${name}\n  query: q${W}\n${rest}`
  const ratio = (name: string, rest = ''): string =>
    `- name: ${name}\n  bad: sum(e${W})\n  total: sum(t${W})\n${rest}`

  // Each message names the metric (by name, or by position without a valid one) and says what to do.
  it.each([
    // The text as a whole
    ['YAML that does not parse', '- name: [a', 'is not valid YAML', ['unexpected end', '- name: ']],
    ['duplicate keys', 'name: a\nname: b', 'is not valid YAML', ['duplicated mapping key']],
    [
      'one metric without the list dash',
      `name: a\nquery: q${W}\nmax: 1`,
      'is a mapping, not a list of metrics',
      ['start each metric with "- "', '- name: checkout-p95', 'max-rate: 1%']
    ],
    ['a scalar', 'lag', 'is "lag", not a list of metrics', ['start each metric with "- "']],
    // An item
    ['an item that is a string', '- lag', 'metric 1 is "lag", not a mapping', ['a gauge has name']],
    ['an item that is a list', '- [a]', 'metric 1 is a list, not a mapping', ['a ratio has name']],
    ['no name', `- query: q${W}\n  max: 1`, 'metric 1 has no name', ['lower-case letters']],
    ['an empty name', `- name:\n  query: q${W}\n  max: 1`, 'metric 1 has no name', ['63']],
    [
      'an upper-case name',
      gauge('Queue_Lag', '  max: 1'),
      'metric 1: name "Queue_Lag" is not valid',
      ["use lower-case letters, digits and '-'", 'e.g. checkout-p95']
    ],
    [
      'a name of 64 characters',
      gauge('a'.repeat(64), '  max: 1'),
      `metric 1: name "${'a'.repeat(64)}" is not valid`,
      ['at most 63 characters']
    ],
    [
      'a name of a YAML number',
      `- name: 5\n  query: q${W}\n  max: 1`,
      'metric 1: name is 5, not a string',
      ['put it in quotes (name: "5")']
    ],
    [
      'a bad name in the second item',
      `${gauge('ok', '  max: 1')}\n${gauge('not ok', '  max: 1')}`,
      'metric 2: name "not ok" is not valid',
      []
    ],
    ...['errors', 'latency', 'latency-limit', 'p99', 'requests', 'scrape-age'].map(
      (name): [string, string, string, string[]] => [
        `the reserved name ${name}`,
        ratio(name),
        `metric "${name}": the name "${name}" is a built-in metric's (errors, latency, latency-limit, p99, requests, scrape-age)`,
        [`choose another, e.g. checkout-${name}`]
      ]
    ),
    [
      'a name used twice',
      `${gauge('lag', '  max: 1')}\n${ratio('other')}\n${gauge('lag', '  min: 1')}`,
      'metric "lag" (metric 3) has the name of metric 1',
      ['give each metric its own name']
    ],
    [
      'an unknown key, misspelt',
      ratio('p', '  maxRate: 1%'),
      'metric "p" has the unknown key "maxRate" (did you mean max-rate?)',
      ['a ratio has name, bad and total (counters) and optionally max-rate']
    ],
    [
      'an unknown key',
      gauge('lag', '  max: 1\n  threshold: 2'),
      'metric "lag" has the unknown key "threshold";',
      ['a gauge has name, query and max and/or min']
    ],
    [
      'an unknown key on a metric without a valid name',
      `- Name: lag\n  query: q${W}\n  max: 1`,
      'metric 1 has the unknown key "Name" (did you mean name?)',
      []
    ],
    // The kind
    [
      'query and bad',
      gauge('lag', `  max: 1\n  bad: e${W}`),
      'metric "lag" has both query and bad;',
      ['give either query with max and/or min (a gauge) or bad and total']
    ],
    [
      'query, bad and total',
      `${ratio('lag')}  query: q${W}`,
      'metric "lag" has both query and bad and total;',
      ['(a ratio)']
    ],
    [
      'bad without total',
      `- name: p\n  bad: sum(e${W})`,
      'metric "p" has bad but no total',
      ['a ratio needs both: bad (a counter of the bad events) and total (a counter of all events)']
    ],
    [
      'total without bad',
      `- name: p\n  total: sum(t${W})\n  max-rate: 1%`,
      'metric "p" has total but no bad',
      ['a ratio needs both']
    ],
    [
      'neither query nor bad and total',
      '- name: p\n  max: 1',
      'metric "p" has neither query nor bad and total',
      ['a gauge has name, query and max and/or min (numbers); a ratio has name, bad and total']
    ],
    [
      'max on a ratio',
      ratio('p', '  max: 0.1'),
      'metric "p": max applies to a gauge (query), not to a ratio',
      ["bound a ratio's share with max-rate, e.g. max-rate: 1%"]
    ],
    [
      'max and min on a ratio',
      ratio('p', '  max: 0.1\n  min: 0'),
      'metric "p": max and min apply to a gauge (query)',
      ['max-rate']
    ],
    [
      'max-rate on a gauge',
      gauge('lag', '  max-rate: 1%'),
      'metric "lag": max-rate applies to a ratio (bad and total), not to a gauge (query)',
      ['bound a gauge with max and/or min']
    ],
    // Bounds and rates
    [
      'a gauge without a bound',
      gauge('lag', ''),
      'metric "lag" has a query but no bound',
      ['give max and/or min']
    ],
    [
      'min above max',
      gauge('lag', '  min: 5\n  max: 1'),
      'metric "lag": min 5 is above max 1',
      ['give min ≤ max']
    ],
    [
      'a max with a unit',
      gauge('lag', '  max: 300ms'),
      'metric "lag": max is "300ms", not a number',
      ['give a plain number, e.g. 0.3']
    ],
    ['a quoted max', gauge('lag', '  max: "5"'), 'metric "lag": max is "5", not a number', []],
    ['an infinite max', gauge('lag', '  max: .inf'), 'metric "lag": max is Infinity', ['number']],
    ['an empty min', gauge('lag', '  min:'), 'metric "lag": min is null, not a number', []],
    [
      'a max-rate that is no rate',
      ratio('p', '  max-rate: 5x'),
      'metric "p": max-rate "5x" is not a rate',
      ['use e.g. 1% or 0.01']
    ],
    ['a max-rate above 100%', ratio('p', '  max-rate: 200%'), 'metric "p": max-rate "200%"', []],
    [
      'a max-rate that is a list',
      ratio('p', '  max-rate: [1%]'),
      'metric "p": max-rate is a list',
      ['give a rate such as 1% or 0.01']
    ],
    // The PromQL
    [
      'an empty query',
      '- name: lag\n  query:\n  max: 1',
      'metric "lag": query is empty',
      ['give the PromQL as a string']
    ],
    ['a blank query', '- name: lag\n  query: "  "\n  max: 1', 'metric "lag": query is empty', []],
    [
      'a query that is a list',
      '- name: lag\n  query: [a]\n  max: 1',
      'metric "lag": query is a list, not a PromQL expression',
      ['give the PromQL as a string']
    ],
    [
      'an unknown placeholder',
      '- name: lag\n  query: q{pod="{{ pod }}"}\n  max: 1',
      'metric "lag": query has the unknown placeholder {{ pod }}',
      [
        "the placeholders are {{ namespace }}, {{ service }}, {{ workload }} (the color's Deployment, <service>-<color>), {{ color }} and {{ window }}"
      ]
    ],
    [
      'a placeholder in the wrong case',
      '- name: lag\n  query: q{w="{{Workload}}"}\n  max: 1',
      'metric "lag": query has the unknown placeholder {{ Workload }}',
      ['{{ workload }}']
    ],
    [
      'a Go template field',
      `- name: p\n  bad: e${W}\n  total: t{ns="{{ .Namespace }}"}`,
      'metric "p": total has the unknown placeholder {{ .Namespace }}',
      ['{{ namespace }}']
    ],
    [
      'an empty placeholder',
      `- name: lag\n  query: q${W}[{{}}]\n  max: 1`,
      'metric "lag": query has the unknown placeholder {{  }}',
      ['the placeholders are']
    ],
    [
      'a placeholder not closed',
      '- name: lag\n  query: q{workload="{{ workload"}\n  max: 1',
      'metric "lag": query has a {{ without a matching }}',
      ['write a placeholder as {{ workload }}']
    ],
    [
      'a gauge that does not tell the colors apart',
      '- name: lag\n  query: max(lag{namespace="{{ namespace }}"}[{{ window }}])\n  max: 1',
      'metric "lag": query uses neither {{ workload }} nor {{ color }}, so it cannot tell the colors apart',
      [`select the color's series, e.g. destination_workload="{{ workload }}"`]
    ],
    [
      'a bad that does not tell the colors apart',
      `- name: p\n  bad: sum(e{service="{{ service }}"})\n  total: t${W}`,
      'metric "p": bad uses neither {{ workload }} nor {{ color }}',
      ['select the color']
    ],
    [
      'a total that does not tell the colors apart',
      `- name: p\n  bad: sum(e${W})\n  total: sum(t)`,
      'metric "p": total uses neither {{ workload }} nor {{ color }}',
      ['select the color']
    ],
    [
      'a rate as bad',
      `- name: p\n  bad: sum(rate(e${W}[{{ window }}]))\n  total: sum(t${W})`,
      'metric "p": bad takes rate()',
      ['give the counter itself', 'the action takes the difference between checks']
    ],
    [
      'an increase as total',
      `- name: p\n  bad: sum(e${W})\n  total: sum(increase (t${W}[1m]))`,
      'metric "p": total takes increase()',
      ['give the counter itself']
    ]
  ])('refuses %s', (_name, text, message, hints) => {
    const error = errorOf(text)
    expect(error).toContain(message)
    for (const hint of hints) expect(error).toContain(hint)
  })

  it('takes the max-rate message from the rate parser', () => {
    const result = parseMetricDefinitions(ratio('p', '  max-rate: 7%'), () => {
      throw new Error('too high for this test')
    })
    expect(result).toEqual({ error: 'metric "p": max-rate too high for this test' })
  })
})

describe('renderQuery', () => {
  const values: PlaceholderValues = {
    namespace: 'shop',
    service: 'reviews',
    workload: 'reviews-green',
    color: 'green',
    window: promRange(90_000)
  }

  it('fills in every placeholder', () => {
    expect(
      renderQuery(
        'sum(increase(x{ns="{{ namespace }}",svc="{{ service }}",wl="{{ workload }}",v="{{ color }}"}[{{ window }}]))',
        values
      )
    ).toBe('sum(increase(x{ns="shop",svc="reviews",wl="reviews-green",v="green"}[90s]))')
  })

  it.each([
    '{{workload}}',
    '{{ workload }}',
    '{{   workload}}',
    '{{\tworkload\n}}',
    '{{workload }}'
  ])('reads %j as the workload', (placeholder) => {
    expect(renderQuery(`x{w="${placeholder}"}`, values)).toBe('x{w="reviews-green"}')
  })

  it('fills a placeholder each time it occurs, and leaves PromQL braces alone', () => {
    expect(renderQuery('a{w="{{color}}"} / on() b{w="{{ color }}",x=~"y{2}"}', values)).toBe(
      'a{w="green"} / on() b{w="green",x=~"y{2}"}'
    )
  })

  it('leaves a template without placeholders as it is', () => {
    expect(renderQuery('vector(1)', values)).toBe('vector(1)')
  })

  it('inserts a window such as 1m30s as it is', () => {
    expect(renderQuery('x[{{ window }}]', { ...values, window: '1m30s' })).toBe('x[1m30s]')
  })

  it.each([
    ['workload', 'a"}or vector(1) or{b="', 'a\\"}or vector(1) or{b=\\"'],
    ['namespace', 'back\\slash', 'back\\\\slash'],
    ['service', 'two\nlines', 'two\\nlines'],
    ['color', '\\"', '\\\\\\"']
  ] as const)('escapes a hostile %s %j, so it cannot close the string', (key, value, escaped) => {
    const rendered = renderQuery(`x{v="{{ ${key} }}"}`, { ...values, [key]: value })
    expect(rendered).toBe(`x{v="${escaped}"}`)
    // One string literal from the first quote to the last: no unescaped quote in between.
    expect(rendered.slice(5, -2).replace(/\\./g, '')).not.toContain('"')
  })

  it.each(['60s"}or vector(1)', '', '1.5m', '60 s'])('refuses the window %j', (window) => {
    expect(() => renderQuery('x[{{ window }}]', { ...values, window })).toThrow(
      'is not a PromQL range such as 60s or 1m30s'
    )
  })

  it('refuses an unknown placeholder: templates reach it validated, so it is a bug', () => {
    expect(() => renderQuery('x{p="{{ pod }}"}', values)).toThrow('{{ pod }} is not a placeholder')
  })

  it('renders what parseMetricDefinitions accepts', () => {
    const [lag] = parse(
      '- name: lag\n  query: max(max_over_time(lag{workload="{{workload}}"}[{{ window }}]))\n  max: 5'
    )
    expect(lag?.kind === 'gauge' && renderQuery(lag.query, values)).toBe(
      'max(max_over_time(lag{workload="reviews-green"}[90s]))'
    )
  })
})
