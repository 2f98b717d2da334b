/**
 * Label and field selectors as kube-apiserver parses them from list/watch query parameters, and
 * metav1.LabelSelector objects as Deployments carry them.
 */
import type { KubeObject, ResourceName } from '../types.js'
import { isObject } from './json.js'

export type Operator = 'exists' | '!exists' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt'

export interface Requirement {
  key: string
  op: Operator
  values: string[]
}

export class SelectorError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SelectorError'
  }
}

const KEY = /^([a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?\/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$/

/** Split on commas that are not inside a parenthesised value set. */
function splitTopLevel(s: string): string[] {
  const parts: string[] = []
  let depth = 0
  let start = 0
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (c === '(') depth++
    else if (c === ')') depth--
    else if (c === ',' && depth === 0) {
      parts.push(s.slice(start, i))
      start = i + 1
    }
  }
  parts.push(s.slice(start))
  return parts.map((p) => p.trim()).filter((p) => p.length > 0)
}

function checkKey(key: string): string {
  if (!KEY.test(key)) {
    throw new SelectorError(`unable to parse requirement: invalid label key "${key}"`)
  }
  return key
}

function parseRequirement(text: string): Requirement {
  const set = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(text)
  if (set) {
    const values = (set[3] ?? '')
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v.length > 0)
    return { key: checkKey(set[1] ?? ''), op: set[2] === 'in' ? 'in' : 'notin', values }
  }
  const cmp = /^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(.*)$/.exec(text)
  if (cmp) {
    const op = cmp[2]
    const value = (cmp[3] ?? '').trim()
    if (/[\s(),]/.test(value)) {
      throw new SelectorError(`unable to parse requirement: invalid label value "${value}"`)
    }
    const key = checkKey(cmp[1] ?? '')
    if (op === '>' || op === '<') return { key, op: op === '>' ? 'gt' : 'lt', values: [value] }
    return { key, op: op === '!=' ? '!=' : '=', values: [value] }
  }
  const exists = /^(!?)\s*([^\s=!<>(),]+)$/.exec(text)
  if (exists)
    return { key: checkKey(exists[2] ?? ''), op: exists[1] ? '!exists' : 'exists', values: [] }
  throw new SelectorError(
    `unable to parse requirement: found '${text}', expected: ',', '=', '==', '!=', 'in', 'notin'`
  )
}

/** Parse a `labelSelector` query parameter; '' selects everything. */
export function parseLabelSelector(text: string): Requirement[] {
  return splitTopLevel(text).map(parseRequirement)
}

export function matchesRequirement(labels: Record<string, string>, r: Requirement): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key)
  const value = labels[r.key]
  switch (r.op) {
    case 'exists':
      return has
    case '!exists':
      return !has
    case '=':
      return has && value === r.values[0]
    case '!=':
      return !has || value !== r.values[0]
    case 'in':
      return has && r.values.includes(value ?? '')
    case 'notin':
      return !has || !r.values.includes(value ?? '')
    case 'gt':
    case 'lt': {
      const n = Number(value)
      const bound = Number(r.values[0])
      if (!has || !Number.isInteger(n) || !Number.isInteger(bound)) return false
      return r.op === 'gt' ? n > bound : n < bound
    }
  }
}

export function matchesLabels(
  labels: Record<string, string> | undefined,
  reqs: Requirement[]
): boolean {
  return reqs.every((r) => matchesRequirement(labels ?? {}, r))
}

export interface FieldRequirement {
  field: string
  op: '=' | '!='
  value: string
}

const COMMON_FIELDS = ['metadata.name', 'metadata.namespace']
const EXTRA_FIELDS: Partial<Record<ResourceName, string[]>> = {
  pods: [
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'status.phase',
    'status.podIP',
    'status.nominatedNodeName'
  ],
  namespaces: ['status.phase']
}

/** Parse a `fieldSelector`; fields the resource does not index are refused like kube does. */
export function parseFieldSelector(resource: ResourceName, text: string): FieldRequirement[] {
  const allowed = [...COMMON_FIELDS, ...(EXTRA_FIELDS[resource] ?? [])]
  return splitTopLevel(text).map((part) => {
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(part)
    if (!m) throw new SelectorError(`invalid selector: '${part}'; can't understand '${part}'`)
    const field = m[1] ?? ''
    if (!allowed.includes(field)) throw new SelectorError(`field label not supported: ${field}`)
    return { field, op: m[2] === '!=' ? '!=' : '=', value: (m[3] ?? '').trim() }
  })
}

function fieldValue(obj: KubeObject, field: string): string {
  let cur: unknown = obj
  for (const part of field.split('.')) cur = isObject(cur) ? cur[part] : undefined
  return typeof cur === 'string' ? cur : ''
}

export function matchesFields(obj: KubeObject, reqs: FieldRequirement[]): boolean {
  return reqs.every((r) => (fieldValue(obj, r.field) === r.value) === (r.op === '='))
}

/** metav1.LabelSelector as Deployments carry it. */
export interface LabelSelectorObject {
  matchLabels?: Record<string, string>
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>
}

/**
 * Requirements of a metav1.LabelSelector; undefined stands for labels.Nothing() (a missing
 * selector matches no object, as LabelSelectorAsSelector(nil) does).
 */
export function labelSelectorRequirements(selector: unknown): Requirement[] | undefined {
  if (!isObject(selector)) return undefined
  const out: Requirement[] = []
  const matchLabels = isObject(selector.matchLabels) ? selector.matchLabels : {}
  for (const [key, value] of Object.entries(matchLabels)) {
    out.push({ key, op: '=', values: [String(value)] })
  }
  const expressions = Array.isArray(selector.matchExpressions) ? selector.matchExpressions : []
  for (const e of expressions) {
    if (!isObject(e)) continue
    const values = Array.isArray(e.values) ? e.values.map(String) : []
    const op: Operator | undefined = {
      In: 'in' as const,
      NotIn: 'notin' as const,
      Exists: 'exists' as const,
      DoesNotExist: '!exists' as const
    }[String(e.operator)]
    if (op) out.push({ key: String(e.key), op, values })
  }
  return out
}

/** Render requirements back to a selector string (what Scale.status.selector carries). */
export function formatRequirements(reqs: Requirement[]): string {
  return reqs
    .map((r) => {
      switch (r.op) {
        case 'exists':
          return r.key
        case '!exists':
          return `!${r.key}`
        case 'in':
        case 'notin':
          return `${r.key} ${r.op} (${r.values.join(',')})`
        case 'gt':
          return `${r.key}>${r.values[0] ?? ''}`
        case 'lt':
          return `${r.key}<${r.values[0] ?? ''}`
        default:
          return `${r.key}${r.op}${r.values[0] ?? ''}`
      }
    })
    .sort()
    .join(',')
}
