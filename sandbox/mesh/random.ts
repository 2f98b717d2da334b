/**
 * A small seeded random source for the mesh simulator's noisy mode: xoshiro128**
 * seeded through splitmix32, so a seed always replays the same draws, and the
 * samplers the simulator needs (uniform, exponential, Poisson, weighted pick).
 * No dependency, and nothing here reads a clock or Math.random.
 */

/** Samples from a seeded xoshiro128** generator. */
export class Random {
  private s0 = 0
  private s1 = 0
  private s2 = 0
  private s3 = 0

  /** `seed` is a non-negative safe integer; each one gives its own stream. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`seed must be a non-negative integer, got ${seed}`)
    }
    // The low and high 32 bits seed two splitmix32 streams; splitmix32's first output is a
    // bijection of its seed, so two seeds never share a state.
    const lo = splitmix32(seed >>> 0)
    const hi = splitmix32(Math.floor(seed / 2 ** 32) ^ 0x5bd1e995)
    this.s0 = lo()
    this.s1 = lo()
    this.s2 = hi()
    this.s3 = hi()
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9)
    const t = this.s1 << 9
    this.s2 ^= this.s0
    this.s3 ^= this.s1
    this.s1 ^= this.s2
    this.s0 ^= this.s3
    this.s2 ^= t
    this.s3 = rotl(this.s3, 11)
    return result >>> 0
  }

  /** Uniform on [0, 1) with 53 bits, so exponential tails are not cut off at 2^-32. */
  uniform(): number {
    const a = this.nextUint32() >>> 5
    const b = this.nextUint32() >>> 6
    return (a * 67108864 + b) / 9007199254740992
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.uniform())
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.uniform() < p
  }

  /**
   * Poisson with the given mean: Knuth's multiplication method below 30 (exact, about mean + 1
   * uniforms), Hörmann's transformed rejection with squeeze (PTRS) above (exact too, about 1.2
   * pairs of uniforms whatever the mean).
   */
  poisson(mean: number): number {
    if (!Number.isFinite(mean) || mean < 0) {
      throw new RangeError(`a Poisson mean must be a finite number >= 0, got ${mean}`)
    }
    if (mean === 0) return 0
    return mean < 30 ? this.poissonKnuth(mean) : this.poissonPtrs(mean)
  }

  /**
   * Index of an item drawn with probability weight / sum(weights); weights are >= 0 and
   * `total` is their sum (> 0). Zero weights are never drawn.
   */
  pick(weights: readonly number[], total: number): number {
    const r = this.uniform() * total
    let cumulative = 0
    let last = -1
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] ?? 0
      if (w <= 0) continue
      cumulative += w
      last = i
      if (r < cumulative) return i
    }
    // Only float rounding gets here (r within an ulp of total): the last item with weight.
    return last
  }

  private poissonKnuth(mean: number): number {
    const limit = Math.exp(-mean)
    let k = 0
    let p = this.uniform()
    while (p > limit) {
      k += 1
      p *= this.uniform()
    }
    return k
  }

  /** W. Hörmann, "The transformed rejection method for generating Poisson random variables" (1993). */
  private poissonPtrs(mean: number): number {
    const slam = Math.sqrt(mean)
    const logLam = Math.log(mean)
    const b = 0.931 + 2.53 * slam
    const a = -0.059 + 0.02483 * b
    const invAlpha = 1.1239 + 1.1328 / (b - 3.4)
    const vr = 0.9277 - 3.6224 / (b - 2)
    for (;;) {
      const u = this.uniform() - 0.5
      const v = this.uniform()
      const us = 0.5 - Math.abs(u)
      const k = Math.floor(((2 * a) / us + b) * u + mean + 0.43)
      if (us >= 0.07 && v <= vr) return k
      if (k < 0 || (us < 0.013 && v > us)) continue
      if (
        Math.log(v) + Math.log(invAlpha) - Math.log(a / (us * us) + b) <=
        -mean + k * logLam - logFactorial(k)
      ) {
        return k
      }
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}

/** splitmix32 (Vigna's splitmix with 32-bit constants): a stream of well-mixed 32-bit words. */
function splitmix32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return (z ^ (z >>> 16)) >>> 0
  }
}

const LOG_FACTORIAL_TABLE: readonly number[] = (() => {
  const t = [0]
  for (let k = 1; k < 64; k++) t.push((t[k - 1] ?? 0) + Math.log(k))
  return t
})()

/** ln(k!): a table below 64, Stirling's series (error < 1e-15 there) above. */
export function logFactorial(k: number): number {
  const exact = LOG_FACTORIAL_TABLE[k]
  if (exact !== undefined) return exact
  const k2 = k * k
  return (
    (k + 0.5) * Math.log(k) -
    k +
    0.5 * Math.log(2 * Math.PI) +
    (1 / 12 - (1 / 360 - 1 / (1260 * k2)) / k2) / k
  )
}
