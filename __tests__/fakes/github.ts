/**
 * A loopback stand-in for the three GitHub REST endpoints the action calls: commit statuses,
 * deployments and deployment statuses. It records every request in order and answers the way
 * GitHub does, including the 401, 403, 404 and 422 bodies, so the action's handling of refusals
 * is tested against the real shapes. Run the built action with GITHUB_API_URL=<url>.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export type FakeGitHubKind = 'statuses' | 'deployments' | 'deployment_statuses' | 'other'

export interface FakeGitHubRequest {
  kind: FakeGitHubKind
  method: string
  /** Path without the query string, e.g. `/repos/acme/shop/statuses/abc123`. */
  path: string
  /** The parsed JSON body; `{}` when there was none or it was not JSON. */
  body: Record<string, unknown>
  /** Whether an Authorization header came (its value is never kept). */
  authorized: boolean
  /** The status code the fake answered with. */
  status: number
}

export interface FakeGitHub {
  url: string
  /** Every request, in arrival order. */
  requests: FakeGitHubRequest[]
  /** Answer 403 "Resource not accessible by integration" to every later call of this kind. */
  deny(kind: Exclude<FakeGitHubKind, 'other'>): void
  close(): Promise<void>
}

const DOCS = 'https://docs.github.com/rest'
const COMMIT_STATES = ['error', 'failure', 'pending', 'success']
const DEPLOYMENT_STATES = [
  'error',
  'failure',
  'inactive',
  'in_progress',
  'queued',
  'pending',
  'success'
]
const MAX_DESCRIPTION = 140

interface Route {
  kind: FakeGitHubKind
  deploymentId?: number
}

function route(method: string, path: string): Route {
  if (method !== 'POST') return { kind: 'other' }
  if (/^\/repos\/[^/]+\/[^/]+\/statuses\/[^/]+$/.test(path)) return { kind: 'statuses' }
  if (/^\/repos\/[^/]+\/[^/]+\/deployments$/.test(path)) return { kind: 'deployments' }
  const m = /^\/repos\/[^/]+\/[^/]+\/deployments\/(\d+)\/statuses$/.exec(path)
  if (m) return { kind: 'deployment_statuses', deploymentId: Number(m[1]) }
  return { kind: 'other' }
}

function parseBody(text: string): Record<string, unknown> {
  if (text === '') return {}
  try {
    const parsed: unknown = JSON.parse(text)
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {}
  } catch {
    return {}
  }
}

/** GitHub's 422 for a field it rejects. */
function invalid(resource: string, field: string, message: string) {
  return {
    status: 422,
    json: {
      message: 'Validation Failed',
      errors: [{ resource, field, code: 'custom', message }],
      documentation_url: DOCS
    }
  }
}

/** The checks GitHub makes that the action could get wrong: states and description lengths. */
function validate(kind: FakeGitHubKind, body: Record<string, unknown>) {
  const description = body.description
  if (typeof description === 'string' && [...description].length > MAX_DESCRIPTION)
    return invalid(
      kind === 'statuses' ? 'Status' : kind === 'deployments' ? 'Deployment' : 'DeploymentStatus',
      'description',
      `description is too long (maximum is ${MAX_DESCRIPTION} characters)`
    )
  if (kind === 'statuses' && !COMMIT_STATES.includes(String(body.state)))
    return invalid('Status', 'state', `state is not included in the list`)
  if (kind === 'deployment_statuses' && !DEPLOYMENT_STATES.includes(String(body.state)))
    return invalid('DeploymentStatus', 'state', `state is not included in the list`)
  if (kind === 'deployments' && (typeof body.ref !== 'string' || body.ref === ''))
    return invalid('Deployment', 'ref', 'ref is missing')
  return undefined
}

export async function startFakeGitHub(): Promise<FakeGitHub> {
  const requests: FakeGitHubRequest[] = []
  const denied = new Set<FakeGitHubKind>()
  const deployments = new Set<number>()
  let nextId = 1001

  function answer(
    route: Route,
    body: Record<string, unknown>,
    authorized: boolean
  ): { status: number; json: unknown } {
    if (route.kind === 'other')
      return { status: 404, json: { message: 'Not Found', documentation_url: DOCS } }
    if (!authorized)
      return { status: 401, json: { message: 'Requires authentication', documentation_url: DOCS } }
    if (denied.has(route.kind))
      return {
        status: 403,
        json: { message: 'Resource not accessible by integration', documentation_url: DOCS }
      }
    if (route.deploymentId !== undefined && !deployments.has(route.deploymentId))
      return { status: 404, json: { message: 'Not Found', documentation_url: DOCS } }
    const rejected = validate(route.kind, body)
    if (rejected) return rejected
    const id = nextId++
    const created_at = new Date().toISOString()
    if (route.kind === 'deployments') {
      deployments.add(id)
      return { status: 201, json: { id, ...body, created_at } }
    }
    if (route.kind === 'deployment_statuses')
      return { status: 201, json: { id, deployment_id: route.deploymentId, ...body, created_at } }
    return { status: 201, json: { id, ...body, created_at } }
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const method = req.method ?? 'GET'
      const path = new URL(req.url ?? '/', 'http://fake').pathname
      const body = parseBody(Buffer.concat(chunks).toString('utf8'))
      const authorized = typeof req.headers.authorization === 'string'
      const r = route(method, path)
      const { status, json } = answer(r, body, authorized)
      requests.push({ kind: r.kind, method, path, body, authorized, status })
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify(json))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    deny: (kind) => void denied.add(kind),
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve()))
      )
    }
  }
}
