/**
 * The sandbox's Kubernetes API server: plain HTTP on loopback with bearer-token auth, serving the
 * resources in resources.ts with kube-apiserver's semantics, discovery, SelfSubjectAccessReview,
 * injected faults and RBAC-like denials, and the deployment controller simulator behind it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import type {
  BehaviourRegistry,
  DenyRule,
  FaultRule,
  KubeObject,
  ObjectStore,
  RoleRule
} from '../types.js'
import { startDeploymentController } from './controller.js'
import { loadCrds } from './crds.js'
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
  unauthorized
} from './status.js'
import { MemoryStore } from './store.js'
import { tableOf, toTable, wantsTable } from './table.js'
import { SANDBOX_CERT, SANDBOX_KEY } from './tls.js'
import { type ActiveWatch, serveWatch } from './watch.js'

export interface ApiServerOptions {
  /** 0 or absent: a free loopback port on 127.0.0.1. */
  port?: number
  /** Bearer token required on every request (401 Unauthorized otherwise). */
  token: string
  /** Image behaviours; the deployment controller reads pod readiness from them. */
  behaviours: BehaviourRegistry
  /** Delay before the deployment controller reacts to a change (default 300 ms). */
  controllerDelayMs?: number
  /**
   * How much of its grace period a deleted pod stays Terminating before it is gone: 1 (the
   * default) is real time, 30 s unless the pod says otherwise; 0.01 makes that 300 ms.
   */
  terminationGraceScale?: number
  /** The user the token stands for, as named in Forbidden messages. */
  user?: string
}

export interface ApiServer {
  /** e.g. http://127.0.0.1:43123 */
  url: string
  /**
   * The same port spoken over TLS (https://127.0.0.1:43123), for clients such as kubectl that
   * send a bearer token only over TLS. Trust it with `caData`.
   */
  httpsUrl: string
  /** Base64 PEM of the sandbox's self-signed certificate (kubeconfig certificate-authority-data). */
  caData: string
  token: string
  /** A kubeconfig for httpsUrl with the token, current context on `namespace` if given. */
  kubeconfig(namespace?: string): string
  /** In-process store: writes through it bypass auth and faults. */
  store: ObjectStore & MemoryStore
  setFaults(rules: FaultRule[]): void
  setDenials(rules: DenyRule[]): void
  /**
   * Grant the token exactly this Role (RBAC semantics), or everything again with undefined.
   * SelfSubjectAccessReviews answer by it too.
   */
  setRole(rules: RoleRule[] | undefined): void
  /** Every authenticated request to a resource, in order: what a Role would have to grant. */
  audit(): readonly AuditEntry[]
  /** Stop the HTTP server (open connections and watches included) and the controller. */
  close(): Promise<void>
}

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

export const DEFAULT_USER = 'system:serviceaccount:ci:deployer'

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

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolveBody(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function send(res: ServerResponse, answer: Answer): void {
  if (res.headersSent) return
  const headers: Record<string, string | string[]> = { 'Content-Type': 'application/json' }
  if (answer.warnings && answer.warnings.length > 0) {
    headers.Warning = answer.warnings.map((w) => `299 - ${JSON.stringify(w)}`)
  }
  res.writeHead(answer.code, headers)
  res.end(JSON.stringify(answer.body))
}

function sendError(res: ServerResponse, e: unknown): void {
  const err = e instanceof ApiError ? e : internalError(e instanceof Error ? e.message : String(e))
  send(res, { code: err.code, body: err.status })
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

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const store = new MemoryStore()
  const crds = loadCrds()
  const handlers = new ResourceHandlers(store, crds)
  const user = options.user ?? DEFAULT_USER
  let faults: FaultRule[] = []
  let denials: DenyRule[] = []
  let role: RoleRule[] | undefined
  const audit: AuditEntry[] = []
  const forbiddenNow = (facts: RequestFacts): boolean => isForbidden(denials, role, facts)
  const watches = new Set<ActiveWatch>()
  const controller = startDeploymentController({
    store,
    behaviours: options.behaviours,
    delayMs: options.controllerDelayMs ?? 300,
    terminationGraceScale: options.terminationGraceScale ?? 1
  })

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET'
    const url = new URL(req.url ?? '/', 'http://sandbox')
    const body = await readBody(req)
    if (req.headers.authorization !== `Bearer ${options.token}`)
      return sendError(res, unauthorized())
    const { route, facts, info } = resolve(method, url)
    if (route.type === 'resource') {
      audit.push({
        verb: facts.verb,
        group: route.group,
        resource: rbacResource(route),
        ...(route.namespace !== undefined ? { namespace: route.namespace } : {}),
        ...(route.name !== undefined ? { name: route.name } : {})
      })
    }

    const fault = decideFault(faults, facts)
    if (fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs))
    if (fault.action === 'drop') {
      req.socket.destroy()
      return
    }
    if (fault.action === 'error500')
      return sendError(res, internalError('the sandbox injected a fault'))
    if (fault.action === 'error503') return sendError(res, serviceUnavailable())
    if (fault.action === 'conflict' && info && route.type === 'resource') {
      const name = route.name ?? String(safeName(body))
      return sendError(res, conflict(info, name))
    }

    if (forbiddenNow(facts) && route.type === 'resource') {
      return sendError(
        res,
        forbidden({
          user,
          verb: facts.verb,
          group: route.group,
          resource: route.resource,
          subresource: route.subresource,
          namespace: route.namespace,
          name: route.name
        })
      )
    }
    const answer = dispatch(route, facts, info, method, url, body, req, res)
    if (answer) {
      const table =
        wantsTable(req.headers.accept) && info ? toTable(info, answer, route, crds) : answer
      send(res, table)
    }
  }

  const dispatch = (
    route: Route,
    facts: RequestFacts,
    info: ResourceInfo | undefined,
    method: string,
    url: URL,
    body: string,
    req: IncomingMessage,
    res: ServerResponse
  ): Answer | undefined => {
    const host = req.headers.host ?? '127.0.0.1'
    switch (route.type) {
      case 'version':
        return { code: 200, body: versionInfo() }
      case 'health':
        res.writeHead(200, { 'Content-Type': 'text/plain' })
        res.end('ok')
        return undefined
      case 'apiVersions':
        return { code: 200, body: apiVersions(host) }
      case 'groupList':
        return { code: 200, body: apiGroupList() }
      case 'group': {
        const doc = apiGroupDoc(route.group)
        if (!doc) throw pathNotFound()
        return { code: 200, body: doc }
      }
      case 'resourceList': {
        const doc = apiResourceList(route.group, route.version)
        if (!doc) throw pathNotFound()
        return { code: 200, body: doc }
      }
      case 'openapiV2':
        // An empty protobuf document: kubectl then skips client-side validation (see openapi.ts).
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' })
        res.end()
        return undefined
      case 'openapiRoot':
        return { code: 200, body: openApiRoot(crds) }
      case 'openapiGroupVersion': {
        const doc = openApiGroupVersion(route.group, route.version, crds)
        if (!doc) throw pathNotFound()
        return { code: 200, body: doc }
      }
      case 'unknown':
        throw pathNotFound()
    }
    if (route.group === AUTHORIZATION_GROUP && route.resource === 'selfsubjectaccessreviews') {
      if (method !== 'POST' || route.name !== undefined) throw methodNotAllowed()
      return selfSubjectAccessReview(body, String(req.headers['content-type'] ?? ''), forbiddenNow)
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
      manager:
        url.searchParams.get('fieldManager') ?? managerFromUserAgent(req.headers['user-agent']),
      contentType: String(req.headers['content-type'] ?? 'application/json'),
      body
    }
    switch (facts.verb) {
      case 'get':
        return handlers.get(request)
      case 'list':
        return handlers.list(request)
      case 'watch': {
        const render = wantsTable(req.headers.accept)
          ? (obj: KubeObject) =>
              tableOf(info, route.version, crds, [present(info, obj, route.version)])
          : undefined
        const w = serveWatch(request, res, store, handlers, () => watches.delete(w), render)
        watches.add(w)
        return undefined
      }
      case 'create':
        return handlers.create(request)
      case 'update':
        return handlers.update(request)
      case 'patch':
        return handlers.patch(request)
      case 'delete':
        return handlers.delete(request)
      case 'deletecollection':
        return handlers.deleteCollection(request)
      default:
        throw methodNotAllowed()
    }
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((e: unknown) => sendError(res, e))
  }
  const plain = createServer(onRequest)
  const secure = createHttpsServer({ cert: SANDBOX_CERT, key: SANDBOX_KEY }, onRequest)
  const sockets = new Set<Socket>()
  // One port for both: a TLS ClientHello starts with byte 0x16, plain HTTP with a method name.
  const front = createNetServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.once('data', (first: Buffer) => {
      socket.pause()
      socket.unshift(first)
      ;(first[0] === 0x16 ? secure : plain).emit('connection', socket)
      process.nextTick(() => socket.resume())
    })
  })
  await new Promise<void>((resolveListen, reject) => {
    front.once('error', reject)
    front.listen(options.port ?? 0, '127.0.0.1', () => resolveListen())
  })
  const { port } = front.address() as AddressInfo
  const httpsUrl = `https://127.0.0.1:${port}`
  const caData = Buffer.from(SANDBOX_CERT).toString('base64')

  return {
    url: `http://127.0.0.1:${port}`,
    httpsUrl,
    caData,
    token: options.token,
    kubeconfig: (namespace) => kubeconfigYaml(httpsUrl, caData, options.token, namespace),
    store,
    setFaults(rules) {
      faults = [...rules]
    },
    setDenials(rules) {
      denials = [...rules]
    },
    setRole(rules) {
      role = rules === undefined ? undefined : structuredClone(rules)
    },
    audit: () => audit,
    async close() {
      controller.stop()
      for (const w of [...watches]) w.stop()
      const closed = new Promise<void>((resolveClose) => front.close(() => resolveClose()))
      for (const socket of sockets) socket.destroy()
      await closed
    }
  }
}

function kubeconfigYaml(server: string, caData: string, token: string, namespace?: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: sandbox',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${caData}`,
    'users:',
    '- name: sandbox',
    '  user:',
    `    token: ${JSON.stringify(token)}`,
    'contexts:',
    '- name: sandbox',
    '  context:',
    '    cluster: sandbox',
    '    user: sandbox',
    ...(namespace ? [`    namespace: ${namespace}`] : []),
    'current-context: sandbox',
    ''
  ].join('\n')
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

export type { KubeObject }
