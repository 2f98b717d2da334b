/**
 * The small part of PromQL the action's queries use, evaluated over scraped samples, for the
 * in-process Prometheus (mesh-prometheus.ts): vector selectors with `=`, `!=`, `=~`, `!~`
 * matchers; `rate` and `increase` over a range; `sum`, `max`, `min`, `count`, `avg` with `by` or
 * `without`; `histogram_quantile`; `time()` and `timestamp()` of a selector (its scrape's time);
 * binary `-` between vectors (with `ignoring(...)` or
 * `on(...)`, one-to-one) or with a scalar; number literals. Anything else is an
 * UnsupportedQuery, which the in-process Prometheus answers as Prometheus answers a query it
 * cannot run: an error, never a made-up value.
 */

/** One series' value: labels with the metric name under `__name__`. */
export interface Sample {
  labels: Readonly<Record<string, string>>
  value: number
}

/**
 * A sample's series identity, computed once per labels object: scrapes hand the same labels
 * object for a series every time, and many queries read each scrape.
 */
const seriesKeys = new WeakMap<object, string>()
function seriesKeyOf(s: Sample): string {
  let key = seriesKeys.get(s.labels)
  if (key === undefined) {
    key = keyOf(s.labels)
    seriesKeys.set(s.labels, key)
  }
  return key
}

/** Every series at one instant, indexed by metric name (a selector names one metric). */
export interface Scrape {
  t: number
  samples: readonly Sample[]
  byName: ReadonlyMap<string, readonly Sample[]>
}

/** A scrape of `samples` taken at `t`, with its index. */
export function scrapeOf(t: number, samples: readonly Sample[]): Scrape {
  const byName = new Map<string, Sample[]>()
  for (const s of samples) {
    const name = s.labels.__name__ ?? ''
    const family = byName.get(name)
    if (family) family.push(s)
    else byName.set(name, [s])
  }
  return { t, samples, byName }
}

/** What the evaluator reads: the samples of one instant, and the scrapes of a time range. */
export interface SampleSource {
  /** Every series as of `t` (its latest sample at or before `t`, unless stale). */
  at(t: number): Scrape | undefined
  /** The scrapes in (from, to], oldest first, each with every series it held. */
  range(from: number, to: number): readonly Scrape[]
}

export class UnsupportedQuery extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UnsupportedQuery'
  }
}

type Matcher = { name: string; op: '=' | '!=' | '=~' | '!~'; value: string; re?: RegExp }

type Node =
  | { kind: 'number'; value: number }
  | { kind: 'selector'; matchers: Matcher[]; rangeMs?: number }
  | { kind: 'call'; fn: string; args: Node[] }
  | { kind: 'agg'; op: string; by?: string[]; without?: string[]; arg: Node }
  | { kind: 'minus'; left: Node; right: Node; ignoring?: string[]; on?: string[] }

type Value = { kind: 'scalar'; value: number } | { kind: 'vector'; samples: Sample[] }

// ---- tokens -------------------------------------------------------------------------------

type Token =
  | { t: 'ident'; v: string }
  | { t: 'string'; v: string }
  | { t: 'number'; v: number }
  | { t: 'duration'; v: number }
  | { t: 'op'; v: string }

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000
}

function tokenize(q: string): Token[] {
  const out: Token[] = []
  let i = 0
  while (i < q.length) {
    const c = q[i] as string
    if (/\s/.test(c)) {
      i++
      continue
    }
    if (c === '"' || c === "'") {
      let v = ''
      i++
      while (i < q.length && q[i] !== c) {
        if (q[i] === '\\') {
          const n = q[i + 1]
          v += n === 'n' ? '\n' : n === 't' ? '\t' : (n ?? '')
          i += 2
        } else v += q[i++]
      }
      if (i >= q.length) throw new UnsupportedQuery(`unterminated string in ${q}`)
      i++
      out.push({ t: 'string', v })
      continue
    }
    const duration = /^(?:\d+(?:ms|s|m|h|d|w|y))+/.exec(q.slice(i))
    if (duration && out.at(-1)?.v === '[') {
      let ms = 0
      for (const [, n, u] of duration[0].matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) {
        ms += Number(n) * (DURATION_UNITS[u as string] as number)
      }
      out.push({ t: 'duration', v: ms })
      i += duration[0].length
      continue
    }
    const number = /^\d+(?:\.\d+)?(?:e[+-]?\d+)?/i.exec(q.slice(i))
    if (number) {
      out.push({ t: 'number', v: Number(number[0]) })
      i += number[0].length
      continue
    }
    const ident = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(q.slice(i))
    if (ident) {
      out.push({ t: 'ident', v: ident[0] })
      i += ident[0].length
      continue
    }
    const op = /^(?:=~|!~|!=|[{}()[\],=-])/.exec(q.slice(i))
    if (op) {
      out.push({ t: 'op', v: op[0] })
      i += op[0].length
      continue
    }
    throw new UnsupportedQuery(`unexpected character ${JSON.stringify(c)} in ${q}`)
  }
  return out
}

// ---- parser ---------------------------------------------------------------------------------

const AGGREGATIONS = new Set(['sum', 'max', 'min', 'count', 'avg'])
const FUNCTIONS = new Set(['rate', 'increase', 'histogram_quantile', 'time', 'timestamp'])

class Parser {
  private i = 0
  constructor(
    private readonly tokens: Token[],
    private readonly query: string
  ) {}

  parse(): Node {
    const node = this.expr()
    if (this.i < this.tokens.length) this.fail(`unexpected ${this.peek()?.v}`)
    return node
  }

  private fail(why: string): never {
    throw new UnsupportedQuery(`${why} in ${this.query}`)
  }

  private peek(): Token | undefined {
    return this.tokens[this.i]
  }

  private next(): Token {
    const t = this.tokens[this.i++]
    if (!t) this.fail('unexpected end')
    return t
  }

  private isOp(v: string): boolean {
    const t = this.peek()
    return t?.t === 'op' && t.v === v
  }

  private expect(v: string): void {
    const t = this.next()
    if (t.t !== 'op' || t.v !== v) this.fail(`expected "${v}", got ${JSON.stringify(t.v)}`)
  }

  private expr(): Node {
    let left = this.term()
    while (this.isOp('-')) {
      this.i++
      let ignoring: string[] | undefined
      let on: string[] | undefined
      const t = this.peek()
      if (t?.t === 'ident' && (t.v === 'ignoring' || t.v === 'on')) {
        this.i++
        const labels = this.labelList()
        if (t.v === 'ignoring') ignoring = labels
        else on = labels
      }
      const right = this.term()
      left = {
        kind: 'minus',
        left,
        right,
        ...(ignoring ? { ignoring } : {}),
        ...(on ? { on } : {})
      }
    }
    return left
  }

  private labelList(): string[] {
    this.expect('(')
    const labels: string[] = []
    while (!this.isOp(')')) {
      const t = this.next()
      if (t.t !== 'ident') this.fail(`expected a label name, got ${JSON.stringify(t.v)}`)
      labels.push(t.v)
      if (this.isOp(',')) this.i++
    }
    this.expect(')')
    return labels
  }

  private term(): Node {
    const t = this.peek()
    if (!t) this.fail('unexpected end')
    if (t.t === 'number') {
      this.i++
      return { kind: 'number', value: t.v }
    }
    if (t.t === 'op' && t.v === '(') {
      this.i++
      const inner = this.expr()
      this.expect(')')
      return inner
    }
    if (t.t === 'op' && t.v === '{') return this.selector(undefined)
    if (t.t !== 'ident') this.fail(`unexpected ${JSON.stringify(t.v)}`)
    this.i++
    if (AGGREGATIONS.has(t.v)) return this.aggregation(t.v)
    if (this.isOp('(')) {
      if (!FUNCTIONS.has(t.v)) this.fail(`function ${t.v} is not supported`)
      this.i++
      const args: Node[] = []
      while (!this.isOp(')')) {
        args.push(this.expr())
        if (this.isOp(',')) this.i++
      }
      this.expect(')')
      return { kind: 'call', fn: t.v, args }
    }
    return this.selector(t.v)
  }

  private aggregation(op: string): Node {
    let grouping = this.grouping()
    this.expect('(')
    const arg = this.expr()
    this.expect(')')
    grouping ??= this.grouping()
    return { kind: 'agg', op, arg, ...grouping }
  }

  private grouping(): { by?: string[]; without?: string[] } | undefined {
    const t = this.peek()
    if (t?.t !== 'ident' || (t.v !== 'by' && t.v !== 'without')) return undefined
    this.i++
    return t.v === 'by' ? { by: this.labelList() } : { without: this.labelList() }
  }

  private selector(name: string | undefined): Node {
    const matchers: Matcher[] = name ? [{ name: '__name__', op: '=', value: name }] : []
    if (this.isOp('{')) {
      this.i++
      while (!this.isOp('}')) {
        const label = this.next()
        if (label.t !== 'ident') this.fail(`expected a label name, got ${JSON.stringify(label.v)}`)
        const op = this.next()
        if (op.t !== 'op' || !['=', '!=', '=~', '!~'].includes(op.v)) {
          this.fail(`expected a matcher operator after ${label.v}`)
        }
        const value = this.next()
        if (value.t !== 'string') this.fail(`expected a string after ${label.v}${op.v}`)
        const m: Matcher = { name: label.v, op: op.v as Matcher['op'], value: value.v }
        if (m.op === '=~' || m.op === '!~') m.re = new RegExp(`^(?:${value.v})$`)
        matchers.push(m)
        if (this.isOp(',')) this.i++
      }
      this.i++
    }
    if (matchers.length === 0) this.fail('a selector needs a name or a matcher')
    if (this.isOp('[')) {
      this.i++
      const d = this.next()
      if (d.t !== 'duration') this.fail('expected a duration')
      this.expect(']')
      return { kind: 'selector', matchers, rangeMs: d.v }
    }
    return { kind: 'selector', matchers }
  }
}

/** Parsed queries: the same few queries are asked at every check. */
const parsed = new Map<string, Node>()

export function parse(query: string): Node {
  let node = parsed.get(query)
  if (!node) {
    node = new Parser(tokenize(query), query).parse()
    parsed.set(query, node)
  }
  return node
}

// ---- evaluation -----------------------------------------------------------------------------

/**
 * What each selector selected in each scrape: a scrape is kept for minutes and every check reads
 * the same selectors over it again (a range of a minute, a check every 10 s).
 */
const selections = new WeakMap<Scrape, Map<readonly Matcher[], Sample[]>>()

/** The samples of a scrape that a selector's matchers select. */
function select(scrape: Scrape | undefined, ms: readonly Matcher[]): Sample[] {
  if (!scrape) return []
  let cache = selections.get(scrape)
  if (!cache) {
    cache = new Map()
    selections.set(scrape, cache)
  }
  let selected = cache.get(ms)
  if (!selected) {
    const name = ms.find((m) => m.name === '__name__' && m.op === '=')
    const candidates = name ? (scrape.byName.get(name.value) ?? []) : scrape.samples
    selected = candidates.filter((s) => matches(s.labels, ms))
    cache.set(ms, selected)
  }
  return selected
}

function matches(labels: Readonly<Record<string, string>>, ms: readonly Matcher[]): boolean {
  return ms.every((m) => {
    const v = labels[m.name] ?? ''
    switch (m.op) {
      case '=':
        return v === m.value
      case '!=':
        return v !== m.value
      case '=~':
        return (m.re as RegExp).test(v)
      case '!~':
        return !(m.re as RegExp).test(v)
    }
  })
}

function keyOf(labels: Readonly<Record<string, string>>, drop: readonly string[] = []): string {
  return Object.keys(labels)
    .filter((k) => !drop.includes(k))
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',')
}

function withoutName(labels: Readonly<Record<string, string>>): Record<string, string> {
  const copy = { ...labels }
  delete copy.__name__
  return copy
}

/** Per-second rate (or increase) of each series over the range, from its scrapes in it. */
function rangeFunction(
  fn: 'rate' | 'increase',
  selector: { matchers: Matcher[]; rangeMs: number },
  source: SampleSource,
  t: number
): Sample[] {
  const points = new Map<string, { labels: Record<string, string>; ts: number[]; vs: number[] }>()
  for (const scrape of source.range(t - selector.rangeMs, t)) {
    for (const s of select(scrape, selector.matchers)) {
      const key = seriesKeyOf(s)
      let p = points.get(key)
      if (!p) {
        p = { labels: withoutName(s.labels), ts: [], vs: [] }
        points.set(key, p)
      }
      p.ts.push(scrape.t)
      p.vs.push(s.value)
    }
  }
  const out: Sample[] = []
  for (const p of points.values()) {
    if (p.ts.length < 2) continue
    let increase = 0
    for (let i = 1; i < p.vs.length; i++) {
      const d = (p.vs[i] as number) - (p.vs[i - 1] as number)
      // A counter that went down was reset: it counts from zero again.
      increase += d >= 0 ? d : (p.vs[i] as number)
    }
    const seconds = ((p.ts.at(-1) as number) - (p.ts[0] as number)) / 1000
    const rate = increase / seconds
    out.push({ labels: p.labels, value: fn === 'rate' ? rate : rate * (selector.rangeMs / 1000) })
  }
  return out
}

/** Prometheus's bucketQuantile over one histogram's cumulative buckets. */
function bucketQuantile(q: number, buckets: Array<{ le: number; count: number }>): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le)
  const last = sorted.at(-1)
  if (!last || last.le !== Infinity || sorted.length < 2) return NaN
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1] as { count: number }
    const cur = sorted[i] as { count: number }
    if (cur.count < prev.count) cur.count = prev.count
  }
  const total = last.count
  if (total === 0) return NaN
  let rank = q * total
  const b = sorted.findIndex((x) => x.count >= rank)
  if (b === sorted.length - 1) return (sorted[sorted.length - 2] as { le: number }).le
  const bucket = sorted[b] as { le: number; count: number }
  if (b === 0 && bucket.le <= 0) return bucket.le
  let start = 0
  let count = bucket.count
  if (b > 0) {
    const prev = sorted[b - 1] as { le: number; count: number }
    start = prev.le
    count -= prev.count
    rank -= prev.count
  }
  return start + (bucket.le - start) * (rank / count)
}

function aggregate(
  op: string,
  samples: Sample[],
  grouping: { by?: string[]; without?: string[] }
): Sample[] {
  const groups = new Map<string, { labels: Record<string, string>; values: number[] }>()
  for (const s of samples) {
    const labels: Record<string, string> = {}
    if (grouping.by) {
      for (const k of grouping.by) if (s.labels[k] !== undefined) labels[k] = s.labels[k]
    } else if (grouping.without) {
      for (const [k, v] of Object.entries(withoutName(s.labels))) {
        if (!grouping.without.includes(k)) labels[k] = v
      }
    }
    const key = keyOf(labels)
    const g = groups.get(key) ?? { labels, values: [] }
    g.values.push(s.value)
    groups.set(key, g)
  }
  return [...groups.values()].map(({ labels, values }) => {
    const sum = values.reduce((a, b) => a + b, 0)
    const value =
      op === 'sum'
        ? sum
        : op === 'max'
          ? Math.max(...values)
          : op === 'min'
            ? Math.min(...values)
            : op === 'count'
              ? values.length
              : sum / values.length
    return { labels, value }
  })
}

function evalNode(node: Node, source: SampleSource, t: number): Value {
  switch (node.kind) {
    case 'number':
      return { kind: 'scalar', value: node.value }
    case 'selector': {
      if (node.rangeMs !== undefined) {
        throw new UnsupportedQuery('a range vector is only supported inside rate() or increase()')
      }
      const samples = select(source.at(t), node.matchers)
      return { kind: 'vector', samples: samples.map((s) => ({ ...s })) }
    }
    case 'agg': {
      const arg = evalNode(node.arg, source, t)
      if (arg.kind !== 'vector') throw new UnsupportedQuery(`${node.op}() of a scalar`)
      return { kind: 'vector', samples: aggregate(node.op, arg.samples, node) }
    }
    case 'call': {
      if (node.fn === 'rate' || node.fn === 'increase') {
        const [arg] = node.args
        if (node.args.length !== 1 || arg?.kind !== 'selector' || arg.rangeMs === undefined) {
          throw new UnsupportedQuery(`${node.fn}() takes one range selector`)
        }
        return {
          kind: 'vector',
          samples: rangeFunction(
            node.fn,
            { matchers: arg.matchers, rangeMs: arg.rangeMs },
            source,
            t
          )
        }
      }
      if (node.fn === 'time') {
        if (node.args.length !== 0) throw new UnsupportedQuery('time() takes no argument')
        return { kind: 'scalar', value: t / 1000 }
      }
      if (node.fn === 'timestamp') {
        const [arg] = node.args
        if (node.args.length !== 1 || arg?.kind !== 'selector' || arg.rangeMs !== undefined) {
          throw new UnsupportedQuery('timestamp() is only supported of an instant selector')
        }
        // Every sample of an instant is its scrape's: the time it was taken, in seconds.
        const scrape = source.at(t)
        return {
          kind: 'vector',
          samples: select(scrape, arg.matchers).map((x) => ({
            labels: withoutName(x.labels),
            value: (scrape?.t ?? t) / 1000
          }))
        }
      }
      const [qNode, vNode] = node.args
      const q = qNode && evalNode(qNode, source, t)
      const v = vNode && evalNode(vNode, source, t)
      if (node.args.length !== 2 || q?.kind !== 'scalar' || v?.kind !== 'vector') {
        throw new UnsupportedQuery('histogram_quantile() takes a number and a vector')
      }
      const groups = new Map<
        string,
        { labels: Record<string, string>; buckets: Array<{ le: number; count: number }> }
      >()
      for (const s of v.samples) {
        const le = s.labels.le
        if (le === undefined) continue
        const labels = withoutName(s.labels)
        delete labels.le
        const key = keyOf(labels)
        const g = groups.get(key) ?? { labels, buckets: [] }
        g.buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: s.value })
        groups.set(key, g)
      }
      return {
        kind: 'vector',
        samples: [...groups.values()].map((g) => ({
          labels: g.labels,
          value: bucketQuantile(q.value, g.buckets)
        }))
      }
    }
    case 'minus': {
      const left = evalNode(node.left, source, t)
      const right = evalNode(node.right, source, t)
      if (left.kind === 'scalar' && right.kind === 'scalar') {
        return { kind: 'scalar', value: left.value - right.value }
      }
      if (left.kind === 'vector' && right.kind === 'scalar') {
        return {
          kind: 'vector',
          samples: left.samples.map((s) => ({
            labels: withoutName(s.labels),
            value: s.value - right.value
          }))
        }
      }
      if (left.kind === 'scalar' && right.kind === 'vector') {
        return {
          kind: 'vector',
          samples: right.samples.map((s) => ({
            labels: withoutName(s.labels),
            value: left.value - s.value
          }))
        }
      }
      const l = left as { samples: Sample[] }
      const r = right as { samples: Sample[] }
      const signature = (labels: Readonly<Record<string, string>>): string => {
        const plain = withoutName(labels)
        if (node.on) return keyOf(Object.fromEntries(node.on.map((k) => [k, plain[k] ?? ''])))
        return keyOf(plain, node.ignoring ?? [])
      }
      const rights = new Map<string, Sample>()
      for (const s of r.samples) {
        const sig = signature(s.labels)
        if (rights.has(sig)) {
          throw new UnsupportedQuery('many-to-many matching on the right-hand side of "-"')
        }
        rights.set(sig, s)
      }
      const out: Sample[] = []
      for (const s of l.samples) {
        const match = rights.get(signature(s.labels))
        if (match) out.push({ labels: withoutName(s.labels), value: s.value - match.value })
      }
      return { kind: 'vector', samples: out }
    }
  }
}

/**
 * The query's value at `t`: a scalar, or an instant vector. As in Prometheus, a plain selector's
 * series keep their `__name__`; what a function, an aggregation or an operator made has none.
 */
export function evaluate(query: string, source: SampleSource, t: number): Value {
  return evalNode(parse(query), source, t)
}
