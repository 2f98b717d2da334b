/**
 * End-to-end test helpers: a fresh sandbox per test, fast rollout inputs, and runAction, which
 * fails the test whenever a credential the action was given shows up in anything it wrote.
 */
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startSandbox, type Sandbox } from '../../sandbox/index.js'
import type { SeedDataPlane } from '../../sandbox/seed.js'
import { lockExpiresAt, readLease } from '../fixtures/cluster.js'

import {
  type ActionRun,
  probe,
  runAction as runBuiltAction,
  type RunOptions
} from '../../sandbox/action.js'

export { control, probe, setTraffic, type ActionRun } from '../../sandbox/action.js'
export {
  deploymentState,
  formatWeights,
  httpRoute,
  LEASE,
  type LeaseView,
  lockExpiresAt,
  meshFailures,
  readLease,
  RECORD_ANNOTATION,
  RESOURCES,
  recordVirtualServiceWrites,
  type RouteWeights,
  versions,
  virtualService,
  type VirtualServiceWrite,
  weightsOf,
  withoutColorWeights
} from '../fixtures/cluster.js'

/** Kubeconfig keys whose values are credentials. */
const KUBECONFIG_SECRET =
  /^\s*(?:token|client-key-data|client-certificate-data|password|id-token|refresh-token)\s*:\s*["']?([^"'\s]+)/

/**
 * Every credential a run is given: in the kubeconfig it reads (input or KUBECONFIG file), the
 * GitHub token, and Prometheus's token, header values and URL password.
 */
export async function secretsOf(
  inputs: Record<string, string>,
  env: Record<string, string>
): Promise<string[]> {
  const kubeconfigs = [inputs.kubeconfig ?? '']
  if (env.KUBECONFIG) kubeconfigs.push(await readFile(env.KUBECONFIG, 'utf8').catch(() => ''))
  const secrets = kubeconfigs.flatMap((text) =>
    text.split('\n').flatMap((line) => KUBECONFIG_SECRET.exec(line)?.[1] ?? [])
  )
  if (inputs['github-token']) secrets.push(inputs['github-token'])
  if (inputs['prometheus-token']) secrets.push(inputs['prometheus-token'])
  for (const line of (inputs['prometheus-headers'] ?? '').split('\n')) {
    const value = line.slice(line.indexOf(':') + 1).trim()
    if (line.includes(':') && value) secrets.push(value)
  }
  const password = URL.parse(inputs['prometheus-url'] ?? '')?.password
  if (password) secrets.push(decodeURIComponent(password))
  // Very short values ("a") would match by accident; credentials are never that short.
  return [...new Set(secrets)].filter((s) => s.length >= 8)
}

/**
 * Throw when a secret appears in the run's log (outside the `::add-mask::` commands that hand it
 * to the runner), summary, outputs, saved state or report file.
 */
export async function expectNoSecrets(run: ActionRun, secrets: readonly string[]): Promise<void> {
  const report = run.outputs.report
    ? await readFile(run.outputs.report, 'utf8').catch(() => '')
    : ''
  const places: Record<string, string> = {
    log: run.log
      .split('\n')
      .filter((line) => !line.startsWith('::add-mask::'))
      .join('\n'),
    summary: run.summary,
    outputs: JSON.stringify(run.outputs),
    state: JSON.stringify(run.state),
    report
  }
  for (const secret of secrets) {
    for (const [where, text] of Object.entries(places)) {
      if (text.includes(secret)) {
        throw new Error(
          `a credential (${secret.slice(0, 4)}…) leaked into the run's ${where}:\n${text}`
        )
      }
    }
  }
}

/** Run the built action (see sandbox/action.ts), then check that no credential leaked. */
export async function runAction(
  inputs: Record<string, string>,
  env: Record<string, string> = {},
  options: RunOptions = {}
): Promise<ActionRun> {
  const run = await runBuiltAction(inputs, env, options)
  await expectNoSecrets(run, await secretsOf(inputs, env))
  return run
}

/**
 * The run's Prometheus pool (started by global-setup.ts), when there is one: a sandbox takes a
 * running Prometheus from it, wiped of the last sandbox's series, instead of starting its own.
 */
function pooledPrometheus(): { prometheusPool?: string } {
  const pool = process.env['SANDBOX_PROMETHEUS_POOL']
  return pool ? { prometheusPool: pool } : {}
}

/**
 * A fresh sandbox; its Prometheus already has samples of the stable workload. Deleted pods stay
 * Terminating for 1% of their grace period (300 ms for the default 30 s), not the real 30 s.
 */
export async function sandbox(options: { rps?: number } = {}): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ibg-sandbox-'))
  return startSandbox({
    dir,
    rps: options.rps ?? 50,
    terminationGraceScale: 0.01,
    ...pooledPrometheus()
  })
}

/**
 * Run `body` on a sandbox of its own, started by `start` (`sandbox`, `gatewayApiSandbox`, ...),
 * and stop it however the body ends: cases that wait on real time each take one and run at once.
 */
export async function withSandbox(
  start: () => Promise<Sandbox>,
  body: (sb: Sandbox) => Promise<void>
): Promise<void> {
  const sb = await start()
  try {
    await body(sb)
  } finally {
    await sb.stop()
  }
}

/**
 * A fresh sandbox whose service `reviews` is routed by a Gateway API HTTPRoute `reviews` (one
 * rule, one bare backendRef `{name: reviews, port: 9080}`) instead of the VirtualService and
 * DestinationRule: with the Service as parent (`mesh`, the default) or the Gateway `edge`
 * (`gateway`). `dataPlane: 'ambient'` labels the namespace for ambient mode with a waypoint, so
 * the metrics come with `reporter="waypoint"`.
 */
export async function gatewayApiSandbox(
  options: { rps?: number; parent?: 'mesh' | 'gateway'; dataPlane?: SeedDataPlane } = {}
): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ibg-sandbox-'))
  return startSandbox({
    dir,
    rps: options.rps ?? 50,
    terminationGraceScale: 0.01,
    ...pooledPrometheus(),
    seedOptions: {
      router: (options.parent ?? 'mesh') === 'mesh' ? 'http-route-mesh' : 'http-route-gateway',
      ...(options.dataPlane ? { dataPlane: options.dataPlane } : {})
    }
  })
}

/**
 * Which workloads served 50 probes of service `reviews` sent through the sandbox's mesh, with or
 * without `headers`; none may fail.
 */
export async function servedBy(
  sb: Sandbox,
  headers?: Record<string, string>
): Promise<Record<string, number>> {
  const r = await probe(sb, {
    namespace: 'demo',
    service: 'reviews',
    count: 50,
    ...(headers ? { headers } : {})
  })
  expect(r.failed).toEqual({})
  return Object.fromEntries(Object.entries(r.workloads).map(([w, n]) => [w, n.requests]))
}

/** Wait until Prometheus returns a sample for `query`. */
export async function waitForSeries(sb: Sandbox, query: string): Promise<void> {
  if (!sb.prometheus) throw new Error('the sandbox runs without Prometheus')
  await sb.prometheus.waitForQuery(query)
}

/** Inputs for a fast rollout on the sandbox (seconds instead of minutes). */
export function fastInputs(
  sb: Pick<Sandbox, 'prometheusUrl'>,
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
    // The sandbox's healthy images answer 0.1% 5xx: too few bad events in a few seconds to compare
    // colors, so a candidate shown below 20% is safe enough for these fast rollouts.
    'negligible-rate': '20%',
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

// ---------------------------------------------------------------------------------------------
// Helpers for the crash-safety, fault and drift suites: waiting on events with deadlines, and
// requests as a person's tool sends them. What the cluster says, read straight from the store, is
// in ../fixtures/cluster.ts (re-exported above), shared with the in-process tests.

/** Poll `probe` every `intervalMs` until it returns something other than undefined or false. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 50
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

/** Wait until the lock is free or its holder stopped renewing it for longer than its duration. */
export async function waitForLockExpiry(sb: Sandbox, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    'the rollout lock to expire',
    () => Date.now() > lockExpiresAt(readLease(sb)) + 250,
    timeoutMs
  )
}

/**
 * A request to the sandbox API server over HTTP with its bearer token, as a person's tool would
 * send it (so injected faults apply to it, and `fieldManager` names the writer).
 */
export async function apiRequest(
  sb: Sandbox,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json'
): Promise<{ status: number; body: unknown }> {
  const r = await fetch(`${sb.api.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${sb.api.token}`,
      ...(body === undefined ? {} : { 'content-type': contentType })
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await r.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON: keep the text
  }
  return { status: r.status, body: parsed }
}
