/**
 * The sandbox API server's request pipeline without HTTP: resolve the path, audit it, apply the
 * injected faults, the RBAC denials or Role, then discovery, SelfSubjectAccessReview or the
 * resource handlers, and turn every refusal into kube-apiserver's Status answer. The HTTP server
 * (server.ts) and in-process clients (the tests' MemoryKube) send their requests through the same
 * `call`, so both see the same validation, defaults, webhook rules, patch semantics, conflicts and
 * messages; only the transport differs.
 */
import type { DenyRule, FaultRule, KubeObject, RoleRule, StoreEvent } from '../types.js'
import { type CrdCatalog, loadCrds } from './crds.js'
import {
  AUTHORIZATION_GROUP,
  apiGroupDoc,
  apiGroupList,
  apiResourceList,
  apiVersions,
  versionInfo
} from './discovery.js'
import { decideFault, isForbidden, rbacResource, type RequestFacts } from './faults.js'
import { type Answer, ResourceHandlers, type ResourceRequest } from './handlers.js'
import { isObject } from './json.js'
import { managerFromUserAgent } from './managed-fields.js'
import { decodeBody, present } from './objects.js'
import { openApiGroupVersion, openApiRoot } from './openapi.js'
import { parsePath, type Route } from './paths.js'
import { findResource, type ResourceInfo } from './resources.js'
import {
  ApiError,
  conflict,
  forbidden,
  internalError,
  methodNotAllowed,
  pathNotFound,
  serviceUnavailable,
  type Status
} from './status.js'
import { MemoryStore } from './store.js'
import { tableOf, toTable, wantsTable } from './table.js'
import { watchEvents } from './watch.js'

export const DEFAULT_USER = 'system:serviceaccount:ci:deployer'

/** One authenticated resource request, in RBAC terms. */
export interface AuditEntry {
  verb: string
  group: string
  /** Plural resource, with `/subresource` when there is one. */
  resource: string
  namespace?: string
  /** The object's name, for requests to one object (not lists, not creates). */
  name?: string
}

/** A request as the transport received it (already authenticated). */
export interface ApiCall {
  method: string
  /** Path and query string, e.g. `/apis/apps/v1/namespaces/demo/deployments?labelSelector=a%3Db`. */
  url: string
  body?: string
  contentType?: string
  accept?: string
  userAgent?: string
  /** The Host the client addressed (discovery's serverAddress). */
  host?: string
}

/** What the transport must do with a request. */
export type ApiOutcome =
  /** Send this answer (a JSON body with its status code and Warning headers). */
  | { kind: 'answer'; answer: Answer }
  /** Send this body as it is (health checks, the empty OpenAPI v2 document). */
  | { kind: 'raw'; code: number; contentType: string; body: string }
  /** An injected fault: close the connection without an answer. */
  | { kind: 'drop' }
  /** `?watch=true`: stream the events of this request, each object shown by `render`. */
  | { kind: 'watch'; request: ResourceRequest; render?: (obj: KubeObject) => unknown }

export interface SandboxApiOptions {
  /** The store to serve; a new empty one by default. */
  store?: MemoryStore
  /** The user the credentials stand for, as named in Forbidden messages. */
  user?: string
  /** How an injected latency is waited out (real time by default; virtual in tests). */
  sleep?: (ms: number) => Promise<void>
  /** The dice of injected faults (Math.random by default; seeded in tests). */
  random?: () => number
}

interface Resolved {
  route: Route
  facts: RequestFacts
  info?: ResourceInfo
}

function verbOf(method: string, route: Route, query: URLSearchParams): string {
  const named = route.type === 'resource' && route.name !== undefined
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (named) return 'get'
      if (route.type !== 'resource') return 'get'
      return query.get('watch') === 'true' || query.get('watch') === '1' ? 'watch' : 'list'
    case 'POST':
      return 'create'
    case 'PUT':
      return 'update'
    case 'PATCH':
      return 'patch'
    case 'DELETE':
      return named ? 'delete' : 'deletecollection'
    default:
      return method.toLowerCase()
  }
}

function resolve(method: string, url: URL): Resolved {
  const route = parsePath(url.pathname)
  const verb = verbOf(method, route, url.searchParams)
  if (route.type !== 'resource') return { route, facts: { verb } }
  const info = findResource(route.group, route.version, route.resource)
  return {
    route,
    info,
    facts: {
      verb,
      group: route.group,
      resource: route.resource,
      subresource: route.subresource,
      namespace: route.namespace
    }
  }
}

function selfSubjectAccessReview(
  body: string,
  contentType: string,
  forbidden: (facts: RequestFacts) => boolean
): Answer {
  const review = decodeBody(body, contentType)
  const spec = isObject(review.spec) ? review.spec : {}
  const attrs = isObject(spec.resourceAttributes) ? spec.resourceAttributes : undefined
  const facts: RequestFacts = {
    verb: String(attrs?.verb ?? ''),
    group: typeof attrs?.group === 'string' ? attrs.group : '',
    resource: typeof attrs?.resource === 'string' ? attrs.resource : undefined,
    subresource:
      typeof attrs?.subresource === 'string' && attrs.subresource ? attrs.subresource : undefined,
    namespace: typeof attrs?.namespace === 'string' && attrs.namespace ? attrs.namespace : undefined
  }
  const denied = attrs !== undefined && forbidden(facts)
  return {
    code: 201,
    body: {
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec,
      status: denied
        ? {
            allowed: false,
            reason: `denied by the sandbox: no permission to ${facts.verb} ${rbacResource(facts)}${facts.namespace ? ` in namespace ${facts.namespace}` : ''}`
          }
        : { allowed: true, reason: 'allowed by the sandbox' }
    }
  }
}

function errorAnswer(e: unknown): Answer {
  const err = e instanceof ApiError ? e : internalError(e instanceof Error ? e.message : String(e))
  return { code: err.code, body: err.status }
}

function safeName(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body)
    if (isObject(parsed) && isObject(parsed.metadata) && typeof parsed.metadata.name === 'string') {
      return parsed.metadata.name
    }
  } catch {
    return ''
  }
  return ''
}

/** The sandbox API server's state (store, faults, denials, Role, audit) and its request pipeline. */
export class SandboxApi {
  readonly store: MemoryStore
  readonly crds: CrdCatalog
  readonly handlers: ResourceHandlers
  readonly user: string
  private faults: FaultRule[] = []
  private denials: DenyRule[] = []
  private role: RoleRule[] | undefined
  private readonly log: AuditEntry[] = []
  private readonly sleep: (ms: number) => Promise<void>
  private readonly random: () => number

  constructor(options: SandboxApiOptions = {}) {
    this.store = options.store ?? new MemoryStore()
    this.crds = loadCrds()
    this.handlers = new ResourceHandlers(this.store, this.crds)
    this.user = options.user ?? DEFAULT_USER
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)))
    this.random = options.random ?? Math.random
  }

  setFaults(rules: readonly FaultRule[]): void {
    this.faults = [...rules]
  }

  setDenials(rules: readonly DenyRule[]): void {
    this.denials = [...rules]
  }

  /** Grant exactly this Role (RBAC semantics), or everything again with undefined. */
  setRole(rules: readonly RoleRule[] | undefined): void {
    this.role = rules === undefined ? undefined : structuredClone([...rules])
  }

  /** Every resource request, in order: what a Role would have to grant. */
  audit(): readonly AuditEntry[] {
    return this.log
  }

  /**
   * The events of a watch this pipeline accepted (an outcome of kind `watch`), as they come,
   * until the returned function is called; `expired` when its start is older than the history.
   */
  watch(
    request: ResourceRequest,
    emit: (type: StoreEvent['type'], obj: KubeObject) => void,
    expired: (status: Status) => void
  ): () => void {
    return watchEvents(request, this.store, this.handlers, emit, expired)
  }

  /** Whether RBAC (denials or the Role) forbids the request. */
  forbidden(facts: RequestFacts): boolean {
    return isForbidden(this.denials, this.role, facts)
  }

  /** One request through the whole pipeline; refusals come back as Status answers, never thrown. */
  async call(c: ApiCall): Promise<ApiOutcome> {
    const method = c.method
    const url = new URL(c.url, 'http://sandbox')
    const body = c.body ?? ''
    const { route, facts, info } = resolve(method, url)
    if (route.type === 'resource') {
      this.log.push({
        verb: facts.verb,
        group: route.group,
        resource: rbacResource(route),
        ...(route.namespace !== undefined ? { namespace: route.namespace } : {}),
        ...(route.name !== undefined ? { name: route.name } : {})
      })
    }

    const fault = decideFault(this.faults, facts, this.random)
    if (fault.latencyMs > 0) await this.sleep(fault.latencyMs)
    if (fault.action === 'drop') return { kind: 'drop' }
    if (fault.action === 'error500')
      return { kind: 'answer', answer: errorAnswer(internalError('the sandbox injected a fault')) }
    if (fault.action === 'error503')
      return { kind: 'answer', answer: errorAnswer(serviceUnavailable()) }
    if (fault.action === 'conflict' && info && route.type === 'resource') {
      const name = route.name ?? String(safeName(body))
      return { kind: 'answer', answer: errorAnswer(conflict(info, name)) }
    }

    if (this.forbidden(facts) && route.type === 'resource') {
      return {
        kind: 'answer',
        answer: errorAnswer(
          forbidden({
            user: this.user,
            verb: facts.verb,
            group: route.group,
            resource: route.resource,
            subresource: route.subresource,
            namespace: route.namespace,
            name: route.name
          })
        )
      }
    }
    try {
      const outcome = this.dispatch(route, facts, info, method, url, body, c)
      if (outcome.kind !== 'answer' || !info || !wantsTable(c.accept)) return outcome
      return { kind: 'answer', answer: toTable(info, outcome.answer, route, this.crds) }
    } catch (e) {
      return { kind: 'answer', answer: errorAnswer(e) }
    }
  }

  private dispatch(
    route: Route,
    facts: RequestFacts,
    info: ResourceInfo | undefined,
    method: string,
    url: URL,
    body: string,
    c: ApiCall
  ): ApiOutcome {
    const answer = (a: Answer): ApiOutcome => ({ kind: 'answer', answer: a })
    switch (route.type) {
      case 'version':
        return answer({ code: 200, body: versionInfo() })
      case 'health':
        return { kind: 'raw', code: 200, contentType: 'text/plain', body: 'ok' }
      case 'apiVersions':
        return answer({ code: 200, body: apiVersions(c.host ?? '127.0.0.1') })
      case 'groupList':
        return answer({ code: 200, body: apiGroupList() })
      case 'group': {
        const doc = apiGroupDoc(route.group)
        if (!doc) throw pathNotFound()
        return answer({ code: 200, body: doc })
      }
      case 'resourceList': {
        const doc = apiResourceList(route.group, route.version)
        if (!doc) throw pathNotFound()
        return answer({ code: 200, body: doc })
      }
      case 'openapiV2':
        // An empty protobuf document: kubectl then skips client-side validation (see openapi.ts).
        return { kind: 'raw', code: 200, contentType: 'application/octet-stream', body: '' }
      case 'openapiRoot':
        return answer({ code: 200, body: openApiRoot(this.crds) })
      case 'openapiGroupVersion': {
        const doc = openApiGroupVersion(route.group, route.version, this.crds)
        if (!doc) throw pathNotFound()
        return answer({ code: 200, body: doc })
      }
      case 'unknown':
        throw pathNotFound()
    }
    if (route.group === AUTHORIZATION_GROUP && route.resource === 'selfsubjectaccessreviews') {
      if (method !== 'POST' || route.name !== undefined) throw methodNotAllowed()
      return answer(selfSubjectAccessReview(body, c.contentType ?? '', (f) => this.forbidden(f)))
    }
    if (!info) throw pathNotFound()
    if (info.namespaced === false && route.namespace !== undefined) throw pathNotFound()
    if (info.namespaced && route.name !== undefined && route.namespace === undefined)
      throw pathNotFound()
    if (route.subresource !== undefined) {
      const known =
        (route.subresource === 'status' && info.hasStatus) ||
        (route.subresource === 'scale' && info.hasScale)
      if (!known) throw pathNotFound()
      if (!['get', 'update', 'patch'].includes(facts.verb)) throw methodNotAllowed()
    }
    const request: ResourceRequest = {
      info,
      version: route.version,
      namespace: route.namespace,
      name: route.name,
      subresource: route.subresource,
      query: url.searchParams,
      manager: url.searchParams.get('fieldManager') ?? managerFromUserAgent(c.userAgent),
      contentType: c.contentType ?? 'application/json',
      body
    }
    switch (facts.verb) {
      case 'get':
        return answer(this.handlers.get(request))
      case 'list':
        return answer(this.handlers.list(request))
      case 'watch': {
        const render = wantsTable(c.accept)
          ? (obj: KubeObject) =>
              tableOf(info, route.version, this.crds, [present(info, obj, route.version)])
          : undefined
        return { kind: 'watch', request, ...(render ? { render } : {}) }
      }
      case 'create':
        return answer(this.handlers.create(request))
      case 'update':
        return answer(this.handlers.update(request))
      case 'patch':
        return answer(this.handlers.patch(request))
      case 'delete':
        return answer(this.handlers.delete(request))
      case 'deletecollection':
        return answer(this.handlers.deleteCollection(request))
      default:
        throw methodNotAllowed()
    }
  }
}
