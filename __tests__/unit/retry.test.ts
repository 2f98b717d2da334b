import {
  backoff,
  DEFAULT_RETRY,
  KubeError,
  ROLLBACK_RETRY,
  withRetry
} from '../../src/adapters/kube.js'

/** A fake clock: sleeping moves time, nothing waits. */
function clock() {
  let t = 0
  const sleeps: number[] = []
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms)
      t += ms
    },
    sleeps
  }
}

function failing(codes: number[]) {
  let calls = 0
  const fn = async () => {
    const code = codes[calls++]
    if (code === undefined) return 'ok'
    throw new KubeError(code, code === 0 ? 'Unreachable' : 'X', `HTTP ${code}`)
  }
  return { fn, calls: () => calls }
}

describe('withRetry', () => {
  it.each([
    ['429', [429]],
    ['500 then 503', [500, 503]],
    ['a dropped connection', [0]]
  ])('retries %s and succeeds', async (_name, codes) => {
    const c = clock()
    const f = failing(codes)
    await expect(withRetry(f.fn, 'get x', DEFAULT_RETRY, c.sleep, c.now)).resolves.toBe('ok')
    expect(f.calls()).toBe(codes.length + 1)
  })

  it.each([403, 404, 409, 422])('does not retry %d', async (code) => {
    const c = clock()
    const f = failing([code])
    await expect(withRetry(f.fn, 'get x', DEFAULT_RETRY, c.sleep, c.now)).rejects.toMatchObject({
      code
    })
    expect(f.calls()).toBe(1)
  })

  it('stops at the attempt limit', async () => {
    const c = clock()
    const f = failing(Array(50).fill(503))
    await expect(
      withRetry(f.fn, 'get x', { ...DEFAULT_RETRY, budgetMs: 1e9 }, c.sleep, c.now)
    ).rejects.toMatchObject({ code: 503 })
    expect(f.calls()).toBe(DEFAULT_RETRY.attempts)
  })

  it('starts no retry past the time budget', async () => {
    const c = clock()
    const f = failing(Array(50).fill(503))
    await expect(withRetry(f.fn, 'get x', ROLLBACK_RETRY, c.sleep, c.now)).rejects.toMatchObject({
      code: 503
    })
    expect(c.now()).toBeLessThanOrEqual(ROLLBACK_RETRY.budgetMs)
    expect(f.calls()).toBeLessThan(ROLLBACK_RETRY.attempts + 1)
    // Capped, growing, jittered backoff: never above 1.5 × the cap.
    expect(Math.max(...c.sleeps)).toBeLessThanOrEqual(ROLLBACK_RETRY.maxDelayMs * 1.5)
  })
})

describe('backoff', () => {
  it.each([
    [1, 0, 100],
    [1, 0.999, 299.8],
    [3, 0.5, 800],
    [10, 0.5, 3000]
  ])('attempt %d with jitter %d waits %d ms', (attempt, r, ms) => {
    expect(backoff(DEFAULT_RETRY, attempt, () => r)).toBeCloseTo(ms, 1)
  })
})
