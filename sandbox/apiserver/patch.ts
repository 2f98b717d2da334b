/**
 * The three PATCH bodies kube-apiserver applies to an object's JSON: RFC 7386 merge patch,
 * RFC 6902 JSON patch (errors worded as evanphx/json-patch v4, which the API server uses), and an
 * approximation of strategic merge patch for built-in types.
 */
import { clone, deepEqual, isObject, omit, removeKey, type JsonObject } from './json.js'

/** A patch that could not be applied; `malformed` ones answer 400, the rest 422. */
export class PatchError extends Error {
  constructor(
    message: string,
    readonly malformed = false
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

interface Operation {
  op: string
  path: string
  from?: string
  value?: unknown
  hasValue: boolean
}

function decodeOperations(patch: unknown): Operation[] {
  if (!Array.isArray(patch)) {
    throw new PatchError(
      'json: cannot unmarshal object into Go value of type jsonpatch.Patch',
      true
    )
  }
  return patch.map((raw) => {
    if (!isObject(raw)) {
      throw new PatchError(
        'json: cannot unmarshal array into Go value of type jsonpatch.Operation',
        true
      )
    }
    return {
      op: typeof raw.op === 'string' ? raw.op : '',
      path: typeof raw.path === 'string' ? raw.path : '',
      from: typeof raw.from === 'string' ? raw.from : undefined,
      value: raw.value,
      hasValue: 'value' in raw
    }
  })
}

function parsePointer(pointer: string): string[] | undefined {
  if (pointer === '') return []
  if (!pointer.startsWith('/')) return undefined
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
}

type Container = JsonObject | unknown[]

/** The parent container of a pointer and the last token, or undefined when the parent is missing. */
function locate(doc: unknown, tokens: string[]): { parent: Container; key: string } | undefined {
  let cur: unknown = doc
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) {
      const i = Number(t)
      if (!/^\d+$/.test(t) || i >= cur.length) return undefined
      cur = cur[i]
    } else if (isObject(cur)) {
      if (!(t in cur)) return undefined
      cur = cur[t]
    } else return undefined
  }
  if (!Array.isArray(cur) && !isObject(cur)) return undefined
  return { parent: cur, key: tokens[tokens.length - 1] ?? '' }
}

function getAt(doc: unknown, pointer: string): { found: boolean; value?: unknown } {
  const tokens = parsePointer(pointer)
  if (!tokens) return { found: false }
  if (tokens.length === 0) return { found: true, value: doc }
  const loc = locate(doc, tokens)
  if (!loc) return { found: false }
  if (Array.isArray(loc.parent)) {
    const i = Number(loc.key)
    if (!/^\d+$/.test(loc.key) || i >= loc.parent.length) return { found: false }
    return { found: true, value: loc.parent[i] }
  }
  return loc.key in loc.parent ? { found: true, value: loc.parent[loc.key] } : { found: false }
}

function missingPath(op: string, path: string): PatchError {
  return new PatchError(
    `${op} operation does not apply: doc is missing path: "${path}": missing value`
  )
}

function add(doc: unknown, path: string, value: unknown, op = 'add'): unknown {
  const tokens = parsePointer(path)
  if (!tokens) throw missingPath(op, path)
  if (tokens.length === 0) return clone(value)
  const loc = locate(doc, tokens)
  if (!loc) throw missingPath(op, path)
  if (Array.isArray(loc.parent)) {
    const i = loc.key === '-' ? loc.parent.length : Number(loc.key)
    if (!(loc.key === '-' || /^\d+$/.test(loc.key)) || i > loc.parent.length) {
      throw new PatchError(`Unable to access invalid index: ${loc.key}: invalid index referenced`)
    }
    loc.parent.splice(i, 0, clone(value))
  } else loc.parent[loc.key] = clone(value)
  return doc
}

function remove(doc: unknown, path: string, op = 'remove'): unknown {
  const tokens = parsePointer(path)
  const loc = tokens && tokens.length > 0 ? locate(doc, tokens) : undefined
  if (!loc) throw missingPath(op, path)
  if (Array.isArray(loc.parent)) {
    const i = Number(loc.key)
    if (!/^\d+$/.test(loc.key) || i >= loc.parent.length) {
      throw new PatchError(`Unable to access invalid index: ${loc.key}: invalid index referenced`)
    }
    loc.parent.splice(i, 1)
  } else {
    if (!(loc.key in loc.parent)) throw missingPath(op, path)
    removeKey(loc.parent, loc.key)
  }
  return doc
}

/** Replace a value known to exist, in place, so object key order is kept. */
function replace(doc: unknown, path: string, value: unknown): unknown {
  const tokens = parsePointer(path) ?? []
  if (tokens.length === 0) return clone(value)
  const loc = locate(doc, tokens)
  if (!loc) throw missingPath('replace', path)
  if (Array.isArray(loc.parent)) loc.parent[Number(loc.key)] = clone(value)
  else loc.parent[loc.key] = clone(value)
  return doc
}

/** RFC 6902 on a copy of `doc`; the first failing operation aborts the whole patch. */
export function jsonPatch(doc: unknown, patch: unknown): unknown {
  let out = clone(doc)
  for (const o of decodeOperations(patch)) {
    switch (o.op) {
      case 'add':
        out = add(out, o.path, o.value)
        break
      case 'remove':
        out = remove(out, o.path)
        break
      case 'replace': {
        if (!getAt(out, o.path).found) {
          throw new PatchError(
            `replace operation does not apply: doc is missing key: ${o.path}: missing value`
          )
        }
        out = replace(out, o.path, o.value)
        break
      }
      case 'move':
      case 'copy': {
        const from = getAt(out, o.from ?? '')
        if (o.from === undefined || !from.found) {
          throw new PatchError(
            `${o.op} operation does not apply: doc is missing from path: ${o.from ?? ''}: missing value`
          )
        }
        if (o.op === 'move') out = remove(out, o.from, 'move')
        out = add(out, o.path, from.value, o.op)
        break
      }
      case 'test': {
        const at = getAt(out, o.path)
        const same = at.found
          ? deepEqual(at.value, o.value)
          : o.value === undefined || o.value === null
        if (!same) throw new PatchError(`testing value ${o.path} failed: test failed`)
        break
      }
      default:
        throw new PatchError(`Unexpected kind: ${o.op}`)
    }
  }
  return out
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
