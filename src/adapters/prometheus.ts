/**
 * Prometheus over its HTTP API (`/api/v1/query`). A query that fails in any way throws
 * PrometheusError; an empty result is "no data" (undefined), never 0.
 */
import type { Measurement } from '../core/analysis.js'
import { analysisQueries, type WorkloadSelector } from '../core/queries.js'
import { promRange } from '../core/duration.js'

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
  timeoutMs?: number
}

export class Prometheus {
  private readonly timeoutMs: number

  constructor(
    readonly baseUrl: string,
    options: PrometheusOptions = {}
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000
  }

  /**
   * Value of an instant query that yields at most one sample (e.g. a `sum(...)`); undefined when
   * the result is empty or NaN (histogram_quantile over no samples).
   */
  async query(promql: string): Promise<number | undefined> {
    const url = `${this.baseUrl}/api/v1/query`
    let response: Response
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Accept: 'application/json'
        },
        body: new URLSearchParams({ query: promql }),
        signal: AbortSignal.timeout(this.timeoutMs)
      })
    } catch (error) {
      const e = error as Error
      const why =
        e.name === 'TimeoutError'
          ? `no answer within ${this.timeoutMs}ms`
          : `${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ''}`
      throw new PrometheusError(`Prometheus at ${this.baseUrl} is unreachable: ${why}`, {
        cause: error
      })
    }
    const text = await response.text()
    let body: QueryResponse
    try {
      body = JSON.parse(text) as QueryResponse
    } catch {
      throw new PrometheusError(
        `Prometheus at ${this.baseUrl} answered HTTP ${response.status} with something that is not its JSON API (${text.slice(0, 80).replace(/\s+/g, ' ')}…); check prometheus-url`
      )
    }
    if (body.status !== 'success' || !body.data) {
      throw new PrometheusError(
        `Prometheus rejected the query (${body.errorType ?? `HTTP ${response.status}`}: ${body.error ?? 'no reason given'}): ${promql}`
      )
    }
    const { resultType, result } = body.data
    let raw: string | undefined
    if (resultType === 'scalar') raw = (result as [number, string])[1]
    else if (resultType === 'vector') {
      const vector = result as Array<{ value: [number, string] }>
      if (vector.length > 1) {
        throw new PrometheusError(`query returned ${vector.length} series, expected one: ${promql}`)
      }
      raw = vector[0]?.value[1]
    } else throw new PrometheusError(`query returned a ${resultType}, expected a vector: ${promql}`)
    if (raw === undefined) return undefined
    const value = Number(raw)
    return Number.isNaN(value) ? undefined : value
  }

  /** Requests, 5xx and p99 of one workload over a window. Failures come back in `failure`. */
  async measure(selector: WorkloadSelector, windowMs: number): Promise<Measurement> {
    const q = analysisQueries(selector, promRange(windowMs))
    try {
      const [requests, errors, p99Ms] = await Promise.all([
        this.query(q.requests),
        this.query(q.errors),
        this.query(q.p99)
      ])
      const m: Measurement = {}
      if (requests !== undefined) {
        m.requests = requests
        // No 5xx series while requests exist means no 5xx in the window.
        m.errors = errors ?? 0
      }
      if (p99Ms !== undefined) m.p99Ms = p99Ms
      return m
    } catch (error) {
      if (error instanceof PrometheusError) return { failure: error.message }
      throw error
    }
  }
}
