import { logFactorial, Random } from '../../sandbox/mesh/random.js'

function draws(seed: number, n: number, draw: (r: Random) => number): number[] {
  const r = new Random(seed)
  return Array.from({ length: n }, () => draw(r))
}

function meanAndVariance(xs: readonly number[]): { mean: number; variance: number } {
  const mean = xs.reduce((a, x) => a + x, 0) / xs.length
  const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)
  return { mean, variance }
}

function poissonPmf(mean: number, k: number): number {
  return Math.exp(-mean + k * Math.log(mean) - logFactorial(k))
}

describe('seeded random source', () => {
  it('replays a seed and gives other seeds other streams', () => {
    const a = draws(7, 1000, (r) => r.nextUint32())
    expect(draws(7, 1000, (r) => r.nextUint32())).toEqual(a)
    for (const other of [0, 1, 8, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER]) {
      expect(draws(other, 1000, (r) => r.nextUint32())).not.toEqual(a)
    }
  })

  it.each([[-1], [1.5], [NaN], [2 ** 53]])('refuses seed %p', (seed) => {
    expect(() => new Random(seed)).toThrow(/seed must be a non-negative integer/)
  })

  it('draws uniforms on [0, 1) with mean 1/2 and variance 1/12', () => {
    const xs = draws(3, 100_000, (r) => r.uniform())
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...xs)).toBeLessThan(1)
    const { mean, variance } = meanAndVariance(xs)
    // 5 standard errors: sd(mean) = sqrt(1/12 / n).
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / 1e5))
    expect(variance * 12).toBeCloseTo(1, 1)
  })

  it.each([[0.5], [4], [29.5], [30], [75], [1000], [1e6]])(
    'draws Poisson(%p) with mean and variance both equal to the mean',
    (mean) => {
      const n = 20_000
      const xs = draws(11, n, (r) => r.poisson(mean))
      expect(xs.every((x) => Number.isInteger(x) && x >= 0)).toBe(true)
      const s = meanAndVariance(xs)
      expect(Math.abs(s.mean - mean)).toBeLessThan(5 * Math.sqrt(mean / n))
      // The sample variance of a Poisson sample has sd ≈ mean × sqrt(2/n) (plus a kurtosis term).
      const sdVariance = Math.sqrt((2 * mean * mean + mean) / n)
      expect(Math.abs(s.variance - mean)).toBeLessThan(5 * sdVariance)
    }
  )

  it.each([[3], [12], [50], [400]])(
    'matches the Poisson(%p) probabilities bin by bin (chi-square)',
    (mean) => {
      // Bins of width 1 from the 0.1% to the 99.9% point, the tails pooled into the end bins.
      const n = 50_000
      const lo = Math.max(0, Math.floor(mean - 3.3 * Math.sqrt(mean)))
      const hi = Math.ceil(mean + 3.3 * Math.sqrt(mean))
      const observed = new Array<number>(hi - lo + 1).fill(0)
      for (const x of draws(5, n, (r) => r.poisson(mean))) {
        const i = Math.min(hi, Math.max(lo, x)) - lo
        observed[i] = (observed[i] ?? 0) + 1
      }
      const expected = observed.map((_, i) => {
        const k = lo + i
        if (k === lo) {
          let below = 0
          for (let j = 0; j <= lo; j++) below += poissonPmf(mean, j)
          return below * n
        }
        if (k === hi) {
          let below = 0
          for (let j = 0; j < hi; j++) below += poissonPmf(mean, j)
          return (1 - below) * n
        }
        return poissonPmf(mean, k) * n
      })
      const chi2 = observed.reduce(
        (a, o, i) => a + (o - (expected[i] ?? 0)) ** 2 / (expected[i] ?? 1),
        0
      )
      const df = observed.length - 1
      // Chi-square has mean df and sd sqrt(2 df); 5 sd above the mean cannot happen by chance.
      expect(chi2).toBeLessThan(df + 5 * Math.sqrt(2 * df))
    }
  )

  it('draws exponentials with the given mean, 1% above mean × ln(100)', () => {
    const n = 100_000
    const xs = draws(9, n, (r) => r.exponential(10))
    const { mean } = meanAndVariance(xs)
    expect(Math.abs(mean - 10)).toBeLessThan(5 * (10 / Math.sqrt(n)))
    const above = xs.filter((x) => x > 10 * Math.log(100)).length / n
    expect(Math.abs(above - 0.01)).toBeLessThan(5 * Math.sqrt((0.01 * 0.99) / n))
  })

  it('picks items in proportion to their weight and never a zero weight', () => {
    const n = 60_000
    const weights = [0, 1, 0, 2, 3]
    const counts = [0, 0, 0, 0, 0]
    const r = new Random(13)
    for (let i = 0; i < n; i++) {
      const k = r.pick(weights, 6)
      counts[k] = (counts[k] ?? 0) + 1
    }
    expect([counts[0], counts[2]]).toEqual([0, 0])
    weights.forEach((w, i) => {
      const p = w / 6
      expect(Math.abs((counts[i] ?? 0) - n * p)).toBeLessThanOrEqual(5 * Math.sqrt(n * p * (1 - p)))
    })
  })

  it('computes ln(k!) on both sides of the table', () => {
    let exact = 0
    for (let k = 1; k <= 200; k++) {
      exact += Math.log(k)
      expect(logFactorial(k)).toBeCloseTo(exact, 9)
    }
    expect(logFactorial(0)).toBe(0)
  })
})
