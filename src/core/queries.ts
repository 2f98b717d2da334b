/** PromQL for preflight's look at the stable workload, built from validated names and escaped label values. */

/**
 * Which Istio proxy reported a series: `destination` (the server's sidecar), `source` (the
 * client's sidecar), or `waypoint` (an ambient mode waypoint, which reports the L7 metrics there).
 */
export type Reporter = 'destination' | 'source' | 'waypoint'

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

/** Requests and 5xx per second of a workload over `range` (a PromQL range such as `60s`). */
export function trafficQueries(
  s: WorkloadSelector,
  range: string
): { rps: string; errorRps: string } {
  return {
    rps: `sum(rate(istio_requests_total${matchers(s)}[${range}]))`,
    errorRps: `sum(rate(istio_requests_total${matchers(s, ',response_code=~"5.."')}[${range}]))`
  }
}

/**
 * A workload's latency buckets (one series per bound) and its p99 over `range`; the p99 only
 * chooses the bucket the relative latency test counts against.
 */
export function latencyQueries(
  s: WorkloadSelector,
  range: string
): { buckets: string; p99: string } {
  return {
    buckets: `count by (le) (istio_request_duration_milliseconds_bucket${matchers(s)})`,
    p99:
      `histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket` +
      `${matchers(s)}[${range}])))`
  }
}
