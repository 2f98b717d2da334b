import { formatDuration, parseDuration, promRange } from '../../src/core/duration.js'

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    [' 10s ', 10_000],
    ['0s', 0]
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms)
  })

  it.each(['5', '-1m', '1y', '', 's', '1.5m', '10 s', 'm5', '1d'])(
    '%s is not a duration',
    (text) => {
      expect(parseDuration(text)).toBeUndefined()
    }
  )
})

describe('formatDuration', () => {
  it.each([
    [90_000, '1m30s'],
    [1500, '1500ms'],
    [3_600_000, '1h'],
    [0, '0s']
  ])('%d ms prints as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
  })
})

describe('promRange', () => {
  it.each([
    [60_000, '60s'],
    [500, '1s'],
    [1500, '2s']
  ])('%d ms is the PromQL range %s', (ms, range) => {
    expect(promRange(ms)).toBe(range)
  })
})
