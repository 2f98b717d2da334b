/** PromQL for the candidate's analysis, built from validated names and escaped label values. */

export type Reporter = 'destination' | 'source'

export interface WorkloadSelector {
  workload: string
  namespace: string
  reporter: Reporter
}

/** A PromQL double-quoted string literal. */
export function promString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`
}

function matchers(s: WorkloadSelector, extra = ''): string {
  return (
    `{reporter=${promString(s.reporter)},destination_workload=${promString(s.workload)},` +
    `destination_workload_namespace=${promString(s.namespace)}${extra}}`
  )
}

export interface AnalysisQueries {
  /** All requests to the workload in the window. */
  requests: string
  /** 5xx responses of the workload in the window. */
  errors: string
  /** 99th percentile latency in ms over the window. */
  p99: string
}

/** The three queries of one check; `range` is a PromQL range such as `60s`. */
export function analysisQueries(s: WorkloadSelector, range: string): AnalysisQueries {
  return {
    requests: `sum(increase(istio_requests_total${matchers(s)}[${range}]))`,
    errors: `sum(increase(istio_requests_total${matchers(s, ',response_code=~"5.."')}[${range}]))`,
    p99:
      `histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket` +
      `${matchers(s)}[${range}])))`
  }
}
