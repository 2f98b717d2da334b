/**
 * The verbs on one resource (get, list, create, update, patch, delete, deletecollection) with
 * kube-apiserver's rules: resourceVersion preconditions, status subresource semantics, defaulting
 * and validation, managed fields, and the Status answer for every refusal.
 */
import { randomUUID } from 'node:crypto'
import yaml from 'js-yaml'
import type { KubeObject } from '../types.js'
import { applyDefaults, validateBuiltin, validateMetadata } from './builtins.js'
import { ISTIO_WEBHOOK, istioDenial } from './istio-webhook.js'
import { deletesAtOnce, isTerminating, markTerminating, podGraceSeconds } from './pods.js'
import type { CrdCatalog } from './crds.js'
import {
  clone,
  deepEqual,
  isObject,
  kubeTime,
  parseKeepingSource,
  removeKey,
  withSource
} from './json.js'
import { GO_TYPES, SCALE_TYPE, type GoStruct, goConvertError, goDecodeError } from './typed.js'
import { recordManagedFields } from './managed-fields.js'
import {
  asObject,
  decodeBody,
  type FieldValidation,
  fieldValidationOf,
  present,
  defaultCustom,
  pruneUnknown,
  resourceVersionRequired,
  storeErrorToApi,
  toStorage
} from './objects.js'
import {
  PatchError,
  applyJsonPatch,
  decodeJsonPatch,
  mergePatch,
  strategicMergePatch
} from './patch.js'
import { apiVersionOf, type ResourceInfo } from './resources.js'
import { validateAgainstSchema } from './schema.js'
import {
  SelectorError,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector
} from './selectors.js'
import {
  ApiError,
  admissionDenied,
  badRequest,
  conflict,
  internalError,
  invalid,
  methodNotAllowed,
  notFound,
  pathNotFound,
  goQuote,
  requestEntityTooLarge,
  unprocessable,
  unsupportedMediaType
} from './status.js'
import type { MemoryStore } from './store.js'
import { scaleOf, scaleToReplicas } from './scale.js'

/** One request on a resource, as the router resolved it. */
export interface ResourceRequest {
  info: ResourceInfo
  version: string
  namespace?: string
  name?: string
  subresource?: string
  query: URLSearchParams
  /** fieldManager, or kube's default taken from the User-Agent. */
  manager: string
  contentType: string
  body: string
}

export interface Answer {
  code: number
  body: unknown
  warnings?: string[]
}

const PATCH_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml'
} as const

function acceptedPatchTypes(info: ResourceInfo): string[] {
  return info.custom
    ? [PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.apply]
    : [PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.strategic, PATCH_TYPES.apply]
}

interface WriteMode {
  operation: 'Update' | 'Apply'
  /** Warnings gathered while decoding (unknown fields). */
  warnings: string[]
}

export class ResourceHandlers {
  constructor(
    private readonly store: MemoryStore,
    private readonly crds: CrdCatalog
  ) {}

  get(req: ResourceRequest): Answer {
    const current = this.mustGet(req)
    if (req.subresource === 'scale') return { code: 200, body: scaleOf(current) }
    return { code: 200, body: present(req.info, current, req.version) }
  }

  /** A predicate for the request's namespace and label/field selectors (400 if unparsable). */
  matcher(req: ResourceRequest): (obj: KubeObject) => boolean {
    let labels
    let fields
    try {
      labels = parseLabelSelector(req.query.get('labelSelector') ?? '')
      fields = parseFieldSelector(req.info.name, req.query.get('fieldSelector') ?? '')
    } catch (e) {
      if (e instanceof SelectorError) throw badRequest(e.message)
      throw e
    }
    const namespace = req.info.namespaced ? req.namespace : undefined
    return (o) =>
      (namespace === undefined || o.metadata.namespace === namespace) &&
      matchesLabels(o.metadata.labels, labels) &&
      matchesFields(o, fields)
  }

  /** Objects matching the request's namespace and selectors, in key order. */
  select(req: ResourceRequest): KubeObject[] {
    const matches = this.matcher(req)
    return this.store.list(req.info.name).filter(matches)
  }

  list(req: ResourceRequest): Answer {
    const all = this.select(req)
    const limit = Number(req.query.get('limit') ?? '0')
    const token = req.query.get('continue')
    let start = 0
    let resourceVersion = this.store.resourceVersion()
    if (token) {
      const decoded = decodeContinue(token)
      if (!decoded) throw badRequest(`continue key is not valid: ${token}`)
      start = all.findIndex((o) => keyOf(o) > decoded.after)
      if (start < 0) start = all.length
      resourceVersion = decoded.rv
    }
    const page = limit > 0 ? all.slice(start, start + limit) : all.slice(start)
    const more = start + page.length < all.length
    const last = page[page.length - 1]
    const metadata: Record<string, unknown> = { resourceVersion }
    if (more && last) {
      metadata.continue = encodeContinue(keyOf(last), resourceVersion)
      metadata.remainingItemCount = all.length - start - page.length
    }
    return {
      code: 200,
      body: {
        kind: req.info.listKind,
        apiVersion: apiVersionOf(req.info.group, req.version),
        metadata,
        items: page.map((o) => present(req.info, o, req.version, true))
      }
    }
  }

  create(req: ResourceRequest): Answer {
    if (req.name !== undefined) throw methodNotAllowed()
    const body = decodeBody(req.body, req.contentType)
    const obj = asObject(body, req.info, req.version)
    checkGoTypes(req, body)
    return this.createObject(req, obj, { operation: 'Update', warnings: [] })
  }

  update(req: ResourceRequest): Answer {
    const name = this.requireName(req)
    const body = decodeBody(req.body, req.contentType)
    if (req.subresource === 'scale') {
      checkGoTypes(req, body)
      return this.updateScale(req, body as KubeObject)
    }
    const obj = asObject(body, req.info, req.version)
    checkGoTypes(req, body)
    this.checkIdentity(req, obj, name)
    const current = this.store.get(req.info.name, req.namespace, name)
    if (!current) {
      if (req.info.allowCreateOnUpdate && !req.subresource) {
        return this.createObject(req, obj, { operation: 'Update', warnings: [] })
      }
      throw notFound(req.info, name)
    }
    const sent = obj.metadata.resourceVersion
    if (sent === undefined || sent === '') {
      if (!req.info.allowUnconditionalUpdate) throw resourceVersionRequired(req.info, name)
    } else if (sent !== current.metadata.resourceVersion) {
      throw conflict(req.info, name)
    }
    return this.writeOver(req, current, obj, { operation: 'Update', warnings: [] })
  }

  patch(req: ResourceRequest): Answer {
    const name = this.requireName(req)
    const patchType = req.contentType.split(';')[0]?.trim() ?? ''
    if (!acceptedPatchTypes(req.info).includes(patchType)) {
      throw unsupportedMediaType(acceptedPatchTypes(req.info))
    }
    if (patchType === PATCH_TYPES.apply) return this.apply(req, name)
    const current = this.mustGet(req)
    const base =
      req.subresource === 'scale' ? scaleOf(current) : present(req.info, current, req.version)
    const validation = fieldValidationOf(req.query)
    const { patched, warnings } = applyPatch(patchType, base, req.body, req.info.custom, validation)
    if (!isObject(patched) || !isObject(patched.metadata)) {
      throw badRequest('the patched object is not a JSON object')
    }
    checkPatchedGoTypes(req, patchType, patched, req.body)
    if (req.subresource === 'scale') {
      return this.updateScale(req, patched as KubeObject)
    }
    const obj = asObject(patched, req.info, req.version)
    this.checkIdentity(req, obj, name)
    const sent = obj.metadata.resourceVersion
    if (sent !== undefined && sent !== '' && sent !== current.metadata.resourceVersion) {
      throw conflict(req.info, name)
    }
    if (req.info.custom && validation === 'Strict') {
      const probe = clone(obj)
      const unknown = pruneUnknown(probe, req.info, req.version, this.crds, 'Warn')
      if (unknown.length > 0) throw strictPatchError(patched, unknown)
    }
    return this.writeOver(req, current, obj, { operation: 'Update', warnings })
  }

  delete(req: ResourceRequest): Answer {
    const name = this.requireName(req)
    if (req.subresource) throw methodNotAllowed()
    const options = req.body.trim() ? decodeBody(req.body, req.contentType) : {}
    const pre = isObject(options.preconditions) ? options.preconditions : {}
    if (req.info.name === 'pods' && !isDryRun(req)) {
      const graceful = this.deletePodGracefully(req, name, options, pre)
      if (graceful) return graceful
    }
    let gone: KubeObject
    try {
      gone = isDryRun(req)
        ? this.mustGet(req)
        : this.store.delete(req.info.name, req.namespace, name, {
            expectedUid: typeof pre.uid === 'string' ? pre.uid : undefined,
            expectedResourceVersion:
              typeof pre.resourceVersion === 'string' ? pre.resourceVersion : undefined
          })
    } catch (e) {
      throw storeErrorToApi(e, req.info, name)
    }
    if (req.info.deleteAnswer === 'object') {
      return { code: 200, body: present(req.info, gone, req.version) }
    }
    return {
      code: 200,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: {
          name,
          ...(req.info.group ? { group: req.info.group } : {}),
          kind: req.info.name,
          uid: gone.metadata.uid
        }
      }
    }
  }

  deleteCollection(req: ResourceRequest): Answer {
    if (!req.info.verbs.includes('deletecollection')) throw methodNotAllowed()
    const items = this.select(req).map((o) => {
      const grace = req.info.name === 'pods' ? podGraceSeconds(o) : 0
      if (req.info.name === 'pods' && !deletesAtOnce(o, grace)) {
        if (isTerminating(o)) return present(req.info, o, req.version, true)
        const marked = this.store.replace('pods', markTerminating(o, grace, this.store.now()))
        return present(req.info, marked, req.version, true)
      }
      this.store.delete(req.info.name, o.metadata.namespace, o.metadata.name)
      return present(req.info, o, req.version, true)
    })
    return {
      code: 200,
      body: {
        kind: req.info.listKind,
        apiVersion: apiVersionOf(req.info.group, req.version),
        metadata: { resourceVersion: this.store.resourceVersion() },
        items
      }
    }
  }

  /**
   * A pod's graceful deletion (the pod strategy's CheckGracefulDelete and BeforeDelete): the pod
   * gets deletionTimestamp and deletionGracePeriodSeconds and stays, Terminating, until the
   * kubelet stand-in removes it; a second delete may only shorten the grace. Undefined when the
   * pod goes at once (grace 0, never scheduled, finished): the ordinary delete does that.
   */
  private deletePodGracefully(
    req: ResourceRequest,
    name: string,
    options: Record<string, unknown>,
    pre: Record<string, unknown>
  ): Answer | undefined {
    const current = this.mustGet(req)
    if (typeof pre.uid === 'string' && pre.uid !== current.metadata.uid) return undefined
    if (
      typeof pre.resourceVersion === 'string' &&
      pre.resourceVersion !== current.metadata.resourceVersion
    ) {
      return undefined
    }
    const asked = options.gracePeriodSeconds ?? req.query.get('gracePeriodSeconds') ?? undefined
    const grace =
      asked === undefined || asked === null || asked === ''
        ? podGraceSeconds(current)
        : Math.max(0, Number(asked))
    if (deletesAtOnce(current, grace)) return undefined
    const already = current.metadata.deletionGracePeriodSeconds
    if (isTerminating(current) && typeof already === 'number' && grace >= already) {
      return { code: 200, body: present(req.info, current, req.version) }
    }
    let stored: KubeObject
    try {
      stored = this.store.replace('pods', markTerminating(current, grace, this.store.now()), {
        expectedResourceVersion: current.metadata.resourceVersion
      })
    } catch (e) {
      throw storeErrorToApi(e, req.info, name)
    }
    return { code: 200, body: present(req.info, stored, req.version) }
  }

  /** Server-side apply, simplified: the applied configuration is merged over the live object. */
  private apply(req: ResourceRequest, name: string): Answer {
    if (!req.query.get('fieldManager')) {
      throw invalid({ group: 'meta.k8s.io', kind: 'PatchOptions' }, '', [
        { type: 'FieldValueRequired', field: 'fieldManager', detail: 'is required for apply patch' }
      ])
    }
    let applied: unknown
    try {
      applied = yaml.load(req.body)
    } catch (e) {
      throw badRequest(`error decoding YAML: ${e instanceof Error ? e.message : String(e)}`)
    }
    if (!isObject(applied)) throw badRequest('error decoding YAML: not an object')
    const obj = asObject(applied, req.info, req.version)
    this.checkIdentity(req, obj, name)
    const mode: WriteMode = { operation: 'Apply', warnings: [] }
    const current = this.store.get(req.info.name, req.namespace, name)
    if (!current) {
      if (req.subresource) throw notFound(req.info, name)
      return this.createObject(req, obj, mode)
    }
    const sent = obj.metadata.resourceVersion
    if (sent !== undefined && sent !== current.metadata.resourceVersion) {
      throw conflict(req.info, name)
    }
    const live = present(req.info, current, req.version)
    const merged = (
      req.info.custom ? mergePatch(live, applied) : strategicMergePatch(live, applied)
    ) as KubeObject
    return this.writeOver(req, current, merged, mode)
  }

  private createObject(req: ResourceRequest, sent: KubeObject, mode: WriteMode): Answer {
    const obj = clone(sent)
    const warnings = [
      ...mode.warnings,
      ...pruneUnknown(obj, req.info, req.version, this.crds, fieldValidationOf(req.query))
    ]
    defaultCustom(obj, req.info, req.version, this.crds)
    if (req.info.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== req.namespace) {
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request'
        )
      }
      obj.metadata.namespace = req.namespace
    } else delete obj.metadata.namespace
    if (!obj.metadata.name && typeof obj.metadata.generateName === 'string') {
      obj.metadata.name = `${obj.metadata.generateName}${randomSuffix()}`
    }
    const rv = obj.metadata.resourceVersion
    if (rv !== undefined && /^[1-9]\d*$/.test(rv)) {
      throw new ApiError({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'resourceVersion should not be set on objects to be created',
        code: 500
      })
    }
    for (const k of [
      'uid',
      'resourceVersion',
      'generation',
      'creationTimestamp',
      'managedFields'
    ]) {
      removeKey(obj.metadata, k)
    }
    if (req.info.hasStatus) delete obj.status
    if (req.info.name === 'deployments') obj.status = {}
    applyDefaults(req.info.name, obj)
    this.validate(req, obj)
    if (
      req.info.namespaced &&
      req.namespace &&
      !this.store.get('namespaces', undefined, req.namespace)
    ) {
      throw notFound({ group: '', name: 'namespaces' }, req.namespace)
    }
    recordManagedFields(undefined, obj, {
      manager: req.manager,
      operation: mode.operation,
      apiVersion: apiVersionOf(req.info.group, req.version),
      time: new Date(this.store.now())
    })
    if (isDryRun(req)) {
      const preview = toStorage(req.info, obj)
      preview.metadata.uid = randomUUID()
      preview.metadata.creationTimestamp = kubeTime(new Date(this.store.now()))
      if (req.info.generation !== 'none') preview.metadata.generation = 1
      return { code: 201, body: present(req.info, preview, req.version), warnings }
    }
    let stored: KubeObject
    try {
      stored = this.store.create(req.info.name, toStorage(req.info, obj))
    } catch (e) {
      throw storeErrorToApi(e, req.info, obj.metadata.name)
    }
    return { code: 201, body: present(req.info, stored, req.version), warnings }
  }

  /** Write `sent` over `current` (preconditions already checked) through main or /status. */
  private writeOver(
    req: ResourceRequest,
    current: KubeObject,
    sent: KubeObject,
    mode: WriteMode
  ): Answer {
    const incoming = clone(sent)
    const warnings = [
      ...mode.warnings,
      ...pruneUnknown(incoming, req.info, req.version, this.crds, fieldValidationOf(req.query))
    ]
    if (req.subresource !== 'status') defaultCustom(incoming, req.info, req.version, this.crds)
    const statusWrite = req.subresource === 'status'
    if (req.subresource && !statusWrite) throw pathNotFound()
    let next: KubeObject
    if (statusWrite) {
      next = clone(current)
      if (incoming.status === undefined) delete next.status
      else next.status = incoming.status
      // The Deployment status strategy keeps spec and labels only; annotations come through.
      if (req.info.name === 'deployments') {
        if (incoming.metadata.annotations) next.metadata.annotations = incoming.metadata.annotations
        else delete next.metadata.annotations
      }
    } else {
      next = incoming
      if (req.info.hasStatus) {
        if (current.status === undefined) delete next.status
        else next.status = clone(current.status)
      }
      applyDefaults(req.info.name, next, current)
    }
    next = toStorage(req.info, next)
    next.metadata.namespace = current.metadata.namespace
    next.metadata.uid = current.metadata.uid
    next.metadata.creationTimestamp = current.metadata.creationTimestamp
    next.metadata.resourceVersion = current.metadata.resourceVersion
    if (current.metadata.generation !== undefined)
      next.metadata.generation = current.metadata.generation
    if (current.metadata.managedFields)
      next.metadata.managedFields = clone(current.metadata.managedFields)
    else delete next.metadata.managedFields
    this.validate(req, next, current)
    if (deepEqual(next, current)) {
      return { code: 200, body: present(req.info, current, req.version), warnings }
    }
    recordManagedFields(current, next, {
      manager: req.manager,
      operation: mode.operation,
      apiVersion: apiVersionOf(req.info.group, req.version),
      subresource: req.subresource,
      time: new Date(this.store.now())
    })
    if (isDryRun(req)) return { code: 200, body: present(req.info, next, req.version), warnings }
    let stored: KubeObject
    try {
      stored = this.store.replace(req.info.name, next, {
        expectedResourceVersion: current.metadata.resourceVersion,
        statusOnly: statusWrite
      })
    } catch (e) {
      throw storeErrorToApi(e, req.info, current.metadata.name)
    }
    return { code: 200, body: present(req.info, stored, req.version), warnings }
  }

  private updateScale(req: ResourceRequest, scale: KubeObject): Answer {
    const name = this.requireName(req)
    const current = this.mustGet(req)
    const sent = scale.metadata?.resourceVersion
    if (sent !== undefined && sent !== '' && sent !== current.metadata.resourceVersion) {
      throw conflict(req.info, name)
    }
    const replicas = scaleToReplicas(scale)
    if (replicas === undefined) {
      throw invalid({ group: 'autoscaling', kind: 'Scale' }, name, [
        {
          type: 'FieldValueInvalid',
          field: 'spec.replicas',
          value: goQuote(String(isObject(scale.spec) ? scale.spec.replicas : '')),
          detail: 'must be greater than or equal to 0'
        }
      ])
    }
    const next = clone(current)
    next.spec = { ...next.spec, replicas }
    const answer = this.writeOver({ ...req, subresource: undefined }, current, next, {
      operation: 'Update',
      warnings: []
    })
    const stored = this.store.get(req.info.name, req.namespace, name)
    return { code: answer.code, body: stored ? scaleOf(stored) : answer.body }
  }

  private validate(req: ResourceRequest, obj: KubeObject, old?: KubeObject): void {
    const errors = [...validateMetadata(req.info.name, obj)]
    if (req.info.custom) {
      const schema = this.crds.get(req.info.name)?.get(req.version)?.schema
      if (!schema) throw internalError(`no schema for ${req.info.name}/${req.version}`)
      errors.push(...validateAgainstSchema(obj, schema))
    } else {
      errors.push(...validateBuiltin(req.info.name, obj, old))
    }
    if (errors.length > 0) throw invalid(req.info, obj.metadata.name, errors)
    // Validating admission runs after the registry's validation, and not on subresources.
    if (req.info.custom && !req.subresource) {
      const denial = istioDenial(req.info.name, obj)
      if (denial !== undefined) throw admissionDenied(ISTIO_WEBHOOK, denial)
    }
  }

  private checkIdentity(req: ResourceRequest, obj: KubeObject, name: string): void {
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`
      )
    }
    obj.metadata.name = name
    if (req.info.namespaced && obj.metadata.namespace && obj.metadata.namespace !== req.namespace) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request'
      )
    }
  }

  private requireName(req: ResourceRequest): string {
    if (req.name === undefined) throw methodNotAllowed()
    return req.name
  }

  private mustGet(req: ResourceRequest): KubeObject {
    const name = this.requireName(req)
    const found = this.store.get(req.info.name, req.namespace, name)
    if (!found) throw notFound(req.info, name)
    return found
  }
}

/** `?dryRun=All`: everything but the write (no resourceVersion or generation move). */
function isDryRun(req: ResourceRequest): boolean {
  return req.query.getAll('dryRun').includes('All')
}

/** The Go struct a built-in request body decodes into (undefined for custom resources). */
function goTypeOf(
  req: ResourceRequest
): { kind: string; version: string; type: GoStruct } | undefined {
  if (req.subresource === 'scale') return { kind: 'Scale', version: 'v1', type: SCALE_TYPE }
  if (req.info.custom) return undefined
  const type = GO_TYPES[req.info.name as keyof typeof GO_TYPES]
  return { kind: req.info.kind, version: req.version, type }
}

/**
 * A create or update body of a built-in must decode into its Go struct: a non-integer in an
 * integer field, an int32 out of range, a bad MicroTime are 400 BadRequest, worded as
 * transformDecodeError words the decoder's error.
 */
function checkGoTypes(req: ResourceRequest, body: Record<string, unknown>): void {
  const target = goTypeOf(req)
  if (!target) return
  const tree = req.contentType.includes('yaml') ? withSource(body) : parseKeepingSource(req.body)
  const error = goDecodeError(tree, target.type)
  if (error !== undefined) {
    throw badRequest(
      `${target.kind} in version ${goQuote(target.version)} cannot be handled as a ${target.kind}: ${error}`
    )
  }
}

/**
 * A patched built-in must decode (JSON and merge patch) or convert (strategic merge patch) into
 * its Go struct; kube answers 422 `"" is invalid: patch: Invalid value: ...` otherwise. The
 * patched numbers are checked as JSON.stringify writes them (see README.md).
 */
function checkPatchedGoTypes(
  req: ResourceRequest,
  patchType: string,
  patched: unknown,
  body: string
): void {
  const target = goTypeOf(req)
  if (!target) return
  const strategic = patchType === PATCH_TYPES.strategic
  const error = strategic
    ? goConvertError(patched, target.type)
    : goDecodeError(withSource(patched), target.type)
  if (error === undefined) return
  throw invalid({ group: '', kind: '' }, '', [
    {
      type: 'FieldValueInvalid',
      field: 'patch',
      value: goQuote(strategic ? goMapString(JSON.parse(body)) : JSON.stringify(patched)),
      detail: error
    }
  ])
}

/** Go's %+v of a decoded JSON value (map[k:v ...] with sorted keys), as kube prints a patch map. */
function goMapString(v: unknown): string {
  if (v === null || v === undefined) return '<nil>'
  if (Array.isArray(v)) return `[${v.map(goMapString).join(' ')}]`
  if (isObject(v)) {
    const entries = Object.keys(v)
      .sort()
      .map((k) => `${k}:${goMapString(v[k])}`)
    return `map[${entries.join(' ')}]`
  }
  return String(v)
}

/** The patched JSON, and the warnings of decoding the patch (unknown JSON patch fields). */
interface Patched {
  patched: unknown
  warnings: string[]
}

function applyPatch(
  patchType: string,
  base: unknown,
  body: string,
  custom: boolean,
  validation: FieldValidation
): Patched {
  try {
    if (patchType === PATCH_TYPES.json) {
      const decoded = decodeJsonPatch(body)
      const patched = applyJsonPatch(base, decoded)
      if (decoded.unknownFields.length > 0 && validation === 'Strict') {
        throw strictPatchError(patched, decoded.unknownFields)
      }
      return { patched, warnings: validation === 'Warn' ? decoded.unknownFields : [] }
    }
    let patch: unknown
    try {
      patch = JSON.parse(body)
    } catch (e) {
      throw badRequest(e instanceof Error ? e.message : String(e))
    }
    if (!isObject(patch)) throw new PatchError('Invalid JSON Patch', true)
    if (patchType === PATCH_TYPES.merge || custom) {
      return { patched: mergePatch(base, patch), warnings: [] }
    }
    return { patched: strategicMergePatch(base, patch), warnings: [] }
  } catch (e) {
    if (!(e instanceof PatchError)) throw e
    if (!e.malformed) throw unprocessable()
    throw e.code === 413 ? requestEntityTooLarge(e.message) : badRequest(e.message)
  }
}

/** `"" is invalid: patch: Invalid value: "<patched>": strict decoding error: ...` (422). */
function strictPatchError(patched: unknown, unknown: string[]): ApiError {
  return invalid({ group: '', kind: '' }, '', [
    {
      type: 'FieldValueInvalid',
      field: 'patch',
      value: goQuote(JSON.stringify(patched)),
      detail: `strict decoding error: ${unknown.join(', ')}`
    }
  ])
}

function keyOf(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`
}

function encodeContinue(after: string, rv: string): string {
  return Buffer.from(
    JSON.stringify({ v: 'meta.k8s.io/v1', rv: Number(rv), start: after })
  ).toString('base64url')
}

function decodeContinue(token: string): { after: string; rv: string } | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))
    if (isObject(parsed) && typeof parsed.start === 'string') {
      return { after: parsed.start, rv: String(parsed.rv) }
    }
  } catch {
    return undefined
  }
  return undefined
}

const SAFE_CHARS = 'bcdfghjklmnpqrstvwxz2456789'

export function randomSuffix(length = 5): string {
  let out = ''
  for (let i = 0; i < length; i++) out += SAFE_CHARS[Math.floor(Math.random() * SAFE_CHARS.length)]
  return out
}
