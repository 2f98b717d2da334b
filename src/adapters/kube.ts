/**
 * The Kubernetes API through @kubernetes/client-node, on raw JSON objects so that a read-modify-
 * write never drops a field the client library does not know. Errors become KubeError with the
 * API server's status code, reason and message; transient failures are retried with capped
 * exponential backoff and jitter.
 */
import { connectionKey } from '../core/connections.js'
import { FIELD_MANAGER } from '../core/drift.js'
import { INVALID_CERTIFICATE, UNTRUSTED_CA } from './tls.js'
import {
  ApiException,
  ApisApi,
  AuthorizationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  Observable,
  type ObservableMiddleware,
  PatchStrategy,
  type RequestContext,
  setHeaderOptions,
  type V1Service,
  Watch
} from '@kubernetes/client-node'
import {
  DEFAULT_RETRY,
  KubeError,
  type KubeApi,
  type KubeObject,
  type ResourceType,
  type RetryPolicy
} from '../ports.js'

// The port's shapes, for the adapters and tests that import them from here.
export {
  DEFAULT_RETRY,
  DEPLOYMENTS,
  KubeError,
  LEASES,
  PODS,
  ROLLBACK_RETRY,
  SERVICES,
  type KubeApi,
  type KubeObject,
  type ResourceType,
  type RetryPolicy
} from '../ports.js'

/**
 * A call Kube does not have: reading a core-group kind other than Service and Pod, or writing a
 * core-group kind other than creating and patching a Service (the Gateway API router's per-color
 * Services). Thrown before any request, never retried.
 */
export class UnknownKindError extends Error {
  constructor(type: ResourceType, operation: string) {
    super(
      `Kube cannot ${operation} ${type.kind} (${type.plural}, core group): core-group objects go through CoreV1Api, where Kube reads Services and Pods and only creates and patches Services; add the call for ${type.plural} to src/adapters/kube.ts`
    )
    this.name = 'UnknownKindError'
  }
}

interface StatusBody {
  reason?: string
  message?: string
}

function parseStatus(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody
    } catch {
      return { message: body.slice(0, 200) }
    }
  }
  return (body ?? {}) as StatusBody
}

/**
 * Turn whatever client-node threw into a KubeError whose message says what went wrong and what
 * to do, without request headers. `server` (the API server's URL) names where access failed.
 */
export function toKubeError(error: unknown, what: string, server?: string): KubeError {
  if (error instanceof KubeError) return error
  const at = server ? `the Kubernetes API server at ${server}` : 'the API server'
  if (error instanceof ApiException) {
    if (error.code === 401) {
      return new KubeError(
        401,
        'Unauthorized',
        `${at} rejected the kubeconfig's credentials (401 Unauthorized): its token or client certificate is invalid or expired; give a kubeconfig with current credentials`
      )
    }
    const status = parseStatus(error.body)
    return new KubeError(
      error.code,
      status.reason ?? `HTTP${error.code}`,
      `${what}: ${status.message ?? `HTTP ${error.code}`}`
    )
  }
  const cause = error instanceof Error ? error : new Error(String(error))
  if (cause.name === 'TimeoutError' || cause.name === 'AbortError') {
    return new KubeError(0, 'Unreachable', `${what}: ${at} did not answer in time`, { cause })
  }
  const root = cause.cause instanceof Error ? cause.cause : undefined
  const code = (root as { code?: unknown } | undefined)?.code
  const detail = root?.message ?? cause.message
  if (typeof code === 'string' && (UNTRUSTED_CA.has(code) || INVALID_CERTIFICATE.has(code))) {
    // Node's own hint (run Node.js with --use-system-ca) is no help inside an action.
    const reason = detail.split(';')[0]
    const todo = UNTRUSTED_CA.has(code)
      ? "put the cluster's CA certificate in the kubeconfig (certificate-authority-data of the cluster)"
      : code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? "use a server address the certificate names, or set the cluster's tls-server-name in the kubeconfig"
        : "the API server's certificate is outside its validity period: renew it, or check the runner's clock"
    return new KubeError(
      0,
      'UntrustedCertificate',
      `${at} presented a certificate this runner does not trust (${reason}): ${todo}`,
      { cause }
    )
  }
  return new KubeError(
    0,
    'Unreachable',
    `${what}: cannot reach ${at} (${detail}); check the kubeconfig's server address and that this runner can reach it`,
    { cause }
  )
}

/**
 * What a 403 on creating a SelfSubjectAccessReview means: the credential cannot even ask what it
 * may do, which preflight needs; and what to grant.
 */
export function accessReviewForbidden(cause: KubeError): KubeError {
  return new KubeError(
    403,
    'Forbidden',
    `this credential cannot create selfsubjectaccessreviews.authorization.k8s.io, which preflight needs to check its permissions; every authenticated user may by default (ClusterRole system:basic-user): bind that ClusterRole to it, or the ClusterRole in the README ("Permissions")`,
    { cause }
  )
}

/** client-node's Watch reports a refused watch as an Error with the HTTP status in `statusCode`. */
function watchError(error: unknown, what: string, server: string | undefined): KubeError {
  const code = (error as { statusCode?: unknown }).statusCode
  if (typeof code === 'number') {
    return new KubeError(code, `HTTP${code}`, `${what}: HTTP ${code} ${(error as Error).message}`)
  }
  return toKubeError(error, what, server)
}

/** Backoff before retry number `attempt` (1-based): capped, doubled, jittered ±50%. */
export function backoff(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1))
  return delay * (0.5 + random())
}

/**
 * Run `fn`, retrying transient failures (429, 5xx, timeouts, dropped connections) with capped
 * exponential backoff and jitter, within the policy's attempts and time budget.
 */
export async function withRetry<T>(
  fn: () => Promise<T>,
  what: string,
  policy: RetryPolicy = DEFAULT_RETRY,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  now: () => number = Date.now
): Promise<T> {
  const started = now()
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (error) {
      const e = toKubeError(error, what)
      const delay = backoff(policy, attempt)
      const outOfTime = now() + delay - started > policy.budgetMs
      if (!e.transient || attempt >= policy.attempts || outOfTime) throw e
      await sleep(delay)
    }
  }
}

export interface KubeOptions {
  /** Kubeconfig file content; when absent KUBECONFIG, ~/.kube/config or in-cluster config. */
  kubeconfig?: string
  context?: string
  /** Per-request timeout. */
  requestTimeoutMs?: number
  retry?: RetryPolicy
}

/** Load a kubeconfig as the action's inputs describe it. */
export function loadKubeConfig(options: Pick<KubeOptions, 'kubeconfig' | 'context'>): KubeConfig {
  const kc = new KubeConfig()
  const source =
    options.kubeconfig !== undefined
      ? 'input "kubeconfig"'
      : process.env.KUBECONFIG
        ? `the file(s) in KUBECONFIG (${process.env.KUBECONFIG})`
        : '~/.kube/config or the in-cluster service account'
  try {
    if (options.kubeconfig !== undefined) kc.loadFromString(options.kubeconfig)
    else kc.loadFromDefault()
  } catch (error) {
    // The parser's message may quote the file, which can hold credentials: keep its first line only.
    const why = (error as Error).message.split('\n')[0]
    // eslint-disable-next-line preserve-caught-error -- the cause would carry the file's text
    throw new Error(
      `could not read the kubeconfig from ${source}: ${why}; give the content of a kubeconfig file`
    )
  }
  if (options.context !== undefined) {
    if (!kc.getContextObject(options.context)) {
      const known = kc.getContexts().map((c) => c.name)
      throw new Error(
        `input "context": the kubeconfig has no context "${options.context}" (it has: ${known.join(', ') || 'none'})`
      )
    }
    kc.setCurrentContext(options.context)
  }
  if (!kc.getCurrentCluster()) {
    throw new Error(
      `the kubeconfig from ${source} has no current context with a cluster: set current-context in it, or give input "context"`
    )
  }
  return kc
}

/** A typed client-node model as plain JSON (dates become strings, as on the wire). */
function plain(model: object): KubeObject {
  return JSON.parse(JSON.stringify(model)) as KubeObject
}

function describe(type: ResourceType, namespace: string, name?: string): string {
  const resource = type.group ? `${type.plural}.${type.group}` : type.plural
  return name
    ? `${resource} "${name}" in namespace ${namespace}`
    : `${resource} in namespace ${namespace}`
}

/** Generic, retried access to namespaced objects as raw JSON. */
export class Kube implements KubeApi {
  private readonly custom: CustomObjectsApi
  private readonly authz: AuthorizationV1Api
  private readonly coreApi: CoreV1Api
  private readonly apis: ApisApi
  private readonly timeoutMs: number
  private readonly retry: RetryPolicy
  /**
   * client-node gives every request of a cluster with its own CA or client certificate (nearly
   * every cluster) a new undici Agent, so a new TLS connection and handshake each time. The first
   * Agent made for a connection key is kept here and given to every later request with that key:
   * they share its keep-alive connections.
   */
  private readonly connections = new Map<
    string,
    NonNullable<ReturnType<RequestContext['getDispatcher']>>
  >()

  constructor(
    readonly config: KubeConfig,
    options: Pick<KubeOptions, 'requestTimeoutMs' | 'retry'> = {}
  ) {
    this.custom = config.makeApiClient(CustomObjectsApi)
    this.authz = config.makeApiClient(AuthorizationV1Api)
    this.coreApi = config.makeApiClient(CoreV1Api)
    this.apis = config.makeApiClient(ApisApi)
    this.timeoutMs = options.requestTimeoutMs ?? 15_000
    this.retry = options.retry ?? DEFAULT_RETRY
  }

  /** Namespace of the current context, if it names one. */
  contextNamespace(): string | undefined {
    const name = this.config.getCurrentContext()
    return this.config.getContextObject(name)?.namespace
  }

  /** Per-request options: a timeout on every request, and the patch content type. */
  private options(contentType?: string) {
    const timeout: ObservableMiddleware = {
      pre: (ctx) => {
        ctx.setSignal(AbortSignal.timeout(this.timeoutMs))
        this.share(ctx)
        return new Observable(Promise.resolve(ctx))
      },
      post: (ctx) => new Observable(Promise.resolve(ctx))
    }
    const base = { middleware: [timeout], middlewareMergeStrategy: 'append' as const }
    return contentType ? setHeaderOptions('Content-Type', contentType, base) : base
  }

  /** Give the request the connections of earlier requests with the same key (see connections). */
  private share(ctx: RequestContext): void {
    const made = ctx.getDispatcher()
    if (!made) return
    const key = connectionKey(
      this.config.getCurrentCluster(),
      this.config.getCurrentUser(),
      ctx.getHeaders()['Authorization']
    )
    if (key === undefined) return
    const kept = this.connections.get(key)
    if (kept) ctx.setDispatcher(kept)
    else this.connections.set(key, made)
  }

  private async call<T>(what: string, fn: () => Promise<T>, policy = this.retry): Promise<T> {
    const server = this.config.getCurrentCluster()?.server
    return withRetry(
      () =>
        fn().catch((error: unknown) => {
          throw toKubeError(error, what, server)
        }),
      what,
      policy
    )
  }

  async get(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
    const what = `get ${describe(type, namespace, name)}`
    const read = type.group
      ? () =>
          this.custom.getNamespacedCustomObject(
            { ...this.ref(type, namespace, 'get'), name },
            this.options()
          ) as Promise<KubeObject>
      : this.coreRead(type, namespace, name)
    try {
      return await this.call(what, read)
    } catch (error) {
      const e = toKubeError(error, what)
      if (e.notFound) return undefined
      throw e
    }
  }

  async list(type: ResourceType, namespace: string, labelSelector?: string): Promise<KubeObject[]> {
    const what = `list ${describe(type, namespace)}`
    if (!type.group) {
      const list = await this.call(what, this.coreList(type, namespace, labelSelector))
      return list.items.map(plain)
    }
    const ref = this.ref(type, namespace, 'list')
    const list = (await this.call(what, () =>
      this.custom.listNamespacedCustomObject(
        { ...ref, ...(labelSelector ? { labelSelector } : {}) },
        this.options()
      )
    )) as { items: KubeObject[] }
    return list.items
  }

  async create(type: ResourceType, namespace: string, body: KubeObject): Promise<KubeObject> {
    const what = `create ${describe(type, namespace, body.metadata.name)}`
    if (!type.group) return this.call(what, this.coreCreate(type, namespace, body))
    const ref = this.ref(type, namespace, 'create')
    return (await this.call(what, () =>
      this.custom.createNamespacedCustomObject(
        { ...ref, body, fieldManager: FIELD_MANAGER },
        this.options()
      )
    )) as KubeObject
  }

  /** PUT: fails with a conflict when body.metadata.resourceVersion is stale. */
  async replace(
    type: ResourceType,
    namespace: string,
    body: KubeObject,
    policy?: RetryPolicy
  ): Promise<KubeObject> {
    const name = body.metadata.name
    const ref = this.ref(type, namespace, 'replace')
    return (await this.call(
      `replace ${describe(type, namespace, name)}`,
      () =>
        this.custom.replaceNamespacedCustomObject(
          { ...ref, name, body, fieldManager: FIELD_MANAGER },
          this.options()
        ),
      policy
    )) as KubeObject
  }

  /** PATCH with a JSON Patch (array) or a merge patch (object). */
  async patch(
    type: ResourceType,
    namespace: string,
    name: string,
    body: unknown,
    policy?: RetryPolicy
  ): Promise<KubeObject> {
    const strategy = Array.isArray(body) ? PatchStrategy.JsonPatch : PatchStrategy.MergePatch
    const what = `patch ${describe(type, namespace, name)}`
    if (!type.group)
      return this.call(what, this.corePatch(type, namespace, name, body, strategy), policy)
    const ref = this.ref(type, namespace, 'patch')
    return (await this.call(
      what,
      () =>
        this.custom.patchNamespacedCustomObject(
          { ...ref, name, body, fieldManager: FIELD_MANAGER },
          this.options(strategy)
        ),
      policy
    )) as KubeObject
  }

  /**
   * Resolves at the first change of one object after `resourceVersion` (a watch on its name), or
   * as soon as `signal` aborts. A watch the server ends without an event is opened again from the
   * same version. Rejects with a KubeError when the watch is refused or fails (410 Expired: the
   * version is too old to watch from; read the object again).
   */
  nextChange(
    type: ResourceType,
    namespace: string,
    name: string,
    resourceVersion: string,
    signal: AbortSignal
  ): Promise<void> {
    const what = `watch ${describe(type, namespace, name)}`
    const server = this.config.getCurrentCluster()?.server
    const path = `${type.group ? `/apis/${type.group}` : '/api'}/${type.version}/namespaces/${namespace}/${type.plural}`
    const query = { fieldSelector: `metadata.name=${name}`, resourceVersion }
    return new Promise<void>((resolve, reject) => {
      let watching: AbortController | undefined
      let settled = false
      const settle = (error?: KubeError): void => {
        if (settled) return
        settled = true
        signal.removeEventListener('abort', aborted)
        watching?.abort()
        if (error) reject(error)
        else resolve()
      }
      const aborted = (): void => settle()
      signal.addEventListener('abort', aborted, { once: true })
      const open = (): void => {
        if (settled) return
        void new Watch(this.config)
          .watch(
            path,
            query,
            (type, object: StatusBody & { code?: number }) => {
              if (type === 'ERROR') {
                const code = object.code ?? 500
                settle(
                  new KubeError(
                    code,
                    object.reason ?? `HTTP${code}`,
                    `${what}: ${object.message ?? `HTTP ${code}`}`
                  )
                )
              } else if (type !== 'BOOKMARK') settle()
            },
            (error: unknown) => {
              if (settled) return
              // The server closed the watch, or it sat idle past client-node's inactivity limit:
              // nothing changed, so watch again.
              if (!error || (error instanceof Error && error.name === 'TimeoutError')) open()
              else settle(watchError(error, what, server))
            }
          )
          .then((controller) => {
            watching = controller
            if (settled) controller.abort()
          })
      }
      if (signal.aborted) settle()
      else open()
    })
  }

  /** Versions the API server serves for an API group (discovery); [] when the group is absent. */
  async servedVersions(group: string): Promise<string[]> {
    const list = await this.call('read API discovery (/apis)', () =>
      this.apis.getAPIVersions(this.options())
    )
    const found = list.groups.find((g) => g.name === group)
    return found ? found.versions.map((v) => v.version) : []
  }

  /** Whether the current user may do `verb` on `resource` in `namespace` (SelfSubjectAccessReview). */
  async canI(
    verb: string,
    group: string,
    resource: string,
    namespace: string
  ): Promise<{ allowed: boolean; reason?: string }> {
    const review = await this.call(`check permission to ${verb} ${resource}`, () =>
      this.authz.createSelfSubjectAccessReview(
        {
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: { resourceAttributes: { verb, group, resource, namespace } }
          }
        },
        this.options()
      )
    ).catch((error: unknown) => {
      if (error instanceof KubeError && error.code === 403) throw accessReviewForbidden(error)
      throw error
    })
    return { allowed: review.status?.allowed === true, reason: review.status?.reason }
  }

  /**
   * Core-group objects (read-only for the action) go through CoreV1Api, since CustomObjectsApi
   * addresses /apis only. Chosen before any request: a kind without a call throws at once.
   */
  private coreRead(type: ResourceType, namespace: string, name: string): () => Promise<KubeObject> {
    switch (type.plural) {
      case 'services':
        return async () =>
          plain(await this.coreApi.readNamespacedService({ name, namespace }, this.options()))
      case 'pods':
        return async () =>
          plain(await this.coreApi.readNamespacedPod({ name, namespace }, this.options()))
      default:
        throw new UnknownKindError(type, 'get')
    }
  }

  private coreList(
    type: ResourceType,
    namespace: string,
    labelSelector?: string
  ): () => Promise<{ items: object[] }> {
    const param = { namespace, ...(labelSelector ? { labelSelector } : {}) }
    switch (type.plural) {
      case 'services':
        return () => this.coreApi.listNamespacedService(param, this.options())
      case 'pods':
        return () => this.coreApi.listNamespacedPod(param, this.options())
      default:
        throw new UnknownKindError(type, 'list')
    }
  }

  /**
   * Core-group writes: Services only (the per-color Services of the Gateway API router). Chosen
   * before any request, as reads are.
   */
  private coreCreate(
    type: ResourceType,
    namespace: string,
    body: KubeObject
  ): () => Promise<KubeObject> {
    switch (type.plural) {
      case 'services':
        return async () =>
          plain(
            await this.coreApi.createNamespacedService(
              { namespace, body: body as V1Service, fieldManager: FIELD_MANAGER },
              this.options()
            )
          )
      default:
        throw new UnknownKindError(type, 'create')
    }
  }

  private corePatch(
    type: ResourceType,
    namespace: string,
    name: string,
    body: unknown,
    strategy: string
  ): () => Promise<KubeObject> {
    switch (type.plural) {
      case 'services':
        return async () =>
          plain(
            await this.coreApi.patchNamespacedService(
              { name, namespace, body: body as object, fieldManager: FIELD_MANAGER },
              this.options(strategy)
            )
          )
      default:
        throw new UnknownKindError(type, 'patch')
    }
  }

  /** Where CustomObjectsApi finds a kind of an API group; core-group kinds are not there. */
  private ref(type: ResourceType, namespace: string, operation: string) {
    if (!type.group) throw new UnknownKindError(type, operation)
    return { group: type.group, version: type.version, plural: type.plural, namespace }
  }
}
