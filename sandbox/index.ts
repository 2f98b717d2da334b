/**
 * Starts the whole sandbox in-process: API server (with its deployment
 * controller), seed objects, mesh traffic simulator, Prometheus and the control
 * API; writes a kubeconfig and an env file for the action to use.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { startApiServer, type ApiServer } from './apiserver/server.js'
import { startControlServer, type ControlServer } from './control.js'
import { isReady } from './mesh/routing.js'
import { startMesh, type Mesh } from './mesh/server.js'
import { startPrometheus, type Prometheus } from './prometheus.js'
import { leasePrometheus } from './prometheus-pool.js'
import { SEED_NAMESPACE, SEED_REPLICAS, SEED_SERVICE, seed, type SeedOptions } from './seed.js'
import { BehaviourRegistry, type ObjectStore } from './types.js'

export interface SandboxOptions {
  /** Directory for kubeconfig, env file and Prometheus data. */
  dir: string
  /** Create the demo objects (default true). */
  seed?: boolean
  /** How the seed routes the demo service and its data plane (seed.ts; default VirtualService, sidecars). */
  seedOptions?: SeedOptions
  /** Start Prometheus (default true). */
  prometheus?: boolean
  /**
   * URL of a Prometheus pool (prometheus-pool.ts) to take a running Prometheus from instead of
   * starting one, which saves its ~5 s to the first scrape; `stop()` hands it back. The pool's
   * scrape interval applies, so `scrapeInterval` cannot be given with it.
   */
  prometheusPool?: string
  /** Requests per second per flow (default 20). */
  rps?: number
  /** Prometheus scrape and evaluation interval (default `1s`). */
  scrapeInterval?: string
  controllerDelayMs?: number
  /**
   * Share of a deleted pod's grace period it stays Terminating (default 1: real time, 30 s for
   * most pods); tests pass e.g. 0.01 so replaced pods are gone in 300 ms.
   */
  terminationGraceScale?: number
}

export interface SandboxEnv {
  KUBECONFIG: string
  PROMETHEUS_URL?: string
  SANDBOX_CONTROL_URL: string
}

export interface Sandbox {
  dir: string
  kubeconfigPath: string
  envPath: string
  env: SandboxEnv
  api: ApiServer
  behaviours: BehaviourRegistry
  mesh: Mesh
  controlUrl: string
  prometheusUrl?: string
  prometheus?: Prometheus
  /** Stops every part; safe to call twice. */
  stop(): Promise<void>
}

export async function startSandbox(o: SandboxOptions): Promise<Sandbox> {
  if (o.prometheusPool !== undefined && o.scrapeInterval !== undefined) {
    throw new RangeError(
      'startSandbox: scrapeInterval cannot be set with prometheusPool (the pool scrapes at its own interval); drop one'
    )
  }
  const dir = path.resolve(o.dir)
  await mkdir(dir, { recursive: true })
  const behaviours = new BehaviourRegistry()
  // Stop functions of the parts started so far, so a failure halfway leaves nothing running.
  const stops: Array<() => Promise<void>> = []
  const stopAll = async (): Promise<void> => {
    const errors: unknown[] = []
    for (const stop of stops.splice(0).reverse()) {
      await stop().catch((err: unknown) => errors.push(err))
    }
    if (errors.length > 0) throw new AggregateError(errors, 'sandbox did not stop cleanly')
  }

  try {
    const api = await startApiServer({
      token: randomBytes(24).toString('hex'),
      behaviours,
      ...(o.controllerDelayMs !== undefined ? { controllerDelayMs: o.controllerDelayMs } : {}),
      ...(o.terminationGraceScale !== undefined
        ? { terminationGraceScale: o.terminationGraceScale }
        : {})
    })
    stops.push(() => api.close())
    if (o.seed ?? true) seed(api.store, o.seedOptions)

    // The mesh starts silent: until the seeded pods are ready every request would be a 503 UH.
    const mesh = await startMesh({ store: api.store, behaviours, rps: 0 })
    stops.push(() => mesh.close())

    // Prometheus's first scrape comes ~5 s after launch (its discovery manager sends target
    // updates every 5 s), so it starts while the pods come up rather than after.
    const startingPrometheus =
      (o.prometheus ?? true)
        ? (o.prometheusPool !== undefined
            ? leasePrometheus(o.prometheusPool, mesh.target)
            : startPrometheus({
                dir,
                targets: [mesh.target],
                ...(o.scrapeInterval !== undefined ? { scrapeInterval: o.scrapeInterval } : {})
              })
          ).then((p) => {
            stops.push(() => p.stop())
            return p
          })
        : undefined
    // allSettled, not all: on a failure the other branch must have settled (and registered its
    // stop function) before the catch below stops everything.
    const [promResult, podsResult] = await Promise.allSettled([
      startingPrometheus?.then(async (p) => {
        await p.waitForScrape()
        return p
      }),
      (async () => {
        // The stable color is serving before the action ever runs, as in a real cluster.
        if (o.seed ?? true) await waitForSeedPods(api.store, 10_000 + (o.controllerDelayMs ?? 0))
        mesh.setRps(o.rps ?? 20)
      })()
    ])
    if (podsResult.status === 'rejected') throw podsResult.reason
    if (promResult.status === 'rejected') throw promResult.reason
    const prometheus = promResult.value
    if (prometheus && (o.seed ?? true) && (o.rps ?? 20) > 0) {
      // A rate needs two scrapes: wait until the seeded stable workload can be analysed, as a
      // long-running service can in a real cluster.
      await prometheus.waitForQuery(
        `sum(increase(istio_requests_total{destination_workload="${SEED_SERVICE}-blue"}[5s]))`
      )
    }

    const control: ControlServer = await startControlServer({ behaviours, mesh, api })
    stops.push(() => control.close())

    const kubeconfigPath = path.join(dir, 'kubeconfig')
    // HTTPS with the sandbox CA, as a real cluster: clients such as kubectl send tokens only over TLS.
    await writeFile(kubeconfigPath, api.kubeconfig(SEED_NAMESPACE), { mode: 0o600 })
    const env: SandboxEnv = {
      KUBECONFIG: kubeconfigPath,
      ...(prometheus ? { PROMETHEUS_URL: prometheus.url } : {}),
      SANDBOX_CONTROL_URL: control.url
    }
    const envPath = path.join(dir, 'env')
    await writeFile(envPath, envLines(env).join('\n') + '\n')

    let stopped: Promise<void> | undefined
    return {
      dir,
      kubeconfigPath,
      envPath,
      env,
      api,
      behaviours,
      mesh,
      controlUrl: control.url,
      ...(prometheus ? { prometheusUrl: prometheus.url, prometheus } : {}),
      stop: () => (stopped ??= stopAll())
    }
  } catch (err) {
    await stopAll().catch(() => undefined)
    throw err
  }
}

/** `KEY=value` lines of the env file, in a fixed order. */
export function envLines(env: SandboxEnv): string[] {
  return (['KUBECONFIG', 'PROMETHEUS_URL', 'SANDBOX_CONTROL_URL'] as const)
    .filter((k) => env[k] !== undefined)
    .map((k) => `${k}=${env[k]}`)
}

async function waitForSeedPods(store: Pick<ObjectStore, 'list'>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const ready = store
      .list('pods', SEED_NAMESPACE)
      .filter(
        (p) =>
          p.metadata.labels?.['app'] === SEED_SERVICE &&
          p.metadata.labels['version'] === 'blue' &&
          isReady(p)
      ).length
    if (ready >= SEED_REPLICAS) return
    if (Date.now() > until) {
      throw new Error(
        `the seeded Deployment ${SEED_SERVICE}-blue has ${ready}/${SEED_REPLICAS} ready pods after ${timeoutMs} ms`
      )
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}
