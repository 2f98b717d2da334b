/**
 * The authenticating HTTPS proxy the transport tests put in front of Prometheus: it refuses
 * what a managed service refuses and forwards the rest unchanged. Checked against a loopback
 * upstream that records what reaches it.
 */
import { createServer, type Server } from 'node:http'
import { request } from 'node:https'
import type { AddressInfo } from 'node:net'
import { SANDBOX_CERT } from '../../sandbox/apiserver/tls.js'
import { type PrometheusProxy, startPrometheusProxy } from '../../sandbox/prometheus-proxy.js'

let upstream: Server
let proxy: PrometheusProxy
const forwarded: Array<{ path: string; body: string; authorization?: string }> = []

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      forwarded.push({ path: req.url ?? '', body, authorization: req.headers.authorization })
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"status":"success"}')
    })
  })
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r))
  proxy = await startPrometheusProxy({
    target: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
    tokens: ['t0ken'],
    users: { reader: 'pa:ss' },
    requiredHeaders: { 'X-Scope-OrgID': 'tenant-a' }
  })
})

afterAll(async () => {
  await proxy.close()
  upstream.closeAllConnections()
  await new Promise((r) => upstream.close(r))
})

/** POST a query through the proxy, trusting the sandbox CA. */
function post(headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${proxy.url}/api/v1/query`,
      {
        method: 'POST',
        ca: SANDBOX_CERT,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }
      },
      (res) => {
        let body = ''
        res.on('data', (c: Buffer) => (body += c.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      }
    )
    req.on('error', reject)
    req.end('query=up')
  })
}

const basic = (pair: string) => `Basic ${Buffer.from(pair).toString('base64')}`

describe('prometheus proxy', () => {
  const refused: Array<{ name: string; headers: Record<string, string>; why: string }> = [
    { name: 'no credentials', headers: {}, why: 'no credentials' },
    {
      name: 'a wrong token',
      headers: { authorization: 'Bearer nope' },
      why: 'invalid credentials'
    },
    {
      name: 'a wrong password',
      headers: { authorization: basic('reader:pass') },
      why: 'invalid credentials'
    },
    {
      name: 'no tenant',
      headers: { authorization: 'Bearer t0ken' },
      why: 'no X-Scope-OrgID header'
    },
    {
      name: 'another tenant',
      headers: { authorization: 'Bearer t0ken', 'x-scope-orgid': 'tenant-b' },
      why: 'unknown X-Scope-OrgID'
    }
  ]
  it.each(refused)('answers 401 to $name, forwarding nothing', async ({ headers, why }) => {
    forwarded.length = 0
    expect(await post(headers)).toEqual({ status: 401, body: why })
    expect(forwarded).toEqual([])
  })

  it.each([
    { name: 'a token', authorization: 'Bearer t0ken' },
    { name: 'basic auth (a password holding :)', authorization: basic('reader:pa:ss') }
  ])('forwards a request with $name and the tenant, without the credentials', async (row) => {
    forwarded.length = 0
    proxy.requests.length = 0
    const answer = await post({ authorization: row.authorization, 'X-Scope-OrgID': 'tenant-a' })
    expect(answer).toEqual({ status: 200, body: '{"status":"success"}' })
    expect(forwarded).toEqual([
      { path: '/api/v1/query', body: 'query=up', authorization: undefined }
    ])
    expect(proxy.requests).toMatchObject([{ method: 'POST', path: '/api/v1/query', status: 200 }])
  })
})
