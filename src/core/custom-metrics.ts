/**
 * The user's own metrics (input `metrics`): a YAML list turned into gauge and ratio definitions,
 * and their PromQL templates filled in for one color. Pure: no I/O, and no knowledge of inputs
 * (the rate parser comes from the caller, so max-rate reads exactly as max-error-rate does).
 */
import yaml from 'js-yaml'
import { promString } from './queries.js'

/**
 * A gauge is one number per color held to fixed bounds. A ratio is two counters per color, the
 * bad events and all events, read as instant queries and differenced between checks, and judged
 * like the 5xx share: against the stable color, and against maxRate when given.
 */
export type MetricDefinition =
  | { kind: 'gauge'; name: string; query: string; max?: number; min?: number }
  | { kind: 'ratio'; name: string; bad: string; total: string; maxRate?: number }

/** What the placeholders of a metric's PromQL stand for, for one color. */
export interface PlaceholderValues {
  namespace: string
  service: string
  /** The color's Deployment, `<service>-<color>`. */
  workload: string
  color: string
  /** The analysis window as a PromQL range, e.g. `60s` (promRange). */
  window: string
}

export const PLACEHOLDERS = [
  'namespace',
  'service',
  'workload',
  'color',
  'window'
] as const satisfies readonly (keyof PlaceholderValues)[]
type Placeholder = (typeof PLACEHOLDERS)[number]

/**
 * Names the built-in metrics use in logs, the summary and reasons, and the engine's own queries
 * beside them (`scrape-age`: when the last scrape was, for the checks' timing).
 */
export const RESERVED_METRIC_NAMES = [
  'errors',
  'latency',
  'latency-limit',
  'p99',
  'requests',
  'scrape-age'
] as const

/** The definitions, or why the text is not a list of them (the metric named, and what to do). */
export type ParsedMetrics = { metrics: readonly MetricDefinition[] } | { error: string }

// `{{ name }}`, spaces optional. Used only with replace and matchAll, which keep no state.
const PLACEHOLDER = /\{\{([^{}]*)\}\}/g
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
// What a PromQL range may hold; promRange writes whole seconds.
const PROM_DURATION = /^(?:\d+(?:ms|s|m|h|d|w|y))+$/
// A counter's rate is not a counter: differencing it between checks measures nothing.
const RATE_FUNCTION = /\b(rate|irate|increase)\s*\(/

const KEYS = ['name', 'query', 'max', 'min', 'bad', 'total', 'max-rate'] as const
const KNOWN_PLACEHOLDERS =
  "{{ namespace }}, {{ service }}, {{ workload }} (the color's Deployment, <service>-<color>), {{ color }} and {{ window }} (the analysis-window as a PromQL range)"
const FORM =
  'a gauge has name, query and max and/or min (numbers); a ratio has name, bad and total (counters) and optionally max-rate (e.g. 1%)'
const NAME_FORM =
  "lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters (e.g. checkout-p95)"
const EXAMPLE = `- name: checkout-p95
  query: histogram_quantile(0.95, sum by (le) (rate(checkout_seconds_bucket{workload="{{ workload }}"}[{{ window }}])))
  max: 0.3
- name: payment-failures
  bad: sum(payments_total{workload="{{ workload }}",outcome="failed"})
  total: sum(payments_total{workload="{{ workload }}"})
  max-rate: 1%`

/** A problem with one metric; turned into ParsedMetrics' error at the top. */
class MetricError extends Error {}

function isPlaceholder(name: string): name is Placeholder {
  return (PLACEHOLDERS as readonly string[]).includes(name)
}

/** A value as a message may show it: strings quoted, lists and mappings by kind. */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (Array.isArray(value)) return 'a list'
  if (value !== null && typeof value === 'object') return 'a mapping'
  return String(value)
}

/** The placeholders a template uses; throws on one that is not known or not closed. */
function placeholdersOf(template: string, where: string): Set<Placeholder> {
  const used = new Set<Placeholder>()
  for (const [, inner = ''] of template.matchAll(PLACEHOLDER)) {
    const name = inner.trim()
    if (!isPlaceholder(name)) {
      throw new MetricError(
        `${where} has the unknown placeholder {{ ${name} }}; the placeholders are ${KNOWN_PLACEHOLDERS}`
      )
    }
    used.add(name)
  }
  if (template.replace(PLACEHOLDER, ' ').includes('{{')) {
    throw new MetricError(
      `${where} has a {{ without a matching }}; write a placeholder as {{ workload }}, one of ${KNOWN_PLACEHOLDERS}`
    )
  }
  return used
}

/** A PromQL template of the metric: a non-empty string, its placeholders known, and per color. */
function promql(value: unknown, where: string, counter: boolean): string {
  if (typeof value !== 'string' || value.trim() === '') {
    const empty = value === null || typeof value === 'string'
    throw new MetricError(
      `${where} is ${empty ? 'empty' : `${shown(value)}, not a PromQL expression`}; give the PromQL as a string`
    )
  }
  const used = placeholdersOf(value, where)
  if (!used.has('workload') && !used.has('color')) {
    throw new MetricError(
      `${where} uses neither {{ workload }} nor {{ color }}, so it cannot tell the colors apart; select the color's series, e.g. destination_workload="{{ workload }}"`
    )
  }
  const rate = counter ? RATE_FUNCTION.exec(value)?.[1] : undefined
  if (rate !== undefined) {
    throw new MetricError(
      `${where} takes ${rate}(): give the counter itself, e.g. sum(payments_total{workload="{{ workload }}"}); the action takes the difference between checks`
    )
  }
  return value.trim()
}

function bound(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new MetricError(
      `${where} is ${shown(value)}, not a number; give a plain number, e.g. 0.3`
    )
  }
  return value
}

/** The item's name: a DNS label, not a built-in metric's. `label` names the item in messages. */
function nameOf(item: Record<string, unknown>, label: string): string {
  const name = item.name
  if (name === undefined || name === null || name === '') {
    throw new MetricError(`${label} has no name; give it a name of ${NAME_FORM}`)
  }
  if (typeof name !== 'string') {
    const hint =
      typeof name === 'number' || typeof name === 'boolean'
        ? `put it in quotes (name: "${name}")`
        : `use ${NAME_FORM}`
    throw new MetricError(`${label}: name is ${shown(name)}, not a string; ${hint}`)
  }
  if (name.length > 63 || !DNS_LABEL.test(name)) {
    throw new MetricError(`${label}: name ${shown(name)} is not valid; use ${NAME_FORM}`)
  }
  if ((RESERVED_METRIC_NAMES as readonly string[]).includes(name)) {
    throw new MetricError(
      `${label}: the name "${name}" is a built-in metric's (${RESERVED_METRIC_NAMES.join(', ')}); choose another, e.g. checkout-${name}`
    )
  }
  return name
}

/** Keys other than the metric keys are refused: a misspelt max would leave a gauge unbounded. */
function checkKeys(item: Record<string, unknown>, label: string): void {
  const canonical = (key: string): string => key.toLowerCase().replace(/[-_]/g, '')
  for (const key of Object.keys(item)) {
    if ((KEYS as readonly string[]).includes(key)) continue
    const meant = KEYS.find((known) => canonical(known) === canonical(key))
    throw new MetricError(
      `${label} has the unknown key "${key}"${meant ? ` (did you mean ${meant}?)` : ''}; ${FORM}`
    )
  }
}

function definition(
  item: Record<string, unknown>,
  name: string,
  label: string,
  parseRate: (value: string) => number
): MetricDefinition {
  const has = (key: (typeof KEYS)[number]): boolean => item[key] !== undefined
  const counters = (['bad', 'total'] as const).filter(has)
  if (has('query') && counters.length > 0) {
    throw new MetricError(
      `${label} has both query and ${counters.join(' and ')}; give either query with max and/or min (a gauge) or bad and total with an optional max-rate (a ratio)`
    )
  }
  if (has('query')) {
    if (has('max-rate')) {
      throw new MetricError(
        `${label}: max-rate applies to a ratio (bad and total), not to a gauge (query); bound a gauge with max and/or min`
      )
    }
    const query = promql(item.query, `${label}: query`, false)
    const max = has('max') ? bound(item.max, `${label}: max`) : undefined
    const min = has('min') ? bound(item.min, `${label}: min`) : undefined
    if (max === undefined && min === undefined) {
      throw new MetricError(
        `${label} has a query but no bound; give max and/or min, the numbers the candidate's value must stay within`
      )
    }
    if (max !== undefined && min !== undefined && min > max) {
      throw new MetricError(`${label}: min ${min} is above max ${max}; give min ≤ max`)
    }
    const gauge: MetricDefinition = { kind: 'gauge', name, query }
    if (max !== undefined) gauge.max = max
    if (min !== undefined) gauge.min = min
    return gauge
  }
  if (counters.length === 1) {
    const [given, missing] = counters[0] === 'bad' ? ['bad', 'total'] : ['total', 'bad']
    throw new MetricError(
      `${label} has ${given} but no ${missing}; a ratio needs both: bad (a counter of the bad events) and total (a counter of all events) of the color`
    )
  }
  if (counters.length === 0) {
    throw new MetricError(`${label} has neither query nor bad and total; ${FORM}`)
  }
  const bounds = (['max', 'min'] as const).filter(has)
  if (bounds.length > 0) {
    throw new MetricError(
      `${label}: ${bounds.join(' and ')} ${bounds.length > 1 ? 'apply' : 'applies'} to a gauge (query), not to a ratio (bad and total); bound a ratio's share with max-rate, e.g. max-rate: 1%`
    )
  }
  const bad = promql(item.bad, `${label}: bad`, true)
  const total = promql(item.total, `${label}: total`, true)
  if (!has('max-rate')) return { kind: 'ratio', name, bad, total }
  const raw = item['max-rate']
  if (typeof raw !== 'string' && typeof raw !== 'number') {
    throw new MetricError(`${label}: max-rate is ${shown(raw)}; give a rate such as 1% or 0.01`)
  }
  let maxRate: number
  try {
    maxRate = parseRate(String(raw))
  } catch (error) {
    // The parser's message says what a rate looks like; the metric's name goes before it.
    throw new MetricError(
      `${label}: max-rate ${error instanceof Error ? error.message : String(error)}`,
      { cause: error }
    )
  }
  return { kind: 'ratio', name, bad, total, maxRate }
}

/**
 * The metric definitions in `text`, a YAML list; empty text is an empty list. `parseRate` turns
 * a max-rate (`1%`, `0.01`) into a share, throwing an Error whose message says what is accepted.
 */
export function parseMetricDefinitions(
  text: string,
  parseRate: (value: string) => number
): ParsedMetrics {
  let doc: unknown
  try {
    doc = yaml.load(text, { schema: yaml.CORE_SCHEMA })
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return { error: `is not valid YAML: ${message}\ngive a list of metrics, e.g.\n${EXAMPLE}` }
  }
  if (doc === undefined || doc === null) return { metrics: Object.freeze([]) }
  if (!Array.isArray(doc)) {
    const what = typeof doc === 'object' ? 'a mapping' : shown(doc)
    return {
      error: `is ${what}, not a list of metrics; start each metric with "- ", e.g.\n${EXAMPLE}`
    }
  }
  const metrics: MetricDefinition[] = []
  const positions = new Map<string, number>()
  try {
    doc.forEach((item: unknown, i) => {
      const position = `metric ${i + 1}`
      if (item === null || typeof item !== 'object' || Array.isArray(item)) {
        throw new MetricError(
          `${position} is ${shown(item)}, not a mapping of keys; ${FORM}, e.g.\n${EXAMPLE}`
        )
      }
      const fields = item as Record<string, unknown>
      // Named by its name from here on when it has a valid one, else by its position.
      const label =
        typeof fields.name === 'string' && fields.name.length <= 63 && DNS_LABEL.test(fields.name)
          ? `metric "${fields.name}"`
          : position
      checkKeys(fields, label)
      const name = nameOf(fields, label)
      const first = positions.get(name)
      if (first !== undefined) {
        throw new MetricError(
          `${label} (metric ${i + 1}) has the name of metric ${first}; give each metric its own name`
        )
      }
      positions.set(name, i + 1)
      metrics.push(Object.freeze(definition(fields, name, label, parseRate)))
    })
  } catch (error) {
    if (error instanceof MetricError) return { error: error.message }
    throw error
  }
  return { metrics: Object.freeze(metrics) }
}

/**
 * A metric's PromQL with its placeholders filled in. Each value is escaped for a PromQL
 * double-quoted string (it goes between quotes, as in `workload="{{ workload }}"`); the window is
 * a range and goes in as it is, so it must be one. Throws on an unknown placeholder or a window
 * that is not a range: templates reach here validated, so either is a bug.
 */
export function renderQuery(template: string, values: PlaceholderValues): string {
  if (!PROM_DURATION.test(values.window)) {
    throw new Error(`window "${values.window}" is not a PromQL range such as 60s or 1m30s`)
  }
  return template.replace(PLACEHOLDER, (whole, inner: string) => {
    const name = inner.trim()
    if (!isPlaceholder(name)) throw new Error(`${whole} is not a placeholder`)
    return name === 'window' ? values.window : promString(values[name]).slice(1, -1)
  })
}
