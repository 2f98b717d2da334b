import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Prometheus } from '../../src/adapters/prometheus.js'

/** A loopback stand-in for Prometheus whose answer each test sets. */
let answer: (query: string) => { status: number; body: string; delayMs?: number }
let server: Server
let url: string
const queries: string[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      const query = new URLSearchParams(body).get('query') ?? ''
      queries.push(query)
      const a = answer(query)
      setTimeout(() => {
        res.writeHead(a.status, { 'content-type': 'application/json' })
        res.end(a.body)
      }, a.delayMs ?? 0)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((r) => server.close(r))
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

describe('Prometheus.measure', () => {
  it('reads requests, 5xx and p99 from the three queries', async () => {
    queries.length = 0
    answer = (q) => ({
      status: 200,
      body: vector(q.startsWith('histogram_quantile') ? '87.5' : q.includes('5..') ? '3' : '120')
    })
    expect(await new Prometheus(url).measure(selector, 60_000)).toEqual({
      requests: 120,
      errors: 3,
      p99Ms: 87.5
    })
    expect(queries.sort()).toEqual([
      'histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload="reviews-green",destination_workload_namespace="demo"}[60s])))',
      'sum(increase(istio_requests_total{reporter="destination",destination_workload="reviews-green",destination_workload_namespace="demo",response_code=~"5.."}[60s]))',
      'sum(increase(istio_requests_total{reporter="destination",destination_workload="reviews-green",destination_workload_namespace="demo"}[60s]))'
    ])
  })

  it('an empty result is no data, not zero', async () => {
    answer = () => ({ status: 200, body: vector() })
    expect(await new Prometheus(url).measure(selector, 60_000)).toEqual({})
  })

  it('no 5xx series beside requests means no 5xx', async () => {
    answer = (q) => ({
      status: 200,
      body: vector(q.includes('5..') ? undefined : q.startsWith('histogram') ? 'NaN' : '40')
    })
    expect(await new Prometheus(url).measure(selector, 60_000)).toEqual({ requests: 40, errors: 0 })
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
      /Prometheus rejected the query \(bad_data: parse error at char 5\)/
    ],
    ['a slow answer', 200, vector('1'), 400, /is unreachable: no answer within 100ms/]
  ])('%s makes a failure, never a value', async (_name, status, body, delayMs, message) => {
    answer = () => ({ status, body, delayMs })
    const m = await new Prometheus(url, { timeoutMs: 100 }).measure(selector, 60_000)
    expect(Object.keys(m)).toEqual(['failure'])
    expect(m.failure).toMatch(message)
  })

  it('an unreachable server makes a failure', async () => {
    const m = await new Prometheus('http://127.0.0.1:9').measure(selector, 60_000)
    expect(m.failure).toMatch(/^Prometheus at http:\/\/127.0.0.1:9 is unreachable: /)
  })
})
