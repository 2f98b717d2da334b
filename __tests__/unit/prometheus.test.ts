import {
  createServer,
  type IncomingHttpHeaders,
  type RequestListener,
  type Server
} from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import {
  describeTransportError,
  Prometheus,
  PrometheusMetrics,
  type PrometheusOptions
} from '../../src/adapters/prometheus.js'
import { SANDBOX_CERT, SANDBOX_KEY } from '../../sandbox/apiserver/tls.js'
import { OTHER_CA_CERT } from '../fakes/tls.js'

interface Answer {
  status: number
  body: string
  delayMs?: number
  headers?: Record<string, string>
}

/** Loopback stand-ins for Prometheus (http, and https with the sandbox certificate) whose answer each test sets. */
let answer: (query: string, headers: IncomingHttpHeaders) => Answer
let url: string
let tlsUrl: string
/** The https stand-in reached as 127.0.0.2, a name its certificate does not hold. */
let otherNameUrl: string
const servers: Server[] = []
const queries: string[] = []
const times: Array<string | null> = []
const received: IncomingHttpHeaders[] = []

const handler: RequestListener = (req, res) => {
  let body = ''
  req.on('data', (c: Buffer) => (body += c.toString()))
  req.on('end', () => {
    const query = new URLSearchParams(body).get('query') ?? ''
    queries.push(query)
    times.push(new URLSearchParams(body).get('time'))
    received.push(req.headers)
    const a = answer(query, req.headers)
    setTimeout(() => {
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers })
      res.end(a.body)
    }, a.delayMs ?? 0)
  })
}

async function listen(server: Server, host: string, scheme: string): Promise<string> {
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, host, r))
  return `${scheme}://${host}:${(server.address() as AddressInfo).port}`
}

beforeAll(async () => {
  url = await listen(createServer(handler), '127.0.0.1', 'http')
  const tls = { cert: SANDBOX_CERT, key: SANDBOX_KEY }
  tlsUrl = await listen(createTlsServer(tls, handler), '127.0.0.1', 'https')
  otherNameUrl = await listen(createTlsServer(tls, handler), '127.0.0.2', 'https')
})

afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  }
})

const vector = (value?: string) =>
  JSON.stringify({
    status: 'success',
    data: {
      resultType: 'vector',
      result: value === undefined ? [] : [{ metric: {}, value: [1, value] }]
    }
  })

const selector = { workload: 'reviews-green', namespace: 'demo', reporter: 'destination' as const }

const series = (...rows: Array<[Record<string, string>, string]>) =>
  JSON.stringify({
    status: 'success',
    data: { resultType: 'vector', result: rows.map(([metric, v]) => ({ metric, value: [1, v] })) }
  })

describe('Prometheus.traffic', () => {
  it('reads the request rate and the 5xx share over the window', async () => {
    queries.length = 0
    answer = (q) => ({ status: 200, body: vector(q.includes('5..') ? '0.5' : '20') })
    expect(await new Prometheus(url).traffic(selector, 60_000)).toEqual({
      rps: 20,
      errorShare: 0.025
    })
    expect(queries.sort()).toEqual([
      'sum(rate(istio_requests_total{reporter="destination",destination_workload="reviews-green",destination_workload_namespace="demo",response_code=~"5.."}[60s]))',
      'sum(rate(istio_requests_total{reporter="destination",destination_workload="reviews-green",destination_workload_namespace="demo"}[60s]))'
    ])
  })

  it('an empty result is no data, not zero', async () => {
    answer = () => ({ status: 200, body: vector() })
    expect(await new Prometheus(url).traffic(selector, 60_000)).toEqual({})
  })

  it('no 5xx series beside requests means no 5xx', async () => {
    answer = (q) => ({ status: 200, body: vector(q.includes('5..') ? undefined : '40') })
    expect(await new Prometheus(url).traffic(selector, 60_000)).toEqual({ rps: 40, errorShare: 0 })
  })

  it.each([
    [
      'HTML',
      200,
      '<html><body>Sign in</body></html>',
      0,
      /answered HTTP 200 with something that is not its JSON API \(<html><body>Sign in/
    ],
    [
      'an API error',
      400,
      JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error at char 5' }),
      0,
      /Prometheus at http:\/\/127\.0\.0\.1:\d+ rejected the query \(bad_data: parse error at char 5\); check that input "prometheus-url" points at Prometheus or a PromQL-compatible service/
    ],
    ['a slow answer', 200, vector('1'), 400, /is unreachable: no answer within 100ms/]
  ])('%s makes a failure, never a value', async (_name, status, body, delayMs, message) => {
    answer = () => ({ status, body, delayMs })
    const m = await new Prometheus(url, { timeoutMs: 100 }).traffic(selector, 60_000)
    expect(Object.keys(m)).toEqual(['failure'])
    expect(m.failure).toMatch(message)
  })

  it('an unreachable server makes a failure', async () => {
    const m = await new Prometheus('http://127.0.0.1:9').traffic(selector, 60_000)
    expect(m.failure).toMatch(
      /^Prometheus at http:\/\/127.0.0.1:9 is unreachable: connect ECONNREFUSED 127.0.0.1:9; check input "prometheus-url"$/
    )
  })
})

describe('PrometheusMetrics.read (the MetricsSource port)', () => {
  const ratio = { kind: 'ratio' as const, name: 'errors', total: 'total_q', bad: 'bad_q' }
  const gauge = { kind: 'gauge' as const, name: 'lag', query: 'lag_q' }

  it('reads counters as raw series with their labels, all at the instant given', async () => {
    queries.length = 0
    times.length = 0
    answer = (q) => ({
      status: 200,
      body: q === 'total_q' ? series([{ pod: 'a' }, '100'], [{ pod: 'b' }, '7']) : series()
    })
    const r = await new PrometheusMetrics(new Prometheus(url)).read([ratio], 1_700_000_000_000)
    expect(r.errors).toEqual({
      kind: 'counters',
      total: [
        { labels: { pod: 'a' }, value: 100 },
        { labels: { pod: 'b' }, value: 7 }
      ],
      bad: []
    })
    expect(queries.sort()).toEqual(['bad_q', 'total_q'])
    expect(times).toEqual(['1700000000.000', '1700000000.000'])
  })

  it('a gauge without a value is no data, naming the metric and its query', async () => {
    answer = () => ({ status: 200, body: vector() })
    const r = await new PrometheusMetrics(new Prometheus(url)).read([gauge], 0)
    expect(r.lag).toEqual({ kind: 'none', reason: 'no data for lag (query: lag_q)' })
  })

  it("a failed query is that metric's no data, not a thrown error for all", async () => {
    answer = (q) =>
      q === 'lag_q'
        ? {
            status: 400,
            body: JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error' })
          }
        : { status: 200, body: series([{}, '3']) }
    const r = await new PrometheusMetrics(new Prometheus(url)).read([ratio, gauge], 0)
    expect(r.errors?.kind).toBe('counters')
    expect(r.lag).toMatchObject({
      kind: 'none',
      reason: expect.stringContaining('rejected the query (bad_data: parse error)')
    })
  })
})

const TOKEN = 'tok-3f9a1c'
const TENANT = 'tenant-7b2e'
const PASSWORD = 'pw-c4d8e0'
const secrets = [TOKEN, TENANT, PASSWORD, Buffer.from(`reader:${PASSWORD}`).toString('base64')]

/** The failure one measurement makes; it never holds a credential. */
async function failureOf(baseUrl: string, options: PrometheusOptions = {}): Promise<string> {
  const m = await new Prometheus(baseUrl, { timeoutMs: 2000, ...options }).traffic(selector, 60_000)
  expect(Object.keys(m)).toEqual(['failure'])
  for (const secret of secrets) expect(m.failure).not.toContain(secret)
  return m.failure as string
}

describe('Prometheus over https, with credentials', () => {
  it('trusts the given CA and sends the token and headers with the form body', async () => {
    received.length = 0
    queries.length = 0
    answer = () => ({ status: 200, body: vector('7') })
    const prometheus = new Prometheus(tlsUrl, {
      ca: SANDBOX_CERT,
      token: TOKEN,
      headers: { 'X-Scope-OrgID': TENANT }
    })
    expect(await prometheus.query('vector(7)')).toBe(7)
    expect(queries).toEqual(['vector(7)'])
    expect(received[0]).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      'x-scope-orgid': TENANT,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json'
    })
  })

  it('sends basic auth, and trusts a bundle holding the CA among others', async () => {
    received.length = 0
    answer = () => ({ status: 200, body: vector('1') })
    const prometheus = new Prometheus(tlsUrl, {
      ca: OTHER_CA_CERT + SANDBOX_CERT,
      basicAuth: { username: 'reader', password: PASSWORD }
    })
    expect(await prometheus.query('vector(1)')).toBe(1)
    expect(received[0]?.authorization).toBe(
      `Basic ${Buffer.from(`reader:${PASSWORD}`).toString('base64')}`
    )
  })

  it('sends no Authorization without credentials', async () => {
    received.length = 0
    answer = () => ({ status: 200, body: vector('1') })
    await new Prometheus(url).query('vector(1)')
    expect(received[0]?.authorization).toBeUndefined()
  })

  it.each([
    {
      name: 'an untrusted certificate without prometheus-ca',
      base: () => tlsUrl,
      options: { token: TOKEN },
      message:
        /^Prometheus at https:\/\/127\.0\.0\.1:\d+: its TLS certificate is not signed by a trusted CA \(DEPTH_ZERO_SELF_SIGNED_CERT\); set input "prometheus-ca" to the PEM of the CA that signed it$/
    },
    {
      name: 'a certificate the given CA did not sign',
      base: () => tlsUrl,
      options: { ca: OTHER_CA_CERT, token: TOKEN },
      message:
        /its TLS certificate is not signed by the CA in input "prometheus-ca" \(DEPTH_ZERO_SELF_SIGNED_CERT\); give the CA that signed it/
    },
    {
      name: 'a host name the certificate does not hold',
      base: () => otherNameUrl,
      options: { ca: SANDBOX_CERT },
      message:
        /^Prometheus at https:\/\/127\.0\.0\.2:\d+: its TLS certificate is not for 127\.0\.0\.2 \(IP: 127\.0\.0\.2 is not in the cert's list: 127\.0\.0\.1\); use a host name in input "prometheus-url" that the certificate names$/
    },
    {
      name: 'https to a plain http port',
      base: () => url.replace('http:', 'https:'),
      options: {},
      message:
        /does not answer TLS on this port \(EPROTO\); use http:\/\/ in input "prometheus-url" if it serves plain HTTP/
    }
  ])('$name fails with what to do', async ({ base, options, message }) => {
    answer = () => ({ status: 200, body: vector('1') })
    expect(await failureOf(base(), options)).toMatch(message)
  })

  it.each([
    {
      name: '401 to a wrong token',
      answer: (_q: string, h: IncomingHttpHeaders) => ({
        status: 401,
        body: `invalid token ${String(h.authorization)}`
      }),
      options: { token: TOKEN, headers: { 'X-Scope-OrgID': TENANT } },
      message:
        /^Prometheus at https:\/\/127\.0\.0\.1:\d+ refused the request \(HTTP 401: invalid token Bearer \*\*\*\), which carried a bearer token and header X-Scope-OrgID; check inputs "prometheus-token" and "prometheus-headers"$/
    },
    {
      name: '403 to basic auth',
      answer: () => ({ status: 403, body: '' }),
      options: { basicAuth: { username: 'reader', password: PASSWORD } },
      message:
        /refused the request \(HTTP 403\), which carried basic auth; check inputs "prometheus-token" and "prometheus-headers", and the user and password in "prometheus-url"$/
    },
    {
      name: '401 to no credentials at all',
      answer: () => ({ status: 401, body: 'no org id' }),
      options: {},
      message: /\(HTTP 401: no org id\), which carried no credentials; check inputs/
    },
    {
      name: 'a redirect to the final URL',
      answer: () => ({
        status: 308,
        body: '',
        headers: { location: 'https://user:pw@prom.example.com/prometheus/api/v1/query?x=1' }
      }),
      options: { token: TOKEN },
      message:
        /^Prometheus at https:\/\/127\.0\.0\.1:\d+ redirects \(HTTP 308\) to https:\/\/prom\.example\.com\/prometheus\/api\/v1\/query; set input "prometheus-url" to the final URL \(https:\/\/prom\.example\.com\/prometheus\): the action does not follow redirects/
    },
    {
      name: 'a redirect to a login page',
      answer: () => ({ status: 302, body: '', headers: { location: '/login' } }),
      options: {},
      message:
        /redirects \(HTTP 302\) to https:\/\/127\.0\.0\.1:\d+\/login; set input "prometheus-url" to the final URL:/
    },
    {
      name: 'a non-JSON page echoing the headers',
      answer: (_q: string, h: IncomingHttpHeaders) => ({
        status: 200,
        body: `<pre>${String(h['x-scope-orgid'])}</pre>`
      }),
      options: { headers: { 'X-Scope-OrgID': TENANT } },
      message: /answered HTTP 200 with something that is not its JSON API \(<pre>\*\*\*<\/pre>\)/
    },
    {
      name: 'a slow answer',
      answer: () => ({ status: 200, body: vector('1'), delayMs: 400 }),
      options: { timeoutMs: 100 },
      message:
        /is unreachable: no answer within 100ms; check input "prometheus-url", or raise "prometheus-timeout" if it is only slow$/
    }
  ])('$name makes a failure that names the inputs to check', async (row) => {
    answer = row.answer
    expect(await failureOf(tlsUrl, { ca: SANDBOX_CERT, ...row.options })).toMatch(row.message)
  })

  it('verifies TLS even when NODE_TLS_REJECT_UNAUTHORIZED=0 says not to', async () => {
    answer = () => ({ status: 200, body: vector('1') })
    const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'
    try {
      expect(await failureOf(tlsUrl)).toContain('(DEPTH_ZERO_SELF_SIGNED_CERT)')
    } finally {
      if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved
    }
  })

  it('never follows a redirect', async () => {
    queries.length = 0
    answer = () => ({ status: 307, body: '', headers: { location: `${url}/api/v1/query` } })
    await failureOf(tlsUrl, { ca: SANDBOX_CERT, token: TOKEN })
    // Both stand-ins record here: a followed redirect would have added the http one's queries.
    expect(queries).toHaveLength(2)
  })
})

describe('describeTransportError', () => {
  // Codes Node's TLS stack gives, as a quick probe against openssl-made chains showed: a leaf
  // served alone by an unknown CA, a chain served with its own root, an issuer not in `ca`.
  it.each([
    {
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      caGiven: false,
      expected:
        'not signed by a trusted CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE); set input "prometheus-ca"'
    },
    {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
      caGiven: false,
      expected: 'not signed by a trusted CA (SELF_SIGNED_CERT_IN_CHAIN); set input "prometheus-ca"'
    },
    {
      code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      caGiven: true,
      expected:
        'not signed by the CA in input "prometheus-ca" (UNABLE_TO_GET_ISSUER_CERT_LOCALLY); give the CA that signed it'
    },
    {
      code: 'CERT_HAS_EXPIRED',
      caGiven: true,
      expected: 'its TLS certificate has expired (CERT_HAS_EXPIRED); renew it'
    },
    {
      code: 'CERT_NOT_YET_VALID',
      caGiven: false,
      expected: 'its TLS certificate is not valid yet (CERT_NOT_YET_VALID)'
    },
    {
      code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
      message: 'sslv3 alert handshake failure',
      caGiven: false,
      expected:
        'the TLS handshake failed (ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: sslv3 alert handshake failure)'
    },
    {
      code: 'ENOTFOUND',
      message: 'getaddrinfo ENOTFOUND prom.example.com',
      caGiven: false,
      expected:
        'Prometheus at https://prom.example.com is unreachable: getaddrinfo ENOTFOUND prom.example.com; check input "prometheus-url"'
    },
    {
      code: undefined,
      message: 'socket hang up',
      caGiven: false,
      expected: 'is unreachable: socket hang up'
    }
  ])('$code (CA given: $caGiven)', ({ code, message, caGiven, expected }) => {
    const error = Object.assign(new Error(message ?? String(code).toLowerCase()), { code })
    expect(describeTransportError(error, 'https://prom.example.com', { caGiven })).toContain(
      expected
    )
  })
})
