/**
 * Custom resource handling as apiextensions-apiserver does it for structural schemas: prune
 * unknown fields (and nulls of non-nullable fields), then validate with kube-openapi's rules, and
 * report violations as the field errors kube-apiserver builds from them
 * (kubeOpenAPIResultToFieldErrors), messages included.
 *
 * Deliberately like kube-openapi, not like a textbook JSON Schema validator: `format: int32` is
 * not range-checked for numbers (kube-openapi's SchemaValidator gives its number validator no
 * type or format), and a non-integer sent for an int32 field is reported as
 * `must be of type int32: "float64"`.
 *
 * x-kubernetes-validations (CEL): only the rules that need no CEL engine and that a writer of
 * routes can trip are evaluated: Istio's (duration bounds, no-wildcard and non-empty-key checks,
 * matched by their exact text) and the Gateway API HTTPRoute's listed in GATEWAY_RULES (matched
 * by their message); any other rule is skipped.
 *
 * Structural defaults (`default`) are applied as apiextensions-apiserver applies them on the way
 * in (a missing field, or a null one that is not nullable, takes the default; then defaulting
 * recurses into every value), and `x-kubernetes-list-type: map` lists refuse two items with the
 * same keys (structurallisttype's `Duplicate value`).
 */
import { isObject, removeKey, type JsonObject } from './json.js'
import { type FieldError, goFloat, goQuote, goValue } from './status.js'

export interface Schema {
  type?: string
  format?: string
  nullable?: boolean
  properties?: Record<string, Schema>
  additionalProperties?: Schema | boolean
  items?: Schema
  required?: string[]
  enum?: unknown[]
  minimum?: number
  maximum?: number
  exclusiveMinimum?: boolean
  exclusiveMaximum?: boolean
  minLength?: number
  maxLength?: number
  minItems?: number
  maxItems?: number
  minProperties?: number
  maxProperties?: number
  pattern?: string
  oneOf?: Schema[]
  anyOf?: Schema[]
  allOf?: Schema[]
  not?: Schema
  'x-kubernetes-preserve-unknown-fields'?: boolean
  'x-kubernetes-int-or-string'?: boolean
  'x-kubernetes-validations'?: Array<{ rule: string; message?: string }>
  'x-kubernetes-list-type'?: string
  'x-kubernetes-list-map-keys'?: string[]
  default?: unknown
}

/** ObjectMeta's JSON fields; anything else under metadata is pruned. */
const OBJECT_META_FIELDS = new Set([
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields'
])

/**
 * Drop fields the schema does not know (in place) and return their paths, e.g. `spec.foo`,
 * `spec.http[0].bar`: what kube reports as `unknown field "<path>"`.
 */
export function prune(obj: JsonObject, schema: Schema): string[] {
  const unknown: string[] = []
  for (const key of Object.keys(obj)) {
    if (key === 'apiVersion' || key === 'kind') continue
    if (key === 'metadata') {
      if (isObject(obj.metadata)) {
        for (const m of Object.keys(obj.metadata)) {
          if (!OBJECT_META_FIELDS.has(m)) {
            removeKey(obj.metadata, m)
            unknown.push(`metadata.${m}`)
          }
        }
      }
      continue
    }
    pruneProperty(obj, key, schema, '', unknown)
  }
  return unknown
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key
}

function pruneProperty(
  parent: JsonObject,
  key: string,
  schema: Schema,
  path: string,
  unknown: string[]
): void {
  const known = schema.properties?.[key]
  const additional = isObject(schema.additionalProperties)
    ? (schema.additionalProperties as Schema)
    : undefined
  const child = known ?? additional
  if (child) {
    if (parent[key] === null && !child.nullable) removeKey(parent, key)
    else pruneValue(parent[key], child, join(path, key), unknown)
    return
  }
  if (schema['x-kubernetes-preserve-unknown-fields'] || schema.additionalProperties === true) return
  removeKey(parent, key)
  unknown.push(join(path, key))
}

function pruneValue(value: unknown, schema: Schema, path: string, unknown: string[]): void {
  if (Array.isArray(value)) {
    if (schema.items)
      value.forEach((v, i) => pruneValue(v, schema.items as Schema, `${path}[${i}]`, unknown))
    return
  }
  if (!isObject(value)) return
  if (!schema.properties && !isObject(schema.additionalProperties)) return
  for (const key of Object.keys(value)) pruneProperty(value, key, schema, path, unknown)
}

/**
 * Apply the schema's defaults to a custom resource in place (everything but apiVersion, kind and
 * metadata), as structuraldefaulting.Default does after pruning.
 */
export function applySchemaDefaults(obj: JsonObject, schema: Schema): void {
  const props = schema.properties ?? {}
  for (const [key, child] of Object.entries(props)) {
    if (key === 'metadata' || key === 'apiVersion' || key === 'kind') continue
    setDefaultAndRecurse(obj, key, child)
  }
}

function setDefaultAndRecurse(parent: JsonObject, key: string, schema: Schema): void {
  if (
    schema.default !== undefined &&
    (!(key in parent) || (parent[key] === null && !schema.nullable))
  ) {
    parent[key] = structuredClone(schema.default)
  }
  if (key in parent) defaultValue(parent[key], schema)
}

function defaultValue(value: unknown, schema: Schema): void {
  if (Array.isArray(value)) {
    if (schema.items) for (const v of value) defaultValue(v, schema.items)
    return
  }
  if (!isObject(value)) return
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    setDefaultAndRecurse(value, key, child)
  }
  if (isObject(schema.additionalProperties)) {
    for (const v of Object.values(value)) defaultValue(v, schema.additionalProperties as Schema)
  }
}

/** Go's %#v of the map of list-map keys, as structurallisttype prints a duplicate. */
function goKeyMap(item: JsonObject, keys: readonly string[]): string {
  const entries = [...keys]
    .filter((k) => item[k] !== undefined)
    .sort()
    .map(
      (k) =>
        `${goQuote(k)}:${typeof item[k] === 'string' ? goQuote(item[k]) : JSON.stringify(item[k])}`
    )
  return `map[string]interface {}{${entries.join(', ')}}`
}

/** `x-kubernetes-list-type: map` lists: no two items with the same key values. */
function listMapDuplicates(value: unknown, schema: Schema, name: string, out: FieldError[]): void {
  if (Array.isArray(value)) {
    const keys = schema['x-kubernetes-list-map-keys']
    if (schema['x-kubernetes-list-type'] === 'map' && keys && keys.length > 0) {
      const seen = new Set<string>()
      value.forEach((item, i) => {
        if (!isObject(item)) return
        const id = JSON.stringify(keys.map((k) => item[k] ?? null))
        if (seen.has(id)) {
          out.push({
            type: 'FieldValueDuplicate',
            field: `${name}[${i}]`,
            value: goKeyMap(item, keys),
            detail: ''
          })
        }
        seen.add(id)
      })
    }
    if (schema.items) {
      value.forEach((v, i) => listMapDuplicates(v, schema.items as Schema, `${name}[${i}]`, out))
    }
    return
  }
  if (!isObject(value)) return
  for (const [key, v] of Object.entries(value)) {
    const child = schema.properties?.[key]
    if (child) listMapDuplicates(v, child, join(name, key), out)
  }
}

/** One kube-openapi result error, before conversion to a field error. */
interface OpenApiError {
  code:
    'type' | 'required' | 'enum' | 'tooLong' | 'maxItems' | 'maxProperties' | 'other' | 'composite'
  /** Path (kube-openapi's Name), '' for composite errors that carry none. */
  name: string
  value?: unknown
  /** Already rendered value when kube-openapi keeps the Go type name (type errors). */
  renderedValue?: string
  message: string
  values?: unknown[]
  limit?: number
}

/** Validate an object against its version's schema; field errors as kube-apiserver reports them. */
export function validateAgainstSchema(obj: JsonObject, schema: Schema): FieldError[] {
  const body: JsonObject = {}
  for (const [k, v] of Object.entries(obj)) {
    if (k !== 'apiVersion' && k !== 'kind' && k !== 'metadata') body[k] = v
  }
  const raw: OpenApiError[] = []
  validateValue(body, { ...schema, properties: schema.properties ?? {} }, '', raw)
  const lists: FieldError[] = []
  listMapDuplicates(body, schema, '', lists)
  const cel: FieldError[] = []
  celRules(body, schema, '', cel)
  return [...raw.map(toFieldError), ...lists, ...cel]
}

function toFieldError(e: OpenApiError): FieldError {
  const field = e.name ? e.name.replace(/^\./, '') : '<nil>'
  switch (e.code) {
    case 'required':
      return { type: 'FieldValueRequired', field, detail: '' }
    case 'enum':
      return {
        type: 'FieldValueNotSupported',
        field,
        value: goValue(e.value),
        detail: `supported values: ${(e.values ?? []).map((v) => goQuote(typeof v === 'string' ? v : JSON.stringify(v))).join(', ')}`
      }
    case 'tooLong':
      return { type: 'FieldValueTooLong', field, detail: `may not be longer than ${e.limit ?? -1}` }
    case 'maxItems':
    case 'maxProperties':
      return {
        type: 'FieldValueTooMany',
        field,
        value: String(e.value),
        detail: `must have at most ${e.limit ?? -1} ${e.limit === 1 ? 'item' : 'items'}`
      }
    case 'type':
      return { type: 'FieldValueTypeInvalid', field, value: e.renderedValue, detail: e.message }
    case 'composite':
      return { type: 'FieldValueInvalid', field: '<nil>', value: '""', detail: e.message }
    default:
      return {
        type: 'FieldValueInvalid',
        field,
        value: e.value === undefined ? '""' : goValue(e.value),
        detail: e.message
      }
  }
}

/** kube-openapi's (type, format) for a decoded JSON value: ints are int64, other numbers float64. */
function dataInfo(v: unknown): [string, string] {
  if (typeof v === 'boolean') return ['boolean', '']
  if (typeof v === 'string') return ['string', '']
  if (typeof v === 'number')
    return Number.isInteger(v) ? ['integer', 'int64'] : ['number', 'float64']
  if (Array.isArray(v)) return ['array', '']
  return ['object', '']
}

function typeError(name: string, typeName: string, got: string): OpenApiError {
  return {
    code: 'type',
    name,
    renderedValue: goQuote(got),
    message: `${name} in body must be of type ${typeName}: ${goQuote(got)}`
  }
}

function schemaTypes(schema: Schema): string[] {
  if (schema['x-kubernetes-int-or-string']) return ['integer', 'string']
  return schema.type ? [schema.type] : []
}

function checkType(value: unknown, schema: Schema, name: string): OpenApiError | undefined {
  const types = schemaTypes(schema)
  const format = schema.format ?? ''
  if (types.length === 0 && !format) return undefined
  if (value === null || value === undefined) {
    return types.length > 0 && !schema.nullable
      ? typeError(name, types.join(','), 'null')
      : undefined
  }
  const [schType, dataFormat] = dataInfo(value)
  const isIntFloat = schType === 'integer' && types.includes('number')
  const stringOrSlice = typeof value === 'string' || Array.isArray(value)
  if (
    !stringOrSlice &&
    format &&
    !(types.includes(schType) || dataFormat === format || isIntFloat)
  ) {
    return typeError(name, format, dataFormat)
  }
  if (!(types.includes('number') || types.includes('integer')) && format && stringOrSlice) {
    return undefined
  }
  if (!(types.includes(schType) || isIntFloat)) return typeError(name, types.join(','), schType)
  return undefined
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

function checkFormat(value: string, schema: Schema, name: string): OpenApiError | undefined {
  const bad =
    (schema.format === 'date-time' && !DATE_TIME.test(value)) ||
    (schema.format === 'byte' && !BASE64.test(value))
  if (!bad) return undefined
  return {
    code: 'type',
    name,
    renderedValue: goQuote(value),
    message: `${name} in body must be of type ${schema.format ?? ''}: ${goQuote(value)}`
  }
}

function checkNumber(value: number, schema: Schema, name: string, out: OpenApiError[]): void {
  // Bounds print as int64 for integer data and as %v floats otherwise, as MaximumNativeType does.
  const bound = (b: number): string =>
    Number.isInteger(value) ? String(Math.trunc(b)) : goFloat(b)
  if (schema.maximum !== undefined) {
    const over = schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum
    if (over) {
      const words = schema.exclusiveMaximum ? 'less than' : 'less than or equal to'
      out.push({
        code: 'other',
        name,
        value,
        message: `${name} in body should be ${words} ${bound(schema.maximum)}`
      })
    }
  }
  if (schema.minimum !== undefined) {
    const under = schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum
    if (under) {
      const words = schema.exclusiveMinimum ? 'greater than' : 'greater than or equal to'
      out.push({
        code: 'other',
        name,
        value,
        message: `${name} in body should be ${words} ${bound(schema.minimum)}`
      })
    }
  }
}

function checkString(value: string, schema: Schema, name: string, out: OpenApiError[]): void {
  const length = [...value].length
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    out.push({
      code: 'tooLong',
      name,
      value,
      limit: schema.maxLength,
      message: `${name} in body should be at most ${schema.maxLength} chars long`
    })
  }
  if (schema.minLength !== undefined && length < schema.minLength) {
    out.push({
      code: 'other',
      name,
      value,
      message: `${name} in body should be at least ${schema.minLength} chars long`
    })
  }
  if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) {
    out.push({
      code: 'other',
      name,
      value,
      message: `${name} in body should match '${schema.pattern}'`
    })
  }
}

function checkEnum(value: unknown, schema: Schema, name: string): OpenApiError | undefined {
  if (!schema.enum || schema.enum.length === 0) return undefined
  if (schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) return undefined
  return {
    code: 'enum',
    name,
    value,
    values: schema.enum,
    message: `${name} in body should be one of ${JSON.stringify(schema.enum)}`
  }
}

function validateValue(value: unknown, schema: Schema, name: string, out: OpenApiError[]): void {
  if (value === null || value === undefined) {
    const t = checkType(value, schema, name)
    if (t) out.push(t)
    if (value === null && schema.enum && !schema.nullable) {
      const e = checkEnum(value, schema, name)
      if (e) out.push(e)
    }
    return
  }
  const t = checkType(value, schema, name)
  if (t) out.push(t)
  compositions(value, schema, name, out)
  if (typeof value === 'string') {
    checkString(value, schema, name, out)
    const f = checkFormat(value, schema, name)
    if (f) out.push(f)
  }
  if (typeof value === 'number') checkNumber(value, schema, name, out)
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      out.push({
        code: 'maxItems',
        name,
        value: value.length,
        limit: schema.maxItems,
        message: `${name} in body should have at most ${schema.maxItems} items`
      })
    }
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      out.push({
        code: 'other',
        name,
        value: value.length,
        message: `${name} in body should have at least ${schema.minItems} items`
      })
    }
    if (schema.items)
      value.forEach((v, i) => validateValue(v, schema.items as Schema, `${name}[${i}]`, out))
  }
  const e = checkEnum(value, schema, name)
  if (e) out.push(e)
  if (isObject(value)) validateObject(value, schema, name, out)
}

function validateObject(
  value: JsonObject,
  schema: Schema,
  name: string,
  out: OpenApiError[]
): void {
  const count = Object.keys(value).length
  if (schema.maxProperties !== undefined && count > schema.maxProperties) {
    out.push({
      code: 'maxProperties',
      name,
      value: count,
      limit: schema.maxProperties,
      message: `${name} in body should have at most ${schema.maxProperties} properties`
    })
    return
  }
  if (schema.minProperties !== undefined && count < schema.minProperties) {
    out.push({
      code: 'other',
      name,
      value: count,
      message: `${name} in body should have at least ${schema.minProperties} properties`
    })
    return
  }
  for (const [key, v] of Object.entries(value)) {
    const known = schema.properties?.[key]
    if (known) validateValue(v, known, join(name, key), out)
    else if (schema.additionalProperties === false) {
      out.push({
        code: 'other',
        name,
        value: key,
        message: `${name}.${key} in body is a forbidden property`
      })
    } else if (isObject(schema.additionalProperties)) {
      validateValue(v, schema.additionalProperties as Schema, `${name}.${key}`, out)
    }
  }
  for (const key of schema.required ?? []) {
    if (!(key in value))
      out.push({
        code: 'required',
        name: `${name}.${key}`,
        message: `${name}.${key} in body is required`
      })
  }
}

/** anyOf / oneOf / allOf / not, reported as schemaPropsValidator does. */
function compositions(value: unknown, schema: Schema, name: string, out: OpenApiError[]): void {
  const run = (s: Schema): OpenApiError[] => {
    const errs: OpenApiError[] = []
    validateValue(value, s, name, errs)
    return errs
  }
  if (schema.anyOf && schema.anyOf.length > 0) {
    const results = schema.anyOf.map(run)
    if (!results.some((r) => r.length === 0)) {
      out.push({
        code: 'composite',
        name: '',
        message: `${goQuote(name)} must validate at least one schema (anyOf)`
      })
      out.push(...(results[0] ?? []))
    }
  }
  if (schema.oneOf && schema.oneOf.length > 0) {
    const results = schema.oneOf.map(run)
    const valid = results.filter((r) => r.length === 0).length
    if (valid !== 1) {
      const more = valid === 0 ? 'Found none valid' : `Found ${valid} valid alternatives`
      out.push({
        code: 'composite',
        name: '',
        message: `${goQuote(name)} must validate one and only one schema (oneOf). ${more}`
      })
      if (valid === 0) out.push(...(results[0] ?? []))
    }
  }
  if (schema.allOf && schema.allOf.length > 0) {
    const results = schema.allOf.map(run)
    const valid = results.filter((r) => r.length === 0).length
    for (const r of results) out.push(...r)
    if (valid !== results.length) {
      out.push({
        code: 'composite',
        name: '',
        message: `${goQuote(name)} must validate all the schemas (allOf)${valid === 0 ? '. None validated' : ''}`
      })
    }
  }
  if (schema.not && run(schema.not).length === 0) {
    out.push({
      code: 'composite',
      name: '',
      message: `${goQuote(name)} must not validate the schema (not)`
    })
  }
}

const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy
const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 6e10,
  h: 3.6e12
}

/** Go's time.ParseDuration, in nanoseconds; undefined when it does not parse. */
export function parseGoDuration(text: string): number | undefined {
  let s = text
  let sign = 1
  if (s.startsWith('-') || s.startsWith('+')) {
    sign = s.startsWith('-') ? -1 : 1
    s = s.slice(1)
  }
  if (s === '0') return 0
  if (s === '') return undefined
  DURATION_PART.lastIndex = 0
  let total = 0
  let consumed = 0
  for (let m = DURATION_PART.exec(s); m; m = DURATION_PART.exec(s)) {
    total += Number(m[1]) * (UNIT_NS[m[2] ?? ''] ?? 0)
    consumed = DURATION_PART.lastIndex
  }
  return consumed === s.length ? sign * total : undefined
}

/** The CEL rules Istio's CRDs carry that the sandbox evaluates, keyed by their exact text. */
const KNOWN_RULES: Record<string, (self: unknown) => boolean | undefined> = {
  "duration(self) >= duration('1ms')": (self) => {
    if (typeof self !== 'string') return undefined
    const ns = parseGoDuration(self)
    return ns !== undefined && ns >= 1e6
  },
  '!self.contains("*")': (self) => (typeof self === 'string' ? !self.includes('*') : undefined),
  'self.all(key, !key.contains("*"))': (self) =>
    isObject(self) ? Object.keys(self).every((k) => !k.includes('*')) : undefined,
  'self.all(key, key.size() != 0)': (self) =>
    isObject(self) ? Object.keys(self).every((k) => k.length > 0) : undefined
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '')
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const rec = (v: unknown): JsonObject => (isObject(v) ? v : {})

/** A path match of type Exact or PathPrefix (the CEL rules on path values test only those). */
function prefixOrExact(self: unknown, test: (value: string) => boolean): boolean | undefined {
  if (!isObject(self)) return undefined
  if (self.type !== 'Exact' && self.type !== 'PathPrefix') return true
  return test(str(self.value))
}

/** Same parent: group, kind, name and namespace (absent and '' alike), as the CEL rules say. */
function sameParent(a: JsonObject, b: JsonObject): boolean {
  return (
    a.group === b.group &&
    a.kind === b.kind &&
    a.name === b.name &&
    str(a.namespace) === str(b.namespace)
  )
}

function filterRepeated(type: string): (self: unknown) => boolean | undefined {
  return (self) =>
    Array.isArray(self) ? self.filter((f) => rec(f).type === type).length <= 1 : undefined
}

/**
 * The Gateway API HTTPRoute's CEL rules the sandbox evaluates, keyed by their message (their
 * rule text is long and multi-line). Each is evaluated on the defaulted object, as kube does.
 */
const GATEWAY_RULES: Record<string, (self: unknown) => boolean | undefined> = {
  'Must have port for Service reference': (self) =>
    isObject(self)
      ? !(str(self.group) === '' && self.kind === 'Service') || self.port !== undefined
      : undefined,
  'sectionName must be specified when parentRefs includes 2 or more references to the same parent':
    (self) => {
      if (!Array.isArray(self)) return undefined
      const refs = self.map(rec)
      return refs.every((p1) =>
        refs.every(
          (p2) =>
            !sameParent(p1, p2) || (str(p1.sectionName) === '') === (str(p2.sectionName) === '')
        )
      )
    },
  'sectionName must be unique when parentRefs includes 2 or more references to the same parent': (
    self
  ) => {
    if (!Array.isArray(self)) return undefined
    const refs = self.map(rec)
    return refs.every(
      (p1) =>
        refs.filter((p2) => sameParent(p1, p2) && str(p1.sectionName) === str(p2.sectionName))
          .length === 1
    )
  },
  'While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128':
    (self) =>
      Array.isArray(self)
        ? self.slice(0, 16).reduce((n: number, r) => n + list(rec(r).matches).length, 0) <= 128
        : undefined,
  'RequestRedirect filter must not be used together with backendRefs': (self) => {
    if (!isObject(self)) return undefined
    if (list(self.backendRefs).length === 0) return true
    return list(self.filters).every((f) => rec(f).requestRedirect === undefined)
  },
  'May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both':
    (self) =>
      Array.isArray(self)
        ? !(
            self.some((f) => rec(f).type === 'RequestRedirect') &&
            self.some((f) => rec(f).type === 'URLRewrite')
          )
        : undefined,
  'CORS filter cannot be repeated': filterRepeated('CORS'),
  'RequestHeaderModifier filter cannot be repeated': filterRepeated('RequestHeaderModifier'),
  'ResponseHeaderModifier filter cannot be repeated': filterRepeated('ResponseHeaderModifier'),
  'RequestRedirect filter cannot be repeated': filterRepeated('RequestRedirect'),
  'URLRewrite filter cannot be repeated': filterRepeated('URLRewrite'),
  "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']": (
    self
  ) => prefixOrExact(self, (v) => v.startsWith('/')),
  "must not contain '//' when type one of ['Exact', 'PathPrefix']": (self) =>
    prefixOrExact(self, (v) => !v.includes('//')),
  "must not contain '/./' when type one of ['Exact', 'PathPrefix']": (self) =>
    prefixOrExact(self, (v) => !v.includes('/./')),
  "must not contain '/../' when type one of ['Exact', 'PathPrefix']": (self) =>
    prefixOrExact(self, (v) => !v.includes('/../')),
  "must not contain '%2f' when type one of ['Exact', 'PathPrefix']": (self) =>
    prefixOrExact(self, (v) => !v.includes('%2f')),
  "must not contain '%2F' when type one of ['Exact', 'PathPrefix']": (self) =>
    prefixOrExact(self, (v) => !v.includes('%2F')),
  "must not contain '#' when type one of ['Exact', 'PathPrefix']": (self) =>
    prefixOrExact(self, (v) => !v.includes('#')),
  "must not end with '/..' when type one of ['Exact', 'PathPrefix']": (self) =>
    prefixOrExact(self, (v) => !v.endsWith('/..')),
  "must not end with '/.' when type one of ['Exact', 'PathPrefix']": (self) =>
    prefixOrExact(self, (v) => !v.endsWith('/.')),
  "type must be one of ['Exact', 'PathPrefix', 'RegularExpression']": (self) =>
    isObject(self)
      ? ['Exact', 'PathPrefix', 'RegularExpression'].includes(str(self.type))
      : undefined,
  "must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']":
    (self) =>
      prefixOrExact(self, (v) => /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$/.test(v)),
  'backendRequest timeout cannot be longer than request timeout': (self) => {
    if (!isObject(self)) return undefined
    if (self.request === undefined || self.backendRequest === undefined) return true
    const request = parseGoDuration(str(self.request))
    const backend = parseGoDuration(str(self.backendRequest))
    if (request === undefined || backend === undefined) return undefined
    return !(request !== 0 && backend > request)
  }
}

function celRules(value: unknown, schema: Schema, name: string, out: FieldError[]): void {
  if (value === null || value === undefined) return
  for (const { rule, message } of schema['x-kubernetes-validations'] ?? []) {
    const check = KNOWN_RULES[rule] ?? (message !== undefined ? GATEWAY_RULES[message] : undefined)
    const passes = check?.(value)
    if (passes === false) {
      out.push({
        type: 'FieldValueInvalid',
        field: name || '<nil>',
        value: goQuote(schema.type ?? 'object'),
        detail: message ?? `failed rule: ${rule}`
      })
    }
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((v, i) => celRules(v, schema.items as Schema, `${name}[${i}]`, out))
  } else if (isObject(value)) {
    for (const [key, v] of Object.entries(value)) {
      const child =
        schema.properties?.[key] ??
        (isObject(schema.additionalProperties)
          ? (schema.additionalProperties as Schema)
          : undefined)
      if (child) celRules(v, child, join(name, key), out)
    }
  }
}
