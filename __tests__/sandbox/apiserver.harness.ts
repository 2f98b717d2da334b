/** Shared set-up for the sandbox API server tests: a server on a free port, a fetch helper, seeds. */
import {
  startApiServer,
  type ApiServer,
  type ApiServerOptions
} from '../../sandbox/apiserver/server.js'
import { BehaviourRegistry, type KubeObject, type ObjectStore } from '../../sandbox/types.js'

export interface Reply {
  status: number
  // Answers are JSON of many shapes; tests look into them field by field.
  body: Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Headers
}

export interface Harness {
  server: ApiServer
  behaviours: BehaviourRegistry
  call(
    method: string,
    path: string,
    options?: {
      body?: unknown
      contentType?: string
      token?: string
      headers?: Record<string, string>
    }
  ): Promise<Reply>
  close(): Promise<void>
}

export async function startHarness(options: Partial<ApiServerOptions> = {}): Promise<Harness> {
  const behaviours = options.behaviours ?? new BehaviourRegistry()
  // Deleted pods stay Terminating for 1% of their grace period (30 s: 300 ms) unless a test says.
  const server = await startApiServer({
    token: 't',
    controllerDelayMs: 10,
    terminationGraceScale: 0.01,
    ...options,
    behaviours
  })
  return {
    server,
    behaviours,
    async call(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers }
      if (o.token !== '') headers.Authorization = `Bearer ${o.token ?? 't'}`
      if (o.body !== undefined) headers['Content-Type'] = o.contentType ?? 'application/json'
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers,
        body:
          o.body === undefined
            ? undefined
            : typeof o.body === 'string'
              ? o.body
              : JSON.stringify(o.body)
      })
      const text = await res.text()
      let body: Reply['body']
      try {
        body = text ? (JSON.parse(text) as Reply['body']) : {}
      } catch {
        body = { text }
      }
      return { status: res.status, body, headers: res.headers }
    },
    close: () => server.close()
  }
}

export const NS = 'demo'

export function deployment(name: string, color: string, image: string, replicas = 2): KubeObject {
  const labels = { app: 'reviews', version: color }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS, labels: { app: 'reviews' } },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'app', image }] } }
    }
  }
}

export function virtualService(name = 'reviews', weights: [number, number] = [100, 0]): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace: NS },
    spec: {
      hosts: ['reviews'],
      http: [
        {
          route: [
            { destination: { host: 'reviews', subset: 'blue' }, weight: weights[0] },
            { destination: { host: 'reviews', subset: 'green' }, weight: weights[1] }
          ]
        }
      ]
    }
  }
}

export function destinationRule(name = 'reviews'): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace: NS },
    spec: {
      host: 'reviews',
      trafficPolicy: { loadBalancer: { simple: 'LEAST_CONN' } },
      subsets: [{ name: 'blue', labels: { version: 'blue' } }]
    }
  }
}

/** The demo namespace with one of everything, written in-process. */
export function seed(store: ObjectStore): void {
  store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } })
  store.create('services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'reviews', namespace: NS },
    spec: { selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080 }] }
  })
  store.create('deployments', deployment('reviews-blue', 'blue', 'reviews:1'))
  store.create('virtualservices', virtualService())
  store.create('destinationrules', destinationRule())
  store.create('leases', {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'reviews-lock', namespace: NS },
    spec: { holderIdentity: 'run-1', leaseDurationSeconds: 30 }
  })
}

export const VS_PATH = `/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices`
export const DR_PATH = `/apis/networking.istio.io/v1/namespaces/${NS}/destinationrules`
export const DEPLOY_PATH = `/apis/apps/v1/namespaces/${NS}/deployments`
export const LEASE_PATH = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`
export const SVC_PATH = `/api/v1/namespaces/${NS}/services`
export const POD_PATH = `/api/v1/namespaces/${NS}/pods`

export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 3000,
  what = 'condition'
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
