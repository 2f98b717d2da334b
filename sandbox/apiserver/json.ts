/** Plain-JSON helpers shared by the API server's modules. */

export type JsonObject = Record<string, unknown>

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function clone<T>(v: T): T {
  return structuredClone(v)
}

/**
 * Structural equality of JSON values. Like apimachinery's Semantic.DeepEqual, an absent map
 * equals an empty one when `emptyEqualsAbsent` is set.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a)
    const kb = Object.keys(b)
    return ka.length === kb.length && ka.every((k) => k in b && deepEqual(a[k], b[k]))
  }
  return false
}

/** Equality where undefined, null and {} (or []) count as the same empty value. */
export function semanticEqual(a: unknown, b: unknown): boolean {
  return deepEqual(emptyToUndefined(a), emptyToUndefined(b))
}

function emptyToUndefined(v: unknown): unknown {
  if (v === null) return undefined
  if (Array.isArray(v) && v.length === 0) return undefined
  if (isObject(v) && Object.keys(v).length === 0) return undefined
  return v
}

/** A number, string, boolean or null of a request body, as its bytes were sent. */
export class SourceScalar {
  constructor(readonly source: string) {}
}

/**
 * JSON.parse that keeps each scalar's text (`7.50`, `1e3`, `"\u0041"`) as a SourceScalar, for
 * checks that Go's decoder makes on the bytes. Objects and arrays stay plain. (Source text access
 * needs Node ≥ 21; older runtimes fall back to the value's canonical text.)
 */
export function parseKeepingSource(text: string): unknown {
  const revive = (_key: string, value: unknown, context?: { source?: string }): unknown =>
    typeof value === 'object' && value !== null
      ? value
      : new SourceScalar(context?.source ?? JSON.stringify(value))
  return JSON.parse(text, revive as (key: string, value: unknown) => unknown)
}

/** A decoded value as parseKeepingSource would give it, each scalar as its canonical text. */
export function withSource(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withSource)
  if (isObject(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withSource(v)]))
  return new SourceScalar(JSON.stringify(value) ?? 'null')
}

/** RFC 3339 with seconds, as metav1.Time serialises. */
export function kubeTime(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** A shallow copy of `obj` without `keys`. */
export function omit<T extends object>(obj: T, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)))
}

/** Delete a key chosen at run time (JSON maps are keyed by data, not by code). */
export function removeKey(obj: JsonObject, key: string): void {
  Reflect.deleteProperty(obj, key)
}
