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
import { type AuditEntry, DEFAULT_USER, SandboxApi } from './api.js'
import { startDeploymentController } from './controller.js'
import type { Answer } from './handlers.js'
import { ApiError, internalError, unauthorized } from './status.js'
import type { MemoryStore } from './store.js'
import { SANDBOX_CERT, SANDBOX_KEY } from './tls.js'
import { type ActiveWatch, serveWatch } from './watch.js'

export { type AuditEntry, DEFAULT_USER } from './api.js'

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

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const api = new SandboxApi({ user: options.user ?? DEFAULT_USER })
  const store = api.store
  const watches = new Set<ActiveWatch>()
  const controller = startDeploymentController({
    store,
    behaviours: options.behaviours,
    delayMs: options.controllerDelayMs ?? 300,
    terminationGraceScale: options.terminationGraceScale ?? 1
  })

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req)
    if (req.headers.authorization !== `Bearer ${options.token}`)
      return sendError(res, unauthorized())
    const outcome = await api.call({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      body,
      contentType: req.headers['content-type'],
      accept: req.headers.accept,
      userAgent: req.headers['user-agent'],
      host: req.headers.host
    })
    switch (outcome.kind) {
      case 'drop':
        req.socket.destroy()
        return
      case 'raw':
        res.writeHead(outcome.code, { 'Content-Type': outcome.contentType })
        res.end(outcome.body)
        return
      case 'answer':
        return send(res, outcome.answer)
      case 'watch': {
        const w = serveWatch(
          outcome.request,
          res,
          store,
          api.handlers,
          () => watches.delete(w),
          outcome.render
        )
        watches.add(w)
        return
      }
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
    setFaults: (rules) => api.setFaults(rules),
    setDenials: (rules) => api.setDenials(rules),
    setRole: (rules) => api.setRole(rules),
    audit: () => api.audit(),
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

export type { KubeObject }
