/**
 * What kube-apiserver refuses in the fields the action writes, as pure checks. The rules follow
 * k8s.io/apimachinery: pkg/util/validation (IsQualifiedName, IsValidLabelValue, IsDNS1123Label,
 * IsDNS1123Subdomain), pkg/api/validation/objectmeta.go (annotation keys, and the total size of
 * all annotations: TotalAnnotationSizeLimitB), and metav1.MicroTime's wire form.
 */

/** Largest int32 (replicas, leaseDurationSeconds, leaseTransitions, route weights). */
export const INT32_MAX = 2 ** 31 - 1

/** Total bytes of all of an object's annotations, keys and values (TotalAnnotationSizeLimitB). */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024

/** Longest label value, and the name part of a qualified name (label or annotation key). */
export const MAX_LABEL_VALUE = 63
/** Longest DNS-1123 subdomain: object names, the prefix of a qualified name. */
export const MAX_SUBDOMAIN = 253

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const QUALIFIED_NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/

/** Bytes of a string as kube counts them (Go's len of the UTF-8 encoding). */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8')
}

/** Why `name` is not a DNS-1123 subdomain (an object name of most kinds); undefined when it is. */
export function subdomainProblem(name: string): string | undefined {
  if (name.length > MAX_SUBDOMAIN) return `must be no more than ${MAX_SUBDOMAIN} characters`
  if (!DNS1123_SUBDOMAIN.test(name))
    return "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
  return undefined
}

/** Why `name` is not a DNS-1123 label (≤ 63); undefined when it is. */
export function dnsLabelProblem(name: string): string | undefined {
  if (name.length > MAX_LABEL_VALUE) return `must be no more than ${MAX_LABEL_VALUE} characters`
  if (!DNS1123_LABEL.test(name))
    return "must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
  return undefined
}

/**
 * Why `key` is not a qualified name (a label key; an annotation key once lower-cased):
 * `[prefix/]name`, the prefix a DNS-1123 subdomain of at most 253 characters, the name at most
 * 63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric.
 */
export function qualifiedNameProblem(key: string): string | undefined {
  const parts = key.split('/')
  if (parts.length > 2) return "a qualified name has at most one '/'"
  const name = parts.at(-1) as string
  if (parts.length === 2) {
    const prefix = parts[0] as string
    if (prefix === '') return 'prefix part must be non-empty'
    const problem = subdomainProblem(prefix)
    if (problem) return `prefix part ${problem}`
  }
  if (name === '') return 'name part must be non-empty'
  if (name.length > MAX_LABEL_VALUE)
    return `name part must be no more than ${MAX_LABEL_VALUE} characters`
  if (!QUALIFIED_NAME_PART.test(name))
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
  return undefined
}

/** Why `value` is not a label value (≤ 63, alphanumerics, '-', '_', '.'); undefined when it is. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > MAX_LABEL_VALUE) return `must be no more than ${MAX_LABEL_VALUE} characters`
  if (!LABEL_VALUE.test(value))
    return "must be empty or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
  return undefined
}

/** Bytes the annotations count toward MAX_ANNOTATIONS_BYTES (every key and value). */
export function annotationsBytes(annotations: Readonly<Record<string, string>>): number {
  let total = 0
  for (const [k, v] of Object.entries(annotations)) total += utf8Bytes(k) + utf8Bytes(v)
  return total
}

/** Every problem a real server would find in an object's labels and annotations. */
export function metadataProblems(metadata: {
  labels?: Readonly<Record<string, string>>
  annotations?: Readonly<Record<string, string>>
}): string[] {
  const problems: string[] = []
  for (const [k, v] of Object.entries(metadata.labels ?? {})) {
    const key = qualifiedNameProblem(k)
    if (key) problems.push(`label key "${k}": ${key}`)
    const value = labelValueProblem(v)
    if (value) problems.push(`label ${k}="${v}": ${value}`)
  }
  const annotations = metadata.annotations ?? {}
  for (const k of Object.keys(annotations)) {
    const key = qualifiedNameProblem(k.toLowerCase())
    if (key) problems.push(`annotation key "${k}": ${key}`)
  }
  const size = annotationsBytes(annotations)
  if (size > MAX_ANNOTATIONS_BYTES) {
    problems.push(`annotations: ${size} bytes in all, more than ${MAX_ANNOTATIONS_BYTES}`)
  }
  return problems
}

/**
 * metav1.MicroTime on the wire: RFC 3339 in UTC with exactly six fractional digits
 * (`2026-12-02T05:00:00.123000Z`). A JavaScript Date gives three; the server refuses those.
 */
export function microTime(ms: number): string {
  const iso = new Date(Math.floor(ms)).toISOString()
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(iso))
    throw new RangeError(`${ms} is not a time a Lease can hold`)
  return iso.replace('Z', '000Z')
}

/** A count kept in an int32 field, held at INT32_MAX instead of overflowing. */
export function int32Count(n: number): number {
  if (!Number.isFinite(n) || n < 0) return 0
  return Math.min(INT32_MAX, Math.floor(n))
}
