/** End-to-end test helpers: a fresh sandbox per test, fast rollout inputs. */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startSandbox, type Sandbox } from '../../sandbox/index.js'

export { control, runAction, type ActionRun } from '../../sandbox/action.js'

/** A fresh sandbox; its Prometheus already has samples of the stable workload. */
export async function sandbox(options: { rps?: number } = {}): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ibg-sandbox-'))
  return startSandbox({ dir, rps: options.rps ?? 50 })
}

/** Wait until Prometheus returns a sample for `query`. */
export async function waitForSeries(sb: Sandbox, query: string): Promise<void> {
  if (!sb.prometheus) throw new Error('the sandbox runs without Prometheus')
  await sb.prometheus.waitForQuery(query)
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
