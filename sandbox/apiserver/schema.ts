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
 * x-kubernetes-validations (CEL): only the rules Istio's CRDs use and that need no CEL engine are
 * evaluated (duration bounds, no-wildcard and non-empty-key checks, matched by their exact text);
 * any other rule is skipped.
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
  const cel: FieldError[] = []
  celRules(body, schema, '', cel)
  return [...raw.map(toFieldError), ...cel]
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

function celRules(value: unknown, schema: Schema, name: string, out: FieldError[]): void {
  if (value === null || value === undefined) return
  for (const { rule, message } of schema['x-kubernetes-validations'] ?? []) {
    const passes = KNOWN_RULES[rule]?.(value)
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
