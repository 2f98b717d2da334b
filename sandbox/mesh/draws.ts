/**
 * How the mesh simulator turns rates into counts: the four decisions behind
 * every tick (how many requests a flow sends, where they go, how many fail,
 * how long they take), made either exactly (accumulators, for exact test
 * assertions) or as noisy draws from a seeded random source (for statistics).
 */
import { Random } from './random.js'

/** Where requests can go: a persistent key per item, and its integer weight. */
export interface WeightedItem {
  key: string
  weight: number
}

export interface Draws {
  /** Requests flow `flowKey` sends in `dtMs` at `rps`. */
  arrivals(flowKey: string, rps: number, dtMs: number): number
  /** Splits n requests over items by weight; all weights zero sends nothing anywhere. */
  split(n: number, items: readonly WeightedItem[]): number[]
  /** How many of `count` requests to `key` are answered 5xx, at error ratio `rate` (0..1). */
  errors(key: string, count: number, rate: number): number
  /** `k` latencies (ms) for requests to `key`, exponential with mean `meanMs`. */
  latencies(key: string, k: number, meanMs: number): number[]
}

const GOLDEN = (Math.sqrt(5) - 1) / 2

/**
 * Deterministic counting, so tests can assert exact numbers:
 * - each flow accumulates rps × elapsed time and sends the whole requests it owes;
 * - splits use smooth weighted round robin with persistent integer accumulators, so
 *   every item's running total stays within one request of its exact share;
 * - errors come from an accumulator of count × rate;
 * - latencies are the exponential's quantiles at the points of a golden-ratio sequence.
 * Every accumulator persists under its key for the simulator's life.
 */
export class ExactDraws implements Draws {
  /** Owed requests per flow in request·milliseconds (rps × ms), so integer rates stay exact. */
  private readonly owed = new Map<string, number>()
  private readonly splitAcc = new Map<string, number>()
  private readonly errorAcc = new Map<string, number>()
  private readonly latencySeq = new Map<string, number>()

  arrivals(flowKey: string, rps: number, dtMs: number): number {
    const owed = (this.owed.get(flowKey) ?? 0) + rps * dtMs
    const n = Math.floor(owed / 1000)
    this.owed.set(flowKey, owed - n * 1000)
    return n
  }

  /**
   * Each item earns n × weight, each request goes to the item with the most credit and costs it
   * the total weight. Credits persist between ticks under their keys.
   */
  split(n: number, items: readonly WeightedItem[]): number[] {
    const out = items.map(() => 0)
    const total = items.reduce((a, it) => a + it.weight, 0)
    if (items.length === 0 || total <= 0) return out
    const credit = items.map((it) => (this.splitAcc.get(it.key) ?? 0) + n * it.weight)
    for (let r = 0; r < n; r++) {
      let best = -1
      for (let i = 0; i < items.length; i++) {
        if ((items[i]?.weight ?? 0) <= 0) continue
        if (best < 0 || (credit[i] ?? 0) > (credit[best] ?? 0)) best = i
      }
      out[best] = (out[best] ?? 0) + 1
      credit[best] = (credit[best] ?? 0) - total
    }
    items.forEach((it, i) => this.splitAcc.set(it.key, credit[i] ?? 0))
    return out
  }

  errors(key: string, count: number, rate: number): number {
    const acc = (this.errorAcc.get(key) ?? 0) + count * rate
    // The epsilon absorbs float error such as 0.2 × 5 = 1.0000000000000002 or 0.999….
    const errors = Math.min(count, Math.floor(acc + 1e-9))
    this.errorAcc.set(key, acc - errors)
    return errors
  }

  latencies(key: string, k: number, meanMs: number): number[] {
    let i = this.latencySeq.get(key) ?? 0
    const out: number[] = []
    for (let r = 0; r < k; r++) {
      i += 1
      const u = (i * GOLDEN) % 1
      out.push(-meanMs * Math.log(1 - u))
    }
    this.latencySeq.set(key, i)
    return out
  }
}

/**
 * Noisy counting from one seeded random source, as independent requests behave: arrivals per
 * tick are Poisson(rps × dt), each request picks its item by weight, fails with probability
 * `rate` and takes an exponential latency. Keys are ignored; the same seed and the same calls
 * give the same draws.
 */
export class RandomDraws implements Draws {
  private readonly random: Random

  constructor(seed: number) {
    this.random = new Random(seed)
  }

  arrivals(_flowKey: string, rps: number, dtMs: number): number {
    return this.random.poisson((rps * dtMs) / 1000)
  }

  split(n: number, items: readonly WeightedItem[]): number[] {
    const out = items.map(() => 0)
    const weights = items.map((it) => Math.max(0, it.weight))
    const total = weights.reduce((a, w) => a + w, 0)
    if (total <= 0) return out
    const candidates = weights.filter((w) => w > 0).length
    if (candidates === 1) {
      // One possible item: no draw needed.
      out[weights.findIndex((w) => w > 0)] = n
      return out
    }
    for (let r = 0; r < n; r++) {
      const i = this.random.pick(weights, total)
      out[i] = (out[i] ?? 0) + 1
    }
    return out
  }

  errors(_key: string, count: number, rate: number): number {
    if (rate <= 0) return 0
    if (rate >= 1) return count
    let errors = 0
    for (let r = 0; r < count; r++) if (this.random.bernoulli(rate)) errors += 1
    return errors
  }

  latencies(_key: string, k: number, meanMs: number): number[] {
    const out = new Array<number>(k)
    for (let r = 0; r < k; r++) out[r] = this.random.exponential(meanMs)
    return out
  }
}
