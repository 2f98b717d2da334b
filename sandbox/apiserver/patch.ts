/**
 * The three PATCH bodies kube-apiserver applies to an object's JSON: RFC 7386 merge patch,
 * RFC 6902 JSON patch as evanphx/json-patch v4 applies it (the library the API server uses, with
 * its departures from the RFC), and an approximation of strategic merge patch for built-in types.
 */
import {
  SourceScalar,
  clone,
  deepEqual,
  isObject,
  omit,
  parseKeepingSource,
  removeKey,
  type JsonObject
} from './json.js'

/**
 * A patch that could not be applied; `malformed` ones answer 400 (or `code`, e.g. 413 for too
 * many operations), the rest 422.
 */
export class PatchError extends Error {
  constructor(
    message: string,
    readonly malformed = false,
    readonly code = 400
  ) {
    super(message)
    this.name = 'PatchError'
  }
}

/** RFC 7386: objects merge recursively, null deletes, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch)
  const out: JsonObject = isObject(target) ? clone(target) : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) removeKey(out, k)
    else out[k] = mergePatch(out[k], v)
  }
  return out
}

/** One operation of a JSON patch, as evanphx/json-patch v4 reads it. */
interface Operation {
  /** `op` when it is a string, else undefined (the library's "unknown"). */
  op?: string
  /** undefined when absent or null: the library's "missing value". */
  path?: string
  from?: string
  /** The value (null when sent as null or absent), and its bytes for `test`. */
  value: unknown
  sent: unknown
  hasValue: boolean
}

/** A decoded JSON patch, and the fields kube's strict decoding does not know. */
export interface DecodedJsonPatch {
  operations: Operation[]
  /** `json patch unknown field "[0].spurious"`: a Warning, or with fieldValidation=Strict an error. */
  unknownFields: string[]
}

/** kube-apiserver refuses a JSON patch with more operations than this (413). */
export const MAX_JSON_PATCH_OPERATIONS = 10_000

const OPERATION_FIELDS = ['op', 'path', 'from', 'value']

function goJsonKind(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (typeof v === 'object') return 'object'
  return typeof v === 'boolean' ? 'bool' : typeof v
}

/**
 * Decode a JSON patch body as kube-apiserver does before applying it: first strictly into its
 * own `[]jsonPatchOp` (op, path and from must be strings: 400 otherwise; unknown fields noted),
 * then as the library's operations. Malformed bodies are PatchErrors with `malformed` (400).
 */
export function decodeJsonPatch(text: string): DecodedJsonPatch {
  let patch: unknown
  let sent: unknown
  try {
    patch = JSON.parse(text)
    // Each scalar keeps its bytes, which `test` compares as the library does.
    sent = parseKeepingSource(text)
  } catch (e) {
    throw new PatchError(
      `error decoding patch: ${e instanceof Error ? e.message : String(e)}`,
      true
    )
  }
  if (!Array.isArray(patch) || !Array.isArray(sent)) {
    throw new PatchError(
      `error decoding patch: json: cannot unmarshal ${goJsonKind(patch)} into Go value of type []handlers.jsonPatchOp`,
      true
    )
  }
  const unknownFields: string[] = []
  const sentOps = sent as unknown[]
  const operations = patch.map((raw, i): Operation => {
    if (raw === null) return { value: null, sent: undefined, hasValue: false }
    if (!isObject(raw)) {
      throw new PatchError(
        `error decoding patch: json: cannot unmarshal ${goJsonKind(raw)} into Go value of type handlers.jsonPatchOp`,
        true
      )
    }
    for (const field of ['op', 'path', 'from']) {
      const v = raw[field]
      if (v !== undefined && v !== null && typeof v !== 'string') {
        throw new PatchError(
          `error decoding patch: json: cannot unmarshal ${goJsonKind(v)} into Go struct field jsonPatchOp.${field} of type string`,
          true
        )
      }
    }
    for (const k of Object.keys(raw)) {
      if (!OPERATION_FIELDS.includes(k))
        unknownFields.push(`json patch unknown field "[${i}].${k}"`)
    }
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
    const sentOp = sentOps[i]
    return {
      op: str(raw.op),
      path: str(raw.path),
      from: str(raw.from),
      value: raw.value ?? null,
      sent: isObject(sentOp) && !(sentOp instanceof SourceScalar) ? sentOp.value : undefined,
      hasValue: 'value' in raw
    }
  })
  if (operations.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new PatchError(
      `The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${operations.length}`,
      true,
      413
    )
  }
  return { operations, unknownFields }
}

type Container = JsonObject | unknown[]

function isContainer(v: unknown): v is Container {
  return Array.isArray(v) || isObject(v)
}

/** strconv.Atoi: an optional sign and decimal digits (leading zeros allowed), within int64. */
function atoi(token: string): number | undefined {
  if (!/^[+-]?\d+$/.test(token)) return undefined
  const n = BigInt(token)
  if (n > 2n ** 63n - 1n || n < -(2n ** 63n)) return undefined
  return Number(n)
}

/**
 * An array index as the library resolves it: negative indices count from the end, and
 * `extra` is 1 where one past the end is allowed (add). Undefined for an invalid index.
 */
function arrayIndex(list: unknown[], token: string, extra = 0): number | undefined {
  const i = atoi(token)
  if (i === undefined) return undefined
  const size = list.length + extra
  if (i >= size || i < -size) return undefined
  return i < 0 ? i + size : i
}

function unescapeToken(t: string): string {
  return t.replace(/~1/g, '/').replace(/~0/g, '~')
}

/**
 * The container a pointer's last token lives in, as the library finds it: the text before the
 * first `/` is ignored (so `""` and `"foo"` find nothing), every token but the last must name an
 * existing object or array (missing keys, nulls and scalars find nothing).
 */
function findParent(doc: unknown, pointer: string): { parent: Container; key: string } | undefined {
  const tokens = pointer.split('/')
  if (tokens.length < 2 || !isContainer(doc)) return undefined
  let cur: Container = doc
  for (const raw of tokens.slice(1, -1)) {
    const t = unescapeToken(raw)
    let next: unknown
    if (Array.isArray(cur)) {
      const i = arrayIndex(cur, t)
      next = i === undefined ? undefined : cur[i]
    } else next = Object.hasOwn(cur, t) ? cur[t] : undefined
    if (!isContainer(next)) return undefined
    cur = next
  }
  return { parent: cur, key: unescapeToken(tokens[tokens.length - 1] ?? '') }
}

function doesNotApply(op: string, what: string): PatchError {
  return new PatchError(`${op} operation does not apply: ${what}: missing value`)
}

/** The library's refusal of an array index: not an integer (strconv's words), or out of range. */
function invalidIndex(key: string, add = false): PatchError {
  const n = atoi(key)
  if (n !== undefined) {
    return new PatchError(`Unable to access invalid index: ${n}: invalid index referenced`)
  }
  const syntax = `strconv.Atoi: parsing ${JSON.stringify(key)}: invalid syntax`
  return new PatchError(add ? `value was not a proper array index: '${key}': ${syntax}` : syntax)
}

/** The library's get: an array index must be valid; a missing object key is simply absent. */
function getIn(c: Container, key: string): { value: unknown } {
  if (Array.isArray(c)) {
    const i = arrayIndex(c, key)
    if (i === undefined) throw invalidIndex(key)
    return { value: c[i] }
  }
  return { value: Object.hasOwn(c, key) ? c[key] : undefined }
}

function addIn(c: Container, key: string, value: unknown): void {
  if (Array.isArray(c)) {
    const i = key === '-' ? c.length : arrayIndex(c, key, 1)
    if (i === undefined) throw invalidIndex(key, true)
    c.splice(i, 0, value)
  } else c[key] = value
}

function removeIn(c: Container, key: string): void {
  if (Array.isArray(c)) {
    const i = arrayIndex(c, key)
    if (i === undefined) throw invalidIndex(key)
    c.splice(i, 1)
  } else {
    if (!Object.hasOwn(c, key)) {
      throw new PatchError(`Unable to remove nonexistent key: ${key}: missing value`)
    }
    removeKey(c, key)
  }
}

/** Run `step`, prefixing the library's context to its refusal. */
function within(context: string, step: () => void): void {
  try {
    step()
  } catch (e) {
    if (e instanceof PatchError) throw new PatchError(`${context}: ${e.message}`)
    throw e
  }
}

/** How Go's encoding/json writes a scalar kube-apiserver encoded (HTML characters escaped). */
function goScalarJson(v: unknown): string {
  return (JSON.stringify(v) ?? 'null').replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
  )
}

/**
 * The library's equality of a document value (encoded by kube-apiserver) with a value as sent:
 * objects and arrays compare structurally, scalars by their bytes, so `1.0` is not `1` and
 * `"\u0041"` is not `"A"`; null members match only nulls.
 */
function sameAsSent(doc: unknown, sent: unknown): boolean {
  if (sent instanceof SourceScalar) {
    return !isContainer(doc) && goScalarJson(doc) === sent.source
  }
  if (Array.isArray(doc)) {
    return (
      Array.isArray(sent) &&
      sent.length === doc.length &&
      doc.every((v, i) => sameAsSent(v, sent[i]))
    )
  }
  if (!isObject(doc) || !isObject(sent) || Array.isArray(sent)) return false
  const keys = Object.keys(doc)
  if (keys.length !== Object.keys(sent).length) return false
  return keys.every((k) => {
    if (!Object.hasOwn(sent, k)) return false
    const a = doc[k]
    const b = sent[k]
    const bNull = b instanceof SourceScalar && b.source === 'null'
    if (a === null || bNull) return a === null && bNull
    return sameAsSent(a, b)
  })
}

function requirePointer(op: string, pointer: string | undefined, field = 'path'): string {
  if (pointer === undefined) {
    throw new PatchError(`${op} operation failed to decode ${field}: missing value`)
  }
  return pointer
}

/**
 * RFC 6902 as evanphx/json-patch v4 applies it, which is what kube-apiserver runs, quirks
 * included (see README.md, "JSON patch"): `add` and `remove` at the root and `test`/`replace`
 * of a bare `""` differ from the RFC; `replace` of a missing object member adds it; a missing
 * `value` is null; negative array indices count from the end; `copy` from a missing object
 * member copies null. Works on a copy; the first failing operation aborts the whole patch.
 */
export function applyJsonPatch(doc: unknown, patch: DecodedJsonPatch): unknown {
  let out = clone(doc)
  for (const o of patch.operations) {
    const kind = o.op ?? 'unknown'
    switch (kind) {
      case 'add':
      case 'remove': {
        const path = requirePointer(kind, o.path)
        const at = findParent(out, path)
        if (!at) throw doesNotApply(kind, `doc is missing path: "${path}"`)
        within(`error in ${kind} for path: '${path}'`, () => {
          if (kind === 'add') addIn(at.parent, at.key, clone(o.value))
          else removeIn(at.parent, at.key)
        })
        break
      }
      case 'replace': {
        const path = requirePointer(kind, o.path)
        if (path === '') {
          if (!o.hasValue || !isContainer(o.value)) {
            throw new PatchError('replace operation value must be object or array')
          }
          out = clone(o.value)
          break
        }
        const at = findParent(out, path)
        if (!at) throw doesNotApply(kind, `doc is missing path: ${path}`)
        if (Array.isArray(at.parent)) {
          const i = arrayIndex(at.parent, at.key)
          if (i === undefined) throw doesNotApply(kind, `doc is missing key: ${path}`)
          at.parent[i] = clone(o.value)
        } else at.parent[at.key] = clone(o.value)
        break
      }
      case 'move':
      case 'copy': {
        const from = requirePointer(kind, o.from, 'from')
        const source = findParent(out, from)
        if (!source) throw doesNotApply(kind, `doc is missing from path: ${from}`)
        let value: unknown
        within(
          kind === 'move'
            ? `error in move for path: '${source.key}'`
            : `error in copy for from: '${from}'`,
          () => {
            value = getIn(source.parent, source.key).value
            if (kind === 'move') removeIn(source.parent, source.key)
          }
        )
        const path = requirePointer(kind, o.path)
        const target = findParent(out, path)
        if (!target) throw doesNotApply(kind, `doc is missing destination path: ${path}`)
        within(
          kind === 'move'
            ? `error in move for path: '${path}'`
            : 'error while adding value during copy',
          () =>
            addIn(
              target.parent,
              target.key,
              kind === 'copy' ? clone(value ?? null) : (value ?? null)
            )
        )
        break
      }
      case 'test': {
        const path = requirePointer(kind, o.path)
        const failed = new PatchError(`testing value ${path} failed: test failed`)
        if (path === '') {
          if (!o.hasValue || !sameAsSent(out, o.sent)) throw failed
          break
        }
        const at = findParent(out, path)
        if (!at) throw doesNotApply(kind, `is missing path: ${path}`)
        let value: unknown
        within(`error in test for path: '${path}'`, () => {
          value = getIn(at.parent, at.key).value
        })
        if (value === undefined || value === null) {
          if (o.hasValue && o.value !== null) throw failed
        } else if (!o.hasValue || !sameAsSent(value, o.sent)) throw failed
        break
      }
      default:
        throw new PatchError(`Unexpected kind: ${kind}`)
    }
  }
  return out
}

/** Decode and apply a JSON patch body (see decodeJsonPatch and applyJsonPatch). */
export function jsonPatch(doc: unknown, text: string): unknown {
  return applyJsonPatch(doc, decodeJsonPatch(text))
}

/** Merge keys of built-in list fields (the patchMergeKey tags of k8s.io/api). */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  hostAliases: 'ip',
  conditions: 'type',
  ownerReferences: 'uid',
  topologySpreadConstraints: 'topologyKey',
  readinessGates: 'conditionType',
  containerStatuses: 'name'
}

/** Lists of scalars merged as sets (patchStrategy:"merge" on primitive lists). */
const MERGED_SCALAR_LISTS = new Set(['finalizers'])

function mergeKeyFor(field: string, items: unknown[]): string | undefined {
  if (field === 'ports') {
    // Container ports merge by containerPort, Service ports by port.
    return items.some((i) => isObject(i) && 'containerPort' in i) ? 'containerPort' : 'port'
  }
  return MERGE_KEYS[field]
}

/**
 * Strategic merge patch, approximately: maps merge, lists of objects with a known merge key merge
 * by that key (`$patch: delete` removes an item, `$patch: replace` replaces the list or map),
 * `$deleteFromPrimitiveList/<field>` and finalizers work as sets, other lists are replaced.
 * `$setElementOrder` and `$retainKeys` directives are accepted and ignored.
 */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch)
  if (patch.$patch === 'replace') {
    return stripDirectives(omit(patch, '$patch'))
  }
  if (patch.$patch === 'delete') return undefined
  const out: JsonObject = isObject(target) ? clone(target) : {}
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$setElementOrder/') || k === '$retainKeys' || k === '$patch') continue
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length)
      const current = out[field]
      if (Array.isArray(current) && Array.isArray(v)) {
        out[field] = current.filter((x) => !v.some((d) => deepEqual(d, x)))
      }
      continue
    }
    if (v === null) {
      removeKey(out, k)
      continue
    }
    const current = out[k]
    if (Array.isArray(v)) out[k] = mergeList(k, Array.isArray(current) ? current : undefined, v)
    else if (isObject(v)) {
      const merged = strategicMergePatch(current, v)
      if (merged === undefined) removeKey(out, k)
      else out[k] = merged
    } else out[k] = v
  }
  return out
}

function mergeList(field: string, current: unknown[] | undefined, patch: unknown[]): unknown[] {
  if (patch.some((p) => isObject(p) && p.$patch === 'replace')) {
    return patch.filter((p) => !(isObject(p) && p.$patch === 'replace')).map(stripDirectives)
  }
  if (MERGED_SCALAR_LISTS.has(field)) {
    const out = [...(current ?? [])]
    for (const p of patch) if (!out.some((x) => deepEqual(x, p))) out.push(p)
    return out
  }
  const key = mergeKeyFor(field, [...(current ?? []), ...patch])
  if (!key || !patch.every(isObject)) return patch.map(stripDirectives)
  const out = (current ?? []).map((x) => clone(x))
  for (const p of patch as JsonObject[]) {
    const at = out.findIndex((x) => isObject(x) && deepEqual(x[key], p[key]))
    if (p.$patch === 'delete') {
      if (at >= 0) out.splice(at, 1)
    } else if (at >= 0) out[at] = strategicMergePatch(out[at], p)
    else out.push(stripDirectives(p))
  }
  return out
}

function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripDirectives)
  if (!isObject(v)) return v
  const out: JsonObject = {}
  for (const [k, x] of Object.entries(v)) {
    if (k.startsWith('$')) continue
    out[k] = stripDirectives(x)
  }
  return out
}
