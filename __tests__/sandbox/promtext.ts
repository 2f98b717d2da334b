/** Test helpers: parse the Prometheus text format and estimate quantiles from buckets. */

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m) throw new Error(`unparsable line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    }
    out.push({ name: m[1] ?? '', labels, value: Number(m[3]) })
  }
  return out
}

export function select(samples: Sample[], name: string, match: Record<string, string>): Sample[] {
  return samples.filter(
    (s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)
  )
}

export function total(samples: Sample[], name: string, match: Record<string, string>): number {
  return select(samples, name, match).reduce((a, s) => a + s.value, 0)
}

/** Quantile from cumulative buckets with linear interpolation, as PromQL's histogram_quantile. */
export function bucketQuantile(q: number, buckets: Array<{ le: number; count: number }>): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le)
  const last = sorted[sorted.length - 1]
  if (!last || last.count === 0) return NaN
  const rank = q * last.count
  let prevLe = 0
  let prevCount = 0
  for (const b of sorted) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe
      return prevLe + ((b.le - prevLe) * (rank - prevCount)) / (b.count - prevCount)
    }
    prevLe = b.le
    prevCount = b.count
  }
  return NaN
}

/** Sums the _bucket series matching `match` per `le` and returns the quantile. */
export function histogramQuantile(
  q: number,
  samples: Sample[],
  match: Record<string, string>
): number {
  const byLe = new Map<number, number>()
  for (const s of select(samples, 'istio_request_duration_milliseconds_bucket', match)) {
    const le = s.labels['le'] === '+Inf' ? Infinity : Number(s.labels['le'])
    byLe.set(le, (byLe.get(le) ?? 0) + s.value)
  }
  return bucketQuantile(
    q,
    [...byLe].map(([le, count]) => ({ le, count }))
  )
}
