/**
 * An authenticating HTTPS reverse proxy in front of the sandbox Prometheus, as managed services
 * put one in front of theirs (Grafana Cloud, Mimir's gateway, an OAuth proxy): TLS with the
 * sandbox certificate (127.0.0.1 and localhost, trusted through `SANDBOX_CERT`), a bearer token or
 * a basic-auth user, optionally tenant headers, and 401 for anything else. It records what it
 * received, for tests to check what the action sent.
 */
import { request, type IncomingHttpHeaders } from 'node:http'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { SANDBOX_CERT, SANDBOX_KEY } from './apiserver/tls.js'

export interface PrometheusProxyOptions {
  /** Base URL of the Prometheus to forward to, e.g. the sandbox's `http://127.0.0.1:…`. */
  target: string
  /** Accepted bearer tokens (`Authorization: Bearer <token>`). */
  tokens?: readonly string[]
  /** Accepted basic-auth users, with their passwords. */
  users?: Readonly<Record<string, string>>
  /** Headers every request must carry with exactly this value (e.g. `X-Scope-OrgID`). */
  requiredHeaders?: Readonly<Record<string, string>>
}

export interface ProxiedRequest {
  method: string
  path: string
  headers: IncomingHttpHeaders
  /** What the proxy answered: 401, or Prometheus's status. */
  status: number
}

export interface PrometheusProxy {
  /** `https://127.0.0.1:<port>` */
  url: string
  /** Every request received, in order. */
  requests: ProxiedRequest[]
  close(): Promise<void>
}

/** Why a request is refused, or undefined when its credentials and headers are right. */
function refusal(o: PrometheusProxyOptions, headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization ?? ''
  const bearer = /^Bearer (.+)$/.exec(auth)?.[1]
  const basic = /^Basic (.+)$/.exec(auth)?.[1]
  const [user, ...rest] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':') : []
  const userOk = user !== undefined && o.users?.[user] === rest.join(':')
  if (!(bearer !== undefined && o.tokens?.includes(bearer)) && !userOk) {
    return auth ? 'invalid credentials' : 'no credentials'
  }
  for (const [name, value] of Object.entries(o.requiredHeaders ?? {})) {
    const got = headers[name.toLowerCase()]
    if (got === undefined) return `no ${name} header`
    if (got !== value) return `unknown ${name}`
  }
  return undefined
}

/** Start the proxy on 127.0.0.1 at a free port. */
export async function startPrometheusProxy(o: PrometheusProxyOptions): Promise<PrometheusProxy> {
  const requests: ProxiedRequest[] = []
  const server = createServer({ cert: SANDBOX_CERT, key: SANDBOX_KEY }, (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const seen: ProxiedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        status: 0
      }
      requests.push(seen)
      const why = refusal(o, req.headers)
      if (why !== undefined) {
        seen.status = 401
        res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' })
        res.end(why)
        return
      }
      const body = Buffer.concat(chunks)
      const upstream = request(
        new URL(req.url ?? '/', o.target),
        {
          method: req.method,
          headers: {
            ...(req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {}),
            'content-length': String(body.length),
            accept: req.headers.accept ?? '*/*'
          }
        },
        (answer) => {
          seen.status = answer.statusCode ?? 502
          res.writeHead(seen.status, {
            'content-type': answer.headers['content-type'] ?? 'application/octet-stream'
          })
          answer.pipe(res)
        }
      )
      upstream.on('error', (error) => {
        seen.status = 502
        res.writeHead(502, { 'content-type': 'text/plain' })
        res.end(`upstream: ${error.message}`)
      })
      upstream.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
