/**
 * kube-apiserver's Status answers, with the messages, reasons and details that
 * k8s.io/apimachinery/pkg/api/errors builds, so clients that parse them behave as against a
 * real cluster.
 */
import { qualifiedKind, qualifiedResource } from './resources.js'

export interface StatusCause {
  reason?: string
  message?: string
  field?: string
}

export interface StatusDetails {
  name?: string
  group?: string
  kind?: string
  uid?: string
  causes?: StatusCause[]
  retryAfterSeconds?: number
}

export interface Status {
  kind: 'Status'
  apiVersion: 'v1'
  metadata: Record<string, never>
  status: 'Failure' | 'Success'
  message?: string
  reason?: string
  details?: StatusDetails
  code: number
}

/** A request that ends in a Status answer. */
export class ApiError extends Error {
  constructor(readonly status: Status) {
    super(status.message ?? status.reason ?? String(status.code))
    this.name = 'ApiError'
  }

  get code(): number {
    return this.status.code
  }
}

export interface GroupResource {
  group: string
  name: string
}

function failure(
  code: number,
  reason: string | undefined,
  message: string,
  details?: StatusDetails
): ApiError {
  const status: Status = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    ...(reason ? { reason } : {}),
    ...(details ? { details: compact(details) } : {}),
    code
  }
  return new ApiError(status)
}

/** Drop empty fields, as Go's omitempty does; key order follows StatusDetails. */
function compact(details: StatusDetails): StatusDetails {
  const out: StatusDetails = {}
  if (details.name) out.name = details.name
  if (details.group) out.group = details.group
  if (details.kind) out.kind = details.kind
  if (details.uid) out.uid = details.uid
  if (details.causes && details.causes.length > 0) out.causes = details.causes
  if (details.retryAfterSeconds) out.retryAfterSeconds = details.retryAfterSeconds
  return out
}

function resourceDetails(gr: GroupResource, name: string): StatusDetails {
  return { name, group: gr.group, kind: gr.name }
}

export function notFound(gr: GroupResource, name: string): ApiError {
  return failure(
    404,
    'NotFound',
    `${qualifiedResource(gr)} "${name}" not found`,
    resourceDetails(gr, name)
  )
}

export function alreadyExists(gr: GroupResource, name: string): ApiError {
  return failure(
    409,
    'AlreadyExists',
    `${qualifiedResource(gr)} "${name}" already exists`,
    resourceDetails(gr, name)
  )
}

export const MODIFIED_MESSAGE =
  'the object has been modified; please apply your changes to the latest version and try again'

export function conflict(gr: GroupResource, name: string, why = MODIFIED_MESSAGE): ApiError {
  return failure(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(gr)} "${name}": ${why}`,
    resourceDetails(gr, name)
  )
}

export function badRequest(message: string): ApiError {
  return failure(400, 'BadRequest', message)
}

/** errors.NewRequestEntityTooLargeError (413), e.g. for a JSON patch of too many operations. */
export function requestEntityTooLarge(message: string): ApiError {
  return failure(413, 'RequestEntityTooLarge', `Request entity too large: ${message}`)
}

/**
 * A validating webhook's denial as kube-apiserver answers it (webhook errors.ToStatusErr): at
 * least 400, the webhook's message after `admission webhook "<name>" denied the request: `, and
 * no reason, as the webhook sets none.
 */
export function admissionDenied(webhook: string, message: string): ApiError {
  return failure(400, undefined, `admission webhook "${webhook}" denied the request: ${message}`)
}

export function unauthorized(): ApiError {
  return failure(401, 'Unauthorized', 'Unauthorized')
}

export interface ForbiddenRequest {
  user: string
  verb: string
  group: string
  resource: string
  subresource?: string
  namespace?: string
  name?: string
}

/** The authorization filter's answer (responsewriters.Forbidden with RBAC's empty reason). */
export function forbidden(req: ForbiddenRequest): ApiError {
  const resource = req.subresource ? `${req.resource}/${req.subresource}` : req.resource
  const where = req.namespace ? `in the namespace "${req.namespace}"` : 'at the cluster scope'
  const why = `User "${req.user}" cannot ${req.verb} resource "${resource}" in API group "${req.group}" ${where}`
  const gr = { group: req.group, name: req.resource }
  const subject = req.name ? `${qualifiedResource(gr)} "${req.name}"` : `${qualifiedResource(gr)}`
  return failure(403, 'Forbidden', `${subject} is forbidden: ${why}`, {
    name: req.name,
    group: req.group,
    kind: req.resource
  })
}

export function methodNotAllowed(): ApiError {
  return failure(
    405,
    'MethodNotAllowed',
    'the server does not allow this method on the requested resource'
  )
}

export function pathNotFound(): ApiError {
  return failure(404, 'NotFound', 'the server could not find the requested resource')
}

export function unsupportedMediaType(accepted: string[]): ApiError {
  return failure(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`
  )
}

export function internalError(cause: string): ApiError {
  return failure(500, 'InternalError', `Internal error occurred: ${cause}`, {
    causes: [{ message: cause }]
  })
}

export function serviceUnavailable(): ApiError {
  return failure(503, 'ServiceUnavailable', 'the server is currently unable to handle the request')
}

export function gone(message: string): ApiError {
  return failure(410, 'Expired', message)
}

/**
 * A 422 as errors.NewGenericServerResponse builds it for a JSON patch that does not apply: the
 * patch library's own message is not passed on (isUnexpectedResponse is false), details are empty.
 */
export function unprocessable(): ApiError {
  return failure(
    422,
    'Invalid',
    'the server rejected our request due to an error in our request',
    {}
  )
}

/** One field.Error: type as in field.ErrorType, rendered as kube's ErrorBody. */
export interface FieldError {
  type:
    | 'FieldValueRequired'
    | 'FieldValueInvalid'
    | 'FieldValueTypeInvalid'
    | 'FieldValueNotSupported'
    | 'FieldValueTooLong'
    | 'FieldValueTooMany'
    | 'FieldValueForbidden'
    | 'FieldValueDuplicate'
  /** Field path, e.g. spec.http[0].route[0].weight ("<nil>" for errors without a path). */
  field: string
  /** Already rendered bad value (see goValue), or undefined when kube omits it. */
  value?: string
  detail: string
}

const TYPE_WORDS: Record<FieldError['type'], string> = {
  FieldValueRequired: 'Required value',
  FieldValueInvalid: 'Invalid value',
  FieldValueTypeInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueTooLong: 'Too long',
  FieldValueTooMany: 'Too many',
  FieldValueForbidden: 'Forbidden',
  FieldValueDuplicate: 'Duplicate value'
}

/** field.Error.ErrorBody(). */
export function errorBody(e: FieldError): string {
  let s = TYPE_WORDS[e.type]
  if (e.value !== undefined) s += `: ${e.value}`
  if (e.detail) s += `: ${e.detail}`
  return s
}

/** errors.NewInvalid: `Kind.group "name" is invalid: <aggregate>` with one cause per error. */
export function invalid(
  kind: { group: string; kind: string },
  name: string,
  errors: FieldError[]
): ApiError {
  const rendered = errors.map((e) => `${e.field}: ${errorBody(e)}`)
  const aggregate = rendered.length === 1 ? rendered[0] : `[${rendered.join(', ')}]`
  return failure(422, 'Invalid', `${qualifiedKind(kind)} "${name}" is invalid: ${aggregate}`, {
    name,
    group: kind.group,
    kind: kind.kind,
    causes: errors.map((e) => ({ reason: e.type, message: errorBody(e), field: e.field }))
  })
}

/** A Go string rendered with %q (close enough for the ASCII the sandbox sees). */
export function goQuote(s: string): string {
  return JSON.stringify(s)
}

/** Go's %v of a float64 (strconv 'g', shortest): 1e+06, 4.294967295e+09, 123456.5. */
export function goFloat(n: number): string {
  const [mantissa = '0', expText = '0'] = n.toExponential().split('e')
  const exp = Number(expText)
  // With the shortest precision, strconv switches to exponent form at exp < -4 || exp >= 6.
  if (exp < -4 || exp >= 6) {
    const sign = exp < 0 ? '-' : '+'
    const abs = Math.abs(exp)
    return `${mantissa}e${sign}${abs < 10 ? `0${abs}` : abs}`
  }
  return String(n)
}

/** How field.Error renders a bad value taken from JSON. */
export function goValue(v: unknown): string {
  if (v === null || v === undefined) return 'null'
  if (typeof v === 'string') return goQuote(v)
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : goFloat(v)
  if (typeof v === 'boolean') return String(v)
  return JSON.stringify(v)
}
