/**
 * metadata.managedFields, simplified from server-side apply's field manager: each write gives its
 * manager the fields it changed (in FieldsV1 form) and takes them from every other manager, so
 * the entry that owns e.g. `f:spec` / `f:http` names who last changed the routes. Lists count as
 * one field (atomic), as they are for Istio's CRDs; kube would track built-in keyed lists item by
 * item.
 */
import type { KubeObject } from '../types.js'
import { deepEqual, isObject, kubeTime, type JsonObject } from './json.js'

export interface ManagedFieldsWrite {
  manager: string
  operation: 'Update' | 'Apply'
  apiVersion: string
  subresource?: string
  time?: Date
}

type FieldPath = string[]

/** Metadata fields the field manager tracks; the rest are set by the server. */
const TRACKED_METADATA = ['labels', 'annotations', 'ownerReferences', 'finalizers']

function leafPaths(obj: KubeObject): FieldPath[] {
  const out: FieldPath[] = []
  const walk = (v: unknown, path: FieldPath): void => {
    if (isObject(v) && Object.keys(v).length > 0) {
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k])
    } else out.push(path)
  }
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind') continue
    if (k === 'metadata') {
      for (const m of TRACKED_METADATA) {
        const value = obj.metadata[m]
        if (value !== undefined) walk(value, ['metadata', m])
      }
    } else walk(v, [k])
  }
  return out
}

function valueAt(obj: unknown, path: FieldPath): unknown {
  let cur = obj
  for (const p of path) cur = isObject(cur) ? cur[p] : undefined
  return cur
}

function encode(paths: FieldPath[]): JsonObject {
  const root: JsonObject = {}
  for (const path of paths) {
    let node = root
    for (const p of path) {
      const k = `f:${p}`
      if (!isObject(node[k])) node[k] = {}
      node = node[k] as JsonObject
    }
  }
  return root
}

function decode(fields: unknown): FieldPath[] {
  const out: FieldPath[] = []
  const walk = (node: unknown, path: FieldPath): void => {
    const keys = isObject(node) ? Object.keys(node).filter((k) => k.startsWith('f:')) : []
    if (keys.length === 0) {
      if (path.length > 0) out.push(path)
      return
    }
    for (const k of keys) walk((node as JsonObject)[k], [...path, k.slice(2)])
  }
  walk(fields, [])
  return out
}

function overlaps(a: FieldPath, b: FieldPath): boolean {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false
  return true
}

function sameEntry(e: Record<string, unknown>, w: ManagedFieldsWrite): boolean {
  return (
    e.manager === w.manager &&
    e.operation === w.operation &&
    (e.subresource ?? undefined) === (w.subresource ?? undefined)
  )
}

/**
 * Set `next.metadata.managedFields` for a write of `next` over `old` (undefined on create).
 * Entries of `old` are the starting point; what a client sent in the field is ignored.
 */
export function recordManagedFields(
  old: KubeObject | undefined,
  next: KubeObject,
  write: ManagedFieldsWrite
): void {
  const before = old ? leafPaths(old) : []
  const after = leafPaths(next)
  const changed = after.filter((p) => !old || !deepEqual(valueAt(old, p), valueAt(next, p)))
  const removed = before.filter((p) => valueAt(next, p) === undefined)
  const entries = (old?.metadata.managedFields ?? []).map((e) => ({ ...e }))
  const updated: Array<Record<string, unknown>> = []
  let mine: FieldPath[] = []
  for (const e of entries) {
    const owned = decode(e.fieldsV1)
    if (sameEntry(e, write)) {
      mine = owned.filter((p) => !removed.some((r) => overlaps(r, p)))
      continue
    }
    const kept = owned.filter(
      (p) => !changed.some((c) => overlaps(c, p)) && !removed.some((r) => overlaps(r, p))
    )
    if (kept.length > 0) updated.push({ ...e, fieldsV1: encode(kept) })
  }
  for (const c of changed) {
    mine = mine.filter((p) => !overlaps(p, c))
    mine.push(c)
  }
  if (mine.length > 0) {
    updated.push({
      manager: write.manager,
      operation: write.operation,
      apiVersion: write.apiVersion,
      time: kubeTime(write.time),
      fieldsType: 'FieldsV1',
      fieldsV1: encode(mine),
      ...(write.subresource ? { subresource: write.subresource } : {})
    })
  }
  if (updated.length > 0) next.metadata.managedFields = updated
  else delete next.metadata.managedFields
}

/** Who manages a field (e.g. ['spec', 'http']), per the object's managedFields. */
export function managersOf(obj: KubeObject, path: string[]): string[] {
  return (obj.metadata.managedFields ?? [])
    .filter((e) => decode(e.fieldsV1).some((p) => overlaps(p, path)))
    .map((e) => String(e.manager))
}

/** kube-apiserver's default manager name: the User-Agent up to its first '/'. */
export function managerFromUserAgent(userAgent: string | undefined): string {
  const prefix = (userAgent ?? '').split('/')[0]?.trim() ?? ''
  return prefix.slice(0, 128) || 'unknown'
}
