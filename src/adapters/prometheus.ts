/**
 * Prometheus over its HTTP API (`/api/v1/query`), over http or https, with what managed services
 * and proxies in front of Prometheus ask for: a private CA, a bearer token or basic auth, extra
 * headers. TLS verification is always on. A query that fails in any way throws PrometheusError,
 * whose message says what to do and never holds a credential; an empty result is "no data"
 * (undefined), never 0.
 */
import { request as httpRequest } from 'node:http'
import { request as httpsRequest, type RequestOptions } from 'node:https'
import type {
  LatencyHistogram,
  MetricQuery,
  MetricsSource,
  Reading,
  SeriesValue,
  StableTraffic
} from '../core/metrics.js'
import { latencyQueries, trafficQueries, type WorkloadSelector } from '../core/queries.js'
import { promRange } from '../core/duration.js'
import { UNTRUSTED_CA } from './tls.js'

export class PrometheusError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'PrometheusError'
  }
}

interface QueryResponse {
  status: 'success' | 'error'
  errorType?: string
  error?: string
  data?: {
    resultType: 'vector' | 'scalar' | 'matrix' | 'string'
    result: Array<{ metric: Record<string, string>; value: [number, string] }> | [number, string]
  }
}

export interface PrometheusOptions {
  /** Limit for one query, from connecting to the last byte of the answer (default 10 s). */
  timeoutMs?: number
  /**
   * PEM of the CA certificate(s) that signed Prometheus's certificate, trusted instead of Node's
   * default roots. Ignored over http.
   */
  ca?: string
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string
  /** Sent as `Authorization: Basic …`. The base URL itself never holds credentials. */
  basicAuth?: { username: string; password: string }
  /** Extra request headers (e.g. `X-Scope-OrgID`); names and values already validated. */
  headers?: Readonly<Record<string, string>>
  /**
   * Sends a query form to `/api/v1/query` and returns the answer: HTTP(S) to the base URL by
   * default. Tests answer in-process (as octokit's `request` takes a `fetch`), so everything
   * from the query to the reading runs as in a real run but the connection.
   */
  transport?: (form: string) => Promise<PrometheusAnswer>
}

/**
 * Promise.all that waits for every promise before rejecting with the first failure, so no query
 * is still in flight when a caller has already moved on.
 */
async function settled<T extends readonly unknown[]>(promises: {
  [K in keyof T]: Promise<T[K]>
}): Promise<T> {
  const results = await Promise.allSettled(promises)
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) throw failed.reason
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T
}

/** What came back for one request: its status, its body, and where a redirect points. */
export interface PrometheusAnswer {
  status: number
  location?: string
  text: string
}

/** The request ran out of time (connect, send or answer). */
class Timeout extends Error {}

function stringField(error: unknown, field: 'code' | 'reason' | 'message'): string | undefined {
  if (typeof error !== 'object' || error === null || !(field in error)) return undefined
  const value = (error as Record<typeof field, unknown>)[field]
  return typeof value === 'string' ? value : undefined
}

/**
 * Why a request to Prometheus at `baseUrl` failed before any answer, and what to do, from the
 * error Node's http/https gave. Never holds a credential: Node's errors carry none.
 */
export function describeTransportError(
  error: unknown,
  baseUrl: string,
  context: { caGiven: boolean }
): string {
  const code = stringField(error, 'code')
  const message = stringField(error, 'message') ?? String(error)
  const at = `Prometheus at ${baseUrl}`
  if (code !== undefined && UNTRUSTED_CA.has(code)) {
    return context.caGiven
      ? `${at}: its TLS certificate is not signed by the CA in input "prometheus-ca" (${code}); give the CA that signed it (its root, and any intermediate the server does not send)`
      : `${at}: its TLS certificate is not signed by a trusted CA (${code}); set input "prometheus-ca" to the PEM of the CA that signed it`
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const host = new URL(baseUrl).hostname
    return `${at}: its TLS certificate is not for ${host} (${stringField(error, 'reason') ?? message}); use a host name in input "prometheus-url" that the certificate names`
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return `${at}: its TLS certificate ${code === 'CERT_HAS_EXPIRED' ? 'has expired' : 'is not valid yet'} (${code}); renew it, or check the clocks`
  }
  if (/wrong version number|packet length too long/i.test(message)) {
    return `${at} does not answer TLS on this port (${code ?? 'EPROTO'}); use http:// in input "prometheus-url" if it serves plain HTTP, or its TLS port`
  }
  if (code !== undefined && /^(ERR_TLS_|ERR_SSL_|CERT_|EPROTO$)/.test(code)) {
    return `${at}: the TLS handshake failed (${code}: ${message}); check inputs "prometheus-url" and "prometheus-ca"`
  }
  return `${at} is unreachable: ${message}; check input "prometheus-url"`
}

function basicAuthValue({ username, password }: { username: string; password: string }): string {
  return Buffer.from(`${username}:${password}`).toString('base64')
}

/** Prometheus's query API at one base URL, with the transport options it needs. */
export class Prometheus {
  private readonly timeoutMs: number

  /**
   * @param baseUrl Prometheus's base URL, without a user or password (give those as
   *   `basicAuth`): it appears in messages.
   * @param options TLS CA, credentials, extra headers and the per-query timeout.
   */
  constructor(
    readonly baseUrl: string,
    private readonly options: PrometheusOptions = {}
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000
  }

  /**
   * Value of an instant query that yields at most one sample (e.g. a `sum(...)`); undefined when
   * the result is empty or NaN (histogram_quantile over no samples).
   */
  async query(promql: string, atMs?: number): Promise<number | undefined> {
    const { resultType, result } = await this.instant(promql, atMs)
    let raw: string | undefined
    if (resultType === 'scalar') raw = (result as [number, string])[1]
    else if (resultType === 'vector') {
      const vector = result as Array<{ value: [number, string] }>
      if (vector.length > 1) {
        throw this.error(`query returned ${vector.length} series, expected one: ${promql}`)
      }
      raw = vector[0]?.value[1]
    } else throw this.error(`query returned a ${resultType}, expected a vector: ${promql}`)
    if (raw === undefined) return undefined
    const value = Number(raw)
    return Number.isNaN(value) ? undefined : value
  }

  /** Every series of an instant vector query, with its labels; NaN samples left out. */
  async series(promql: string, atMs?: number): Promise<SeriesValue[]> {
    const { resultType, result } = await this.instant(promql, atMs)
    if (resultType === 'scalar') {
      const value = Number((result as [number, string])[1])
      return Number.isNaN(value) ? [] : [{ labels: {}, value }]
    }
    if (resultType !== 'vector') {
      throw this.error(`query returned a ${resultType}, expected a vector: ${promql}`)
    }
    return (result as Array<{ metric: Record<string, string>; value: [number, string] }>)
      .map((r) => ({ labels: r.metric, value: Number(r.value[1]) }))
      .filter((r) => !Number.isNaN(r.value))
  }

  /** Run an instant query (at `atMs`, default now) and return its data, or throw what went wrong. */
  private async instant(
    promql: string,
    atMs?: number
  ): Promise<NonNullable<QueryResponse['data']>> {
    const at = `Prometheus at ${this.baseUrl}`
    const form = new URLSearchParams({ query: promql })
    if (atMs !== undefined) form.set('time', (atMs / 1000).toFixed(3))
    let answer: PrometheusAnswer
    try {
      answer = await this.post(form.toString())
    } catch (error) {
      throw this.error(
        error instanceof Timeout
          ? `${at} is unreachable: no answer within ${this.timeoutMs}ms; check input "prometheus-url", or raise "prometheus-timeout" if it is only slow`
          : describeTransportError(error, this.baseUrl, { caGiven: this.options.ca !== undefined }),
        error
      )
    }
    const { status, text } = answer
    const excerpt = `${text.slice(0, 80).replace(/\s+/g, ' ')}${text.length > 80 ? '…' : ''}`
    if (status >= 300 && status < 400) throw this.error(this.redirected(answer))
    if (status === 401 || status === 403) {
      throw this.error(
        `${at} refused the request (HTTP ${status}${excerpt ? `: ${excerpt}` : ''}), which carried ${this.credentialsSent()}; check inputs "prometheus-token" and "prometheus-headers"${this.options.basicAuth ? ', and the user and password in "prometheus-url"' : ''}`
      )
    }
    let body: QueryResponse
    try {
      body = JSON.parse(text) as QueryResponse
    } catch {
      throw this.error(
        `${at} answered HTTP ${status} with something that is not its JSON API (${excerpt}); check input "prometheus-url"`
      )
    }
    if (body.status !== 'success' || !body.data) {
      const why = `${body.errorType ?? `HTTP ${status}`}: ${body.error ?? 'no reason given'}`
      // bad_data: the server does not take this PromQL; anything else: it could not run it now.
      const todo =
        body.errorType === 'bad_data'
          ? 'check that input "prometheus-url" points at Prometheus or a PromQL-compatible service (Thanos, Mimir, Cortex, VictoriaMetrics), not another API'
          : `retry when it is less busy, or raise "prometheus-timeout" if it timed out`
      throw this.error(`${at} rejected the query (${why}); ${todo}. The query: ${promql}`)
    }
    return body.data
  }

  /**
   * Requests per second and 5xx share of one workload over a window, for preflight's checks and
   * estimates. Failures come back in `failure`; a workload without series has no `rps`.
   */
  async traffic(selector: WorkloadSelector, windowMs: number): Promise<StableTraffic> {
    const q = trafficQueries(selector, promRange(windowMs))
    try {
      const [rps, errorRps] = await settled([this.query(q.rps), this.query(q.errorRps)] as const)
      if (rps === undefined) return {}
      return { rps, errorShare: rps > 0 ? (errorRps ?? 0) / rps : 0 }
    } catch (error) {
      if (error instanceof PrometheusError) return { failure: error.message }
      throw error
    }
  }

  /**
   * The latency histogram of one workload over a window: its finite bucket bounds as labelled,
   * and its p99 (only to choose a bucket, never to judge).
   */
  async latency(selector: WorkloadSelector, windowMs: number): Promise<LatencyHistogram> {
    const q = latencyQueries(selector, promRange(windowMs))
    try {
      const [buckets, p99Ms] = await settled([this.series(q.buckets), this.query(q.p99)] as const)
      const bounds = buckets
        .map((b) => b.labels.le)
        .filter((le): le is string => le !== undefined && Number.isFinite(Number(le)))
        .map((le) => ({ le, ms: Number(le) }))
        .sort((a, b) => a.ms - b.ms)
      return { buckets: bounds, ...(p99Ms === undefined ? {} : { p99Ms }) }
    } catch (error) {
      if (error instanceof PrometheusError) return { buckets: [], failure: error.message }
      throw error
    }
  }

  /** The request headers: the caller's extra headers, then the query's own and Authorization. */
  private headers(body: string): Record<string, string> {
    const { token, basicAuth, headers } = this.options
    const all: Record<string, string> = {
      ...headers,
      'Content-Type': 'application/x-www-form-urlencoded',
      'Content-Length': String(Buffer.byteLength(body)),
      Accept: 'application/json'
    }
    if (token !== undefined) all.Authorization = `Bearer ${token}`
    else if (basicAuth !== undefined) {
      all.Authorization = `Basic ${basicAuthValue(basicAuth)}`
    }
    return all
  }

  /** Send the form to /api/v1/query with the transport given, else over HTTP(S). */
  private post(body: string): Promise<PrometheusAnswer> {
    return this.options.transport ? this.options.transport(body) : this.http(body)
  }

  /** POST the form body to /api/v1/query; redirects are answers, never followed. */
  private http(body: string): Promise<PrometheusAnswer> {
    const target = new URL(`${this.baseUrl}/api/v1/query`)
    const tls = target.protocol === 'https:'
    const options: RequestOptions = {
      method: 'POST',
      headers: this.headers(body),
      // Verification stays on whatever the environment says (NODE_TLS_REJECT_UNAUTHORIZED).
      ...(tls
        ? { rejectUnauthorized: true, ...(this.options.ca ? { ca: this.options.ca } : {}) }
        : {})
    }
    return new Promise((resolve, reject) => {
      let timedOut = false
      const fail = (error: unknown): void => {
        clearTimeout(timer)
        reject(timedOut ? new Timeout() : error)
      }
      const request = (tls ? httpsRequest : httpRequest)(target, options, (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('error', fail)
        response.on('end', () => {
          clearTimeout(timer)
          resolve({
            status: response.statusCode ?? 0,
            location: response.headers.location,
            text: Buffer.concat(chunks).toString('utf8')
          })
        })
      })
      const timer = setTimeout(() => {
        timedOut = true
        request.destroy()
      }, this.timeoutMs)
      request.on('error', fail)
      request.end(body)
    })
  }

  /** A 3xx: where it points, and the base URL to use instead when that can be told. */
  private redirected({ status, location }: PrometheusAnswer): string {
    const at = `Prometheus at ${this.baseUrl}`
    const never =
      'the action does not follow redirects, so that credentials never go to another address'
    let to: URL | undefined
    try {
      to = location === undefined ? undefined : new URL(location, `${this.baseUrl}/api/v1/query`)
    } catch {
      to = undefined
    }
    if (!to) {
      return `${at} answered HTTP ${status} (a redirect) without a usable Location; set input "prometheus-url" to the final URL: ${never}`
    }
    // Origin and path only: no user, password or query string from the server's answer.
    const shown = `${to.origin}${to.pathname}`
    const base = shown.endsWith('/api/v1/query')
      ? shown.slice(0, -'/api/v1/query'.length)
      : undefined
    return `${at} redirects (HTTP ${status}) to ${shown}; set input "prometheus-url" to the final URL${base ? ` (${base})` : ''}: ${never}`
  }

  /** What this client sent to authenticate, without the secrets themselves. */
  private credentialsSent(): string {
    const { token, basicAuth, headers = {} } = this.options
    const names = Object.keys(headers)
    const sent = [
      ...(token !== undefined ? ['a bearer token'] : []),
      ...(basicAuth !== undefined ? ['basic auth'] : []),
      ...(names.length > 0 ? [`header${names.length > 1 ? 's' : ''} ${names.join(', ')}`] : [])
    ]
    return sent.length > 0 ? sent.join(' and ') : 'no credentials'
  }

  /**
   * A PrometheusError whose message holds none of the credentials, even if a server echoed one
   * back: messages end up in the rollout record, outside the runner's masking.
   */
  private error(message: string, cause?: unknown): PrometheusError {
    const { token, basicAuth, headers = {} } = this.options
    const secrets = [
      token,
      basicAuth?.password,
      basicAuth && basicAuthValue(basicAuth),
      ...Object.values(headers)
    ]
      .filter((s): s is string => s !== undefined && s !== '')
      .sort((a, b) => b.length - a.length)
    let text = message
    for (const secret of secrets) text = text.split(secret).join('***')
    return new PrometheusError(text, cause === undefined ? undefined : { cause })
  }
}

/**
 * The MetricsSource port over Prometheus: counters as raw series (the judge differences them),
 * gauges as one value. Every query of a check runs at the same instant, so a metric's bad and
 * total counters agree with each other and across colors.
 */
export class PrometheusMetrics implements MetricsSource {
  constructor(private readonly prometheus: Prometheus) {}

  traffic(selector: WorkloadSelector, windowMs: number): Promise<StableTraffic> {
    return this.prometheus.traffic(selector, windowMs)
  }

  latency(selector: WorkloadSelector, windowMs: number): Promise<LatencyHistogram> {
    return this.prometheus.latency(selector, windowMs)
  }

  async read(queries: readonly MetricQuery[], atMs: number): Promise<Record<string, Reading>> {
    const entries = await Promise.all(
      queries.map(async (q): Promise<[string, Reading]> => {
        try {
          if (q.kind === 'gauge') {
            const value = await this.prometheus.query(q.query, atMs)
            return [
              q.name,
              value === undefined
                ? { kind: 'none', reason: `no data for ${q.name} (query: ${q.query})` }
                : { kind: 'gauge', value }
            ]
          }
          const [total, bad] = await settled([
            this.prometheus.series(q.total, atMs),
            this.prometheus.series(q.bad, atMs)
          ] as const)
          return [q.name, { kind: 'counters', total, bad }]
        } catch (error) {
          if (error instanceof PrometheusError) {
            return [q.name, { kind: 'none', reason: error.message }]
          }
          throw error
        }
      })
    )
    return Object.fromEntries(entries)
  }
}
