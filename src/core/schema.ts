/**
 * Reading a rollout record of any format this code knows, upgraded to the current one
 * (RECORD_SCHEMA). A record of a newer format is refused: misreading it could shift the wrong
 * objects or forget one.
 *
 * Schema 1 (no `schema` field; the first release) named the Istio objects directly:
 * `config.virtualService`, `config.destinationRule`, `config.istioVersion`, `config.routes`, and
 * `virtualServiceVersion`. Schema 2 names a router (`config.router`) and keeps a resourceVersion
 * per router object (`routerVersions`).
 */
import { RECORD_SCHEMA, type RolloutRecord } from './record.js'

/** A record this code cannot read: written by a newer release, or not a record at all. */
export class RecordSchemaError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RecordSchemaError'
  }
}

type Json = Record<string, unknown>

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Schema 1 → 2: the Istio fields become the router, the one version a per-object map. */
function fromSchema1(raw: Json, where: string): Json {
  const config = isObject(raw.config) ? raw.config : undefined
  const vs = config?.virtualService
  if (!config || typeof vs !== 'string' || typeof config.istioVersion !== 'string') {
    throw new RecordSchemaError(
      `${where} holds a rollout record without a schema that is not one of the first release's either (no config.virtualService or config.istioVersion): it cannot be read safely; look at it, and delete the annotation once no rollout is in flight`
    )
  }
  const { virtualService, destinationRule, istioVersion, routes, ...rest } = config
  const { virtualServiceVersion, ...record } = raw
  return {
    ...record,
    schema: 2,
    config: {
      ...rest,
      router: {
        kind: 'istio',
        apiVersion: istioVersion,
        objects: [virtualService],
        routes: Array.isArray(routes) ? routes : [],
        destinationRule: typeof destinationRule === 'string' ? destinationRule : virtualService
      }
    },
    ...(typeof virtualServiceVersion === 'string'
      ? { routerVersions: { [virtualService as string]: virtualServiceVersion } }
      : {})
  }
}

/**
 * The record in `raw` (parsed JSON), in the current format. `where` names its home for messages
 * (`the Lease istio-bluegreen-reviews`). Throws RecordSchemaError for a record of an unknown
 * (newer) schema or one that is not a record.
 */
export function upgradeRecord(raw: unknown, where: string): RolloutRecord {
  if (!isObject(raw)) {
    throw new RecordSchemaError(
      `${where} holds a rollout record that is not a JSON object: it cannot be read safely; look at it, and delete the annotation once no rollout is in flight`
    )
  }
  const schema = raw.schema
  if (schema === undefined) return fromSchema1(raw, where) as unknown as RolloutRecord
  if (schema === RECORD_SCHEMA) return raw as unknown as RolloutRecord
  if (typeof schema === 'number' && Number.isInteger(schema) && schema > RECORD_SCHEMA) {
    throw new RecordSchemaError(
      `${where} holds a rollout record of schema ${schema}, written by a newer istio-bluegreen than this one (which reads schemas 1 to ${RECORD_SCHEMA}): run this command with that release or a newer one; nothing was changed`
    )
  }
  throw new RecordSchemaError(
    `${where} holds a rollout record of schema ${JSON.stringify(schema)}, which no istio-bluegreen release writes: it cannot be read safely; look at it, and delete the annotation once no rollout is in flight`
  )
}
