/**
 * MemoryKube: the KubeApi port in-process, over the sandbox API server's own pipeline
 * (sandbox/apiserver/api.ts): every request goes through the same path resolution, faults, RBAC,
 * validation, defaults, Istio webhook rules, patch semantics and conflicts as the HTTP sandbox,
 * as the request client-node would send, and every answer becomes what the real `Kube` makes of
 * it: an object, undefined for a 404 on get, or the KubeError that toKubeError builds from the
 * Status, retried on virtual time with the same policy. Only HTTP itself is left out.
 *
 * Like `Kube`, it refuses (UnknownKindError, before any request) the core-group calls Kube has
 * no client for, so a test cannot pass on a call the real adapter would throw on.
 */
import { STATUS_CODES } from 'node:http'
import { ApiException } from '@kubernetes/client-node'
import { FIELD_MANAGER } from '../../src/core/drift.js'
import {
  DEFAULT_RETRY,
  KubeError,
  type KubeApi,
  type KubeObject,
  type ResourceType,
  type RetryPolicy
} from '../../src/ports.js'
import {
  accessReviewForbidden,
  toKubeError,
  UnknownKindError,
  withRetry
} from '../../src/adapters/kube.js'
import type { SandboxApi } from '../../sandbox/apiserver/api.js'
import type { Clock } from '../../src/log.js'

/** The server URL messages name (an unreachable or unauthenticated server). */
export const IN_PROCESS_SERVER = 'https://sandbox.in-process'

/** Core-group kinds Kube reads, and the ones it writes (create, patch). */
const CORE_READ = new Set(['services', 'pods'])
const CORE_WRITE = new Set(['services'])

function describe(type: ResourceType, namespace: string, name?: string): string {
  const resource = type.group ? `${type.plural}.${type.group}` : type.plural
  return name
    ? `${resource} "${name}" in namespace ${namespace}`
    : `${resource} in namespace ${namespace}`
}

function path(type: ResourceType, namespace: string, name?: string): string {
  const root = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`
  return `${root}/namespaces/${encodeURIComponent(namespace)}/${type.plural}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`
}

/** What undici's fetch throws when the server closes the connection without an answer. */
function dropped(): Error {
  const cause = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })
  return new TypeError('fetch failed', { cause })
}

export interface MemoryKubeOptions {
  api: SandboxApi
  clock: Clock
  retry?: RetryPolicy
}

export class MemoryKube implements KubeApi {
  private readonly api: SandboxApi
  private readonly clock: Clock
  private readonly retry: RetryPolicy
  /** Requests sent, by verb and resource: `patch virtualservices`, for assertions. */
  readonly requests: string[] = []

  constructor(options: MemoryKubeOptions) {
    this.api = options.api
    this.clock = options.clock
    this.retry = options.retry ?? DEFAULT_RETRY
  }

  /** One request, as client-node sends it; resolves to the answer body, or throws what Kube would. */
  private async send(
    what: string,
    request: { method: string; url: string; body?: unknown; contentType?: string },
    policy = this.retry
  ): Promise<unknown> {
    const once = async (): Promise<unknown> => {
      const outcome = await this.api.call({
        method: request.method,
        url: request.url,
        ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
        contentType: request.contentType ?? 'application/json',
        accept: 'application/json',
        userAgent: 'node-fetch'
      })
      if (outcome.kind === 'drop') throw toKubeError(dropped(), what, IN_PROCESS_SERVER)
      if (outcome.kind !== 'answer') {
        throw new Error(
          `MemoryKube got a ${outcome.kind} answer to ${request.method} ${request.url}`
        )
      }
      const { code, body } = outcome.answer
      if (code >= 200 && code < 300) return JSON.parse(JSON.stringify(body)) as unknown
      throw toKubeError(
        new ApiException(code, 'error', JSON.stringify(body), {}),
        what,
        IN_PROCESS_SERVER
      )
    }
    return withRetry(
      once,
      what,
      policy,
      (ms) => this.clock.sleep(ms),
      () => this.clock.now()
    )
  }

  async get(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
    if (!type.group && !CORE_READ.has(type.plural)) throw new UnknownKindError(type, 'get')
    this.requests.push(`get ${type.plural}`)
    try {
      return (await this.send(`get ${describe(type, namespace, name)}`, {
        method: 'GET',
        url: path(type, namespace, name)
      })) as KubeObject
    } catch (error) {
      if (error instanceof KubeError && error.notFound) return undefined
      throw error
    }
  }

  async list(type: ResourceType, namespace: string, labelSelector?: string): Promise<KubeObject[]> {
    if (!type.group && !CORE_READ.has(type.plural)) throw new UnknownKindError(type, 'list')
    this.requests.push(`list ${type.plural}`)
    const query = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : ''
    const list = (await this.send(`list ${describe(type, namespace)}`, {
      method: 'GET',
      url: `${path(type, namespace)}${query}`
    })) as { items: KubeObject[] }
    return list.items
  }

  async create(type: ResourceType, namespace: string, body: KubeObject): Promise<KubeObject> {
    if (!type.group && !CORE_WRITE.has(type.plural)) throw new UnknownKindError(type, 'create')
    this.requests.push(`create ${type.plural}`)
    return (await this.send(`create ${describe(type, namespace, body.metadata.name)}`, {
      method: 'POST',
      url: `${path(type, namespace)}?fieldManager=${FIELD_MANAGER}`,
      body
    })) as KubeObject
  }

  async replace(
    type: ResourceType,
    namespace: string,
    body: KubeObject,
    policy?: RetryPolicy
  ): Promise<KubeObject> {
    if (!type.group) throw new UnknownKindError(type, 'replace')
    this.requests.push(`replace ${type.plural}`)
    const name = body.metadata.name
    return (await this.send(
      `replace ${describe(type, namespace, name)}`,
      { method: 'PUT', url: `${path(type, namespace, name)}?fieldManager=${FIELD_MANAGER}`, body },
      policy
    )) as KubeObject
  }

  async patch(
    type: ResourceType,
    namespace: string,
    name: string,
    body: unknown,
    policy?: RetryPolicy
  ): Promise<KubeObject> {
    if (!type.group && !CORE_WRITE.has(type.plural)) throw new UnknownKindError(type, 'patch')
    this.requests.push(`patch ${type.plural}`)
    return (await this.send(
      `patch ${describe(type, namespace, name)}`,
      {
        method: 'PATCH',
        url: `${path(type, namespace, name)}?fieldManager=${FIELD_MANAGER}`,
        body,
        contentType: Array.isArray(body)
          ? 'application/json-patch+json'
          : 'application/merge-patch+json'
      },
      policy
    )) as KubeObject
  }

  /**
   * A watch of one object from `resourceVersion`, through the pipeline (RBAC, faults, the store's
   * history), settled as Kube settles it: at its first event, when `signal` aborts, or with the
   * KubeError Kube makes of a refused watch (`HTTP 403 Forbidden`) or of an ERROR event (410).
   */
  nextChange(
    type: ResourceType,
    namespace: string,
    name: string,
    resourceVersion: string,
    signal: AbortSignal
  ): Promise<void> {
    const what = `watch ${describe(type, namespace, name)}`
    this.requests.push(`watch ${type.plural}`)
    const query = new URLSearchParams({
      watch: 'true',
      fieldSelector: `metadata.name=${name}`,
      resourceVersion
    })
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return resolve()
      let stop: (() => void) | undefined
      let settled = false
      const settle = (error?: KubeError): void => {
        if (settled) return
        settled = true
        stop?.()
        signal.removeEventListener('abort', aborted)
        if (error) reject(error)
        else resolve()
      }
      const aborted = (): void => settle()
      signal.addEventListener('abort', aborted, { once: true })
      void this.api.call({ method: 'GET', url: `${path(type, namespace)}?${query}` }).then(
        (outcome) => {
          if (settled) return
          if (outcome.kind === 'drop')
            return settle(toKubeError(dropped(), what, IN_PROCESS_SERVER))
          if (outcome.kind !== 'watch') {
            const code = outcome.kind === 'answer' ? outcome.answer.code : outcome.code
            return settle(
              new KubeError(
                code,
                `HTTP${code}`,
                `${what}: HTTP ${code} ${STATUS_CODES[code] ?? ''}`
              )
            )
          }
          stop = this.api.watch(
            outcome.request,
            () => settle(),
            (status) =>
              settle(
                new KubeError(
                  status.code,
                  status.reason ?? `HTTP${status.code}`,
                  `${what}: ${status.message ?? `HTTP ${status.code}`}`
                )
              )
          )
          if (settled) stop()
        },
        (error: unknown) => settle(toKubeError(error, what, IN_PROCESS_SERVER))
      )
    })
  }

  async servedVersions(group: string): Promise<string[]> {
    const list = (await this.send('read API discovery (/apis)', {
      method: 'GET',
      url: '/apis'
    })) as { groups: Array<{ name: string; versions: Array<{ version: string }> }> }
    const found = list.groups.find((g) => g.name === group)
    return found ? found.versions.map((v) => v.version) : []
  }

  async canI(
    verb: string,
    group: string,
    resource: string,
    namespace: string
  ): Promise<{ allowed: boolean; reason?: string }> {
    try {
      const review = (await this.send(`check permission to ${verb} ${resource}`, {
        method: 'POST',
        url: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { verb, group, resource, namespace } }
        }
      })) as { status?: { allowed?: boolean; reason?: string } }
      return { allowed: review.status?.allowed === true, reason: review.status?.reason }
    } catch (error) {
      if (error instanceof KubeError && error.code === 403) throw accessReviewForbidden(error)
      throw error
    }
  }
}
