/** End-to-end test helpers: a fresh sandbox per test, fast rollout inputs. */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startSandbox, type Sandbox } from '../../sandbox/index.js'

export { control, runAction, type ActionRun } from '../../sandbox/action.js'

/**
 * A fresh sandbox whose Prometheus already has a few samples of the stable workload, so the
 * action's preflight finds its metrics.
 */
export async function sandbox(options: { rps?: number } = {}): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ibg-sandbox-'))
  const sb = await startSandbox({ dir, rps: options.rps ?? 50 })
  await waitForSeries(
    sb,
    'sum(increase(istio_requests_total{destination_workload="reviews-blue"}[5s]))'
  )
  return sb
}

/** Poll Prometheus until `query` returns a sample. */
export async function waitForSeries(sb: Sandbox, query: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const r = await fetch(`${sb.prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`)
    const body = (await r.json()) as { data?: { result?: unknown[] } }
    if ((body.data?.result?.length ?? 0) > 0) return
    if (Date.now() > deadline) throw new Error(`Prometheus has no data for ${query}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

/** Inputs for a fast rollout on the sandbox (seconds instead of minutes). */
export function fastInputs(
  sb: Sandbox,
  extra: Record<string, string> = {}
): Record<string, string> {
  return {
    service: 'reviews',
    namespace: 'demo',
    'prometheus-url': sb.prometheusUrl ?? '',
    steps: '10,25,50,100',
    'step-duration': '5s',
    'check-interval': '1s',
    'analysis-window': '5s',
    'min-requests': '5',
    'ready-timeout': '20s',
    ...extra
  }
}

export function kubeEnv(sb: Sandbox): Record<string, string> {
  return { KUBECONFIG: sb.kubeconfigPath }
}

/** Assert the action's exit code, showing its whole log when it differs. */
export function expectExit(
  run: { code: number; log: string },
  expected: 'success' | 'failure'
): void {
  const succeeded = run.code === 0
  if (succeeded !== (expected === 'success')) {
    throw new Error(`expected the action to end in ${expected}, it exited ${run.code}:\n${run.log}`)
  }
}
