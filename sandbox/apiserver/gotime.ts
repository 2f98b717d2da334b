/**
 * Go's time.Parse for the one layout kube decodes MicroTime with (metav1.RFC3339Micro,
 * `2006-01-02T15:04:05.000000Z07:00`), error messages included: a Lease's acquireTime and
 * renewTime must have exactly six fractional digits, or the body does not decode (400).
 */

export const RFC3339_MICRO = '2006-01-02T15:04:05.000000Z07:00'

const quote = (s: string): string => JSON.stringify(s)

/** One piece of the layout: a literal, or a number of fixed (or, for the hour, 1-2) digits. */
type Chunk =
  | { literal: string }
  | { std: string; field: 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' }
  | { std: '.000000'; field: 'fraction' }
  | { std: 'Z07:00'; field: 'zone' }

const LAYOUT: Chunk[] = [
  { std: '2006', field: 'year' },
  { literal: '-' },
  { std: '01', field: 'month' },
  { literal: '-' },
  { std: '02', field: 'day' },
  { literal: 'T' },
  { std: '15', field: 'hour' },
  { literal: ':' },
  { std: '04', field: 'minute' },
  { literal: ':' },
  { std: '05', field: 'second' },
  { std: '.000000', field: 'fraction' },
  { std: 'Z07:00', field: 'zone' }
]

/** Accepted values per number chunk; the day is checked against the month at the end. */
const RANGES = {
  month: [1, 12],
  day: [0, 99],
  hour: [0, 23],
  minute: [0, 59],
  second: [0, 59]
} as const

const isDigit = (s: string, i: number): boolean => /^[0-9]$/.test(s.charAt(i))

/** getnum: one or two digits; `fixed` demands two. */
function getnum(s: string, fixed: boolean): { n: number; rest: string } | undefined {
  if (!isDigit(s, 0)) return undefined
  if (!isDigit(s, 1)) return fixed ? undefined : { n: Number(s[0]), rest: s.slice(1) }
  return { n: Number(s.slice(0, 2)), rest: s.slice(2) }
}

function daysIn(month: number, year: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

/**
 * The error time.Parse(RFC3339Micro, value) gives (its Error() text), or undefined when the value
 * parses. `parsing time "x" as "layout": cannot parse "rest" as "chunk"`, or `...: month out of
 * range` and the like.
 */
export function microTimeError(value: string): string | undefined {
  const cannot = (rest: string, chunk: string): string =>
    `parsing time ${quote(value)} as ${quote(RFC3339_MICRO)}: cannot parse ${quote(rest)} as ${quote(chunk)}`
  const outOfRange = (what: string): string => `parsing time ${quote(value)}: ${what} out of range`
  let rest = value
  const got: Record<string, number> = {}
  for (const chunk of LAYOUT) {
    if ('literal' in chunk) {
      if (!rest.startsWith(chunk.literal)) return cannot(rest, chunk.literal)
      rest = rest.slice(chunk.literal.length)
      continue
    }
    const hold = rest
    switch (chunk.field) {
      case 'year': {
        if (rest.length < 4 || !/^\d{4}/.test(rest)) return cannot(hold, chunk.std)
        got.year = Number(rest.slice(0, 4))
        rest = rest.slice(4)
        break
      }
      case 'fraction': {
        // Exactly a period and six digits: fewer or more leave text that the next chunk refuses.
        if (rest.length < 7 || !/^[.,]\d{6}/.test(rest)) return cannot(hold, chunk.std)
        rest = rest.slice(7)
        break
      }
      case 'zone': {
        if (rest.startsWith('Z')) {
          rest = rest.slice(1)
          break
        }
        if (rest.length < 6 || rest[3] !== ':' || (rest[0] !== '+' && rest[0] !== '-')) {
          return cannot(hold, chunk.std)
        }
        const hh = getnum(rest.slice(1, 3), true)
        const mm = getnum(rest.slice(4, 6), true)
        if (!hh || !mm) return cannot(hold, chunk.std)
        if (hh.n > 24) return outOfRange('time zone offset hour')
        if (mm.n > 60) return outOfRange('time zone offset minute')
        rest = rest.slice(6)
        break
      }
      default: {
        // The hour (layout "15") takes one or two digits; the others exactly two.
        const num = getnum(rest, chunk.field !== 'hour')
        if (!num) return cannot(hold, chunk.std)
        const [lo, hi] = RANGES[chunk.field]
        if (num.n < lo || num.n > hi) return outOfRange(chunk.field)
        got[chunk.field] = num.n
        rest = num.rest
      }
    }
  }
  if (rest.length > 0) return `parsing time ${quote(value)}: extra text: ${quote(rest)}`
  const { year = 0, month = 1, day = 0 } = got
  if (day < 1 || day > daysIn(month, year)) return outOfRange('day')
  return undefined
}
