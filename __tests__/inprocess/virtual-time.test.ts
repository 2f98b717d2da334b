/**
 * Virtual time: timers fire in time order (ties in the order they were set), everything a timer
 * set off settles before the next one fires, an aborted sleep drops its timer, several runs share
 * one clock, and runaways fail loudly instead of spinning.
 */
import { RunawayError, VirtualTime } from './virtual-time.js'

it('fires timers in time order, ties in the order they were set, each at its time', async () => {
  const time = new VirtualTime({ start: 0 })
  const fired: string[] = []
  time.setTimeout(() => fired.push(`b@${time.now()}`), 20)
  time.setTimeout(() => fired.push(`a@${time.now()}`), 10)
  time.setTimeout(() => fired.push(`c@${time.now()}`), 20)
  const cancelled = time.setTimeout(() => fired.push('never'), 15)
  time.clearTimeout(cancelled)
  await time.advance(30)
  expect(fired).toEqual(['a@10', 'b@20', 'c@20'])
  expect(time.now()).toBe(30)
})

it('lets a timer’s promise chains settle before the next timer fires', async () => {
  const time = new VirtualTime({ start: 0 })
  const seen: string[] = []
  time.setTimeout(() => {
    void Promise.resolve()
      .then(() => Promise.resolve())
      .then(() => seen.push(`chain@${time.now()}`))
  }, 5)
  time.setTimeout(() => seen.push(`next@${time.now()}`), 5)
  time.setTimeout(() => seen.push(`later@${time.now()}`), 6)
  await time.advance(10)
  // One timer per turn: the chain the first timer set off ends before the second, due at the
  // same instant, fires.
  expect(seen).toEqual(['chain@5', 'next@5', 'later@6'])
})

it('a sleep ends at its time, or at once when its signal aborts, dropping its timer', async () => {
  const time = new VirtualTime({ start: 0 })
  const controller = new AbortController()
  const long = time.sleep(60_000, controller.signal).then(() => time.now())
  const short = time.sleep(1000).then(() => {
    controller.abort()
    return time.now()
  })
  expect(await time.run(Promise.all([short, long]))).toEqual([1000, 1000])
  expect(time.pending).toBe(0)
})

it('runs several awaited promises on one clock, and `every` repeats until stopped', async () => {
  const time = new VirtualTime({ start: 0 })
  const ticks: number[] = []
  const stop = time.every(100, () => ticks.push(time.now()))
  const a = time.run(time.sleep(250).then(() => 'a'))
  const b = time.run(time.sleep(350).then(() => 'b'))
  expect(await Promise.all([a, b])).toEqual(['a', 'b'])
  stop()
  expect(ticks).toEqual([100, 200, 300])
  expect(time.pending).toBe(0)
})

it('fails loudly past its limit of virtual time', async () => {
  const time = new VirtualTime({ start: 0, limitMs: 60_000 })
  const forever = (async () => {
    for (;;) await time.sleep(1000)
  })()
  await expect(time.run(forever)).rejects.toThrow(RunawayError)
})

it('fails loudly on a zero-delay loop and when nothing is scheduled', async () => {
  const time = new VirtualTime({ start: 0, maxAtOneInstant: 1000 })
  const spinning = (async () => {
    for (;;) await time.sleep(0)
  })()
  await expect(time.run(spinning)).rejects.toThrow(/without time moving/)

  const idle = new VirtualTime({ start: 0, stallMs: 50 })
  await expect(idle.run(new Promise(() => undefined))).rejects.toThrow(/nothing is scheduled/)
})
