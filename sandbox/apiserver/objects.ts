/**
 * Turning request bodies into stored objects and stored objects into answers: decoding, the
 * version an object is presented under, unknown-field pruning for custom resources, and the
 * Status errors for store refusals.
 */
import yaml from 'js-yaml'
import type { KubeObject } from '../types.js'
import type { CrdCatalog } from './crds.js'
import { clone, isObject, omit } from './json.js'
import { apiVersionOf, storageApiVersion, type ResourceInfo } from './resources.js'
import { applySchemaDefaults, prune } from './schema.js'
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  invalid,
  notFound,
  goQuote,
  unsupportedMediaType
} from './status.js'
import { StoreError } from './store.js'

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore'

export function fieldValidationOf(query: URLSearchParams): FieldValidation {
  const v = query.get('fieldValidation')
  if (v === 'Strict' || v === 'Ignore') return v
  return 'Warn'
}

/** Decode a JSON (or YAML) body into an object; kube answers 400 on anything else. */
export function decodeBody(raw: string, contentType: string): Record<string, unknown> {
  if (contentType.includes('protobuf')) {
    // The sandbox speaks JSON only; client-go's typed clients must be told to use JSON.
    throw unsupportedMediaType(['application/json', 'application/yaml'])
  }
  let parsed: unknown
  try {
    parsed = contentType.includes('yaml') ? yaml.load(raw) : JSON.parse(raw)
  } catch (e) {
    throw badRequest(
      `couldn't get version/kind; json parse error: ${e instanceof Error ? e.message : String(e)}`
    )
  }
  if (!isObject(parsed)) {
    throw badRequest("couldn't get version/kind; json parse error: body is not a JSON object")
  }
  return parsed
}

/** Check a body's apiVersion/kind against the endpoint and shape it as a KubeObject. */
export function asObject(
  body: Record<string, unknown>,
  info: ResourceInfo,
  version: string
): KubeObject {
  const expected = apiVersionOf(info.group, version)
  const apiVersion = typeof body.apiVersion === 'string' ? body.apiVersion : expected
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : ''
  const bodyVersion = apiVersion.split('/').pop() ?? ''
  if (group !== info.group || !info.versions.includes(bodyVersion)) {
    throw badRequest(
      `the API version in the data (${apiVersion}) does not match the expected API version (${expected})`
    )
  }
  if (body.kind !== undefined && body.kind !== info.kind) {
    throw badRequest(
      `${String(body.kind)} in version "${bodyVersion}" cannot be handled as a ${info.kind}: no kind "${String(body.kind)}" is registered for version "${apiVersion}"`
    )
  }
  const metadata = isObject(body.metadata) ? clone(body.metadata) : {}
  const obj = { ...clone(body), metadata } as KubeObject
  if (typeof metadata.name !== 'string') obj.metadata.name = ''
  return obj
}

/**
 * Apply the structural defaults of `version`'s schema to a custom resource (in place), as
 * apiextensions-apiserver does on every create, update and patch after pruning: e.g. an HTTPRoute
 * backendRef gains `group: ""`, `kind: Service` and `weight: 1`.
 */
export function defaultCustom(
  obj: KubeObject,
  info: ResourceInfo,
  version: string,
  crds: CrdCatalog
): void {
  const schema = info.custom ? crds.get(info.name)?.get(version)?.schema : undefined
  if (schema) applySchemaDefaults(obj, schema)
}

/**
 * Prune a custom resource's unknown fields against the schema of `version`. Returns the kube
 * warnings (`unknown field "spec.foo"`); with fieldValidation=Strict they are an error instead,
 * worded as the create/update handlers word a strict decoding error.
 */
export function pruneUnknown(
  obj: KubeObject,
  info: ResourceInfo,
  version: string,
  crds: CrdCatalog,
  validation: FieldValidation
): string[] {
  const schema = info.custom ? crds.get(info.name)?.get(version)?.schema : undefined
  if (!schema) return []
  const unknown = prune(obj, schema).map((p) => `unknown field ${goQuote(p)}`)
  if (validation === 'Strict' && unknown.length > 0) {
    throw badRequest(
      `${info.kind} in version ${goQuote(version)} cannot be handled as a ${info.kind}: strict decoding error: ${unknown.join(', ')}`
    )
  }
  return validation === 'Ignore' ? [] : unknown
}

/**
 * An object as answered under `version`. Typed (built-in) lists carry no apiVersion/kind on their
 * items; custom resources always do, with keys in the order Go's map encoding gives them.
 */
export function present(
  info: ResourceInfo,
  obj: KubeObject,
  version: string,
  inList = false
): KubeObject {
  const rest = omit(clone(obj), 'apiVersion', 'kind')
  const apiVersion = apiVersionOf(info.group, version)
  if (info.custom) return { apiVersion, kind: info.kind, ...rest } as KubeObject
  if (inList) return rest as KubeObject
  return { kind: info.kind, apiVersion, ...rest } as KubeObject
}

/** The object as stored: under the storage version. */
export function toStorage(info: ResourceInfo, obj: KubeObject): KubeObject {
  const rest = omit(obj, 'apiVersion', 'kind')
  return { apiVersion: storageApiVersion(info), kind: info.kind, ...rest } as KubeObject
}

/** Store refusals as the Status errors kube-apiserver gives for them. */
export function storeErrorToApi(e: unknown, info: ResourceInfo, name: string): unknown {
  if (!(e instanceof StoreError)) return e
  if (e.reason === 'NotFound') return notFound(info, name)
  if (e.reason === 'AlreadyExists') return alreadyExists(info, name)
  return e.message.startsWith('Precondition failed')
    ? conflict(info, name, e.message)
    : conflict(info, name)
}

/** `metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`. */
export function resourceVersionRequired(info: ResourceInfo, name: string): ApiError {
  return invalid({ group: info.group, kind: info.name }, name, [
    {
      type: 'FieldValueInvalid',
      field: 'metadata.resourceVersion',
      value: '0x0',
      detail: 'must be specified for an update'
    }
  ])
}
