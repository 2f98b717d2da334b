/**
 * The one place that builds the adapters behind the ports (src/ports.ts) from the settings, or
 * from a rollout record: the main step, the post step and every command get them here. A new
 * router is one adapter file and one case in routerFor.
 */
import type { Settings } from '../inputs.js'
import type { RouterConfig } from '../core/record.js'
import type { ServiceRef } from '../core/routes.js'
import type { MetricsSource, RecordStore, TrafficRouter } from '../ports.js'
import { gatewayVersion, GatewayRouter } from './gateway.js'
import { istioVersion, IstioRouter } from './istio.js'
import { maskKubeconfigSecrets, transportWarnings } from '../secrets.js'
import { Kube, type KubeApi, loadKubeConfig } from './kube.js'
import { LeaseStore } from './lease.js'
import { Prometheus, PrometheusMetrics } from './prometheus.js'
import { type Clock, systemClock } from '../log.js'

/**
 * The router a rollout's config names: a continued rollout gets the record's, not the inputs'.
 * `clock` is the run's: the routers' waits (after a write conflict) pass on it.
 */
export function routerFor(
  kube: KubeApi,
  service: ServiceRef,
  config: RouterConfig,
  clock: Clock = systemClock
): TrafficRouter {
  switch (config.kind) {
    case 'istio':
      return new IstioRouter(kube, service, config, clock)
    case 'gateway-api':
      return new GatewayRouter(kube, service, config, clock)
    default: {
      const kind = (config as { kind?: unknown }).kind
      throw new Error(
        `the rollout names router ${JSON.stringify(kind)}, which this version of istio-bluegreen does not know: run this command with the release that started the rollout`
      )
    }
  }
}

/** The router config of a new rollout, from the settings and what the cluster serves. */
export async function routerConfigFrom(
  settings: Readonly<Settings>,
  kube: KubeApi
): Promise<RouterConfig> {
  if (settings.router === 'gateway-api') {
    return {
      kind: 'gateway-api',
      apiVersion: await gatewayVersion(kube),
      objects: [...settings.httpRoutes],
      routes: [...settings.routes]
    }
  }
  return {
    kind: 'istio',
    apiVersion: await istioVersion(kube),
    objects: [...settings.virtualServices],
    routes: [...settings.routes],
    destinationRule: settings.destinationRule
  }
}

/**
 * The metrics source at a Prometheus base URL, reached with this run's own transport inputs
 * (CA, token, headers, timeout). A recorded URL holds no credentials: a later run brings its own
 * (token, headers, or a user and password in its prometheus-url).
 */
export function metricsAt(s: Readonly<Settings>): (url: string) => MetricsSource {
  return (url) =>
    new PrometheusMetrics(
      new Prometheus(url, {
        timeoutMs: s.prometheusTimeoutMs,
        ca: s.prometheusCa,
        token: s.prometheusToken,
        basicAuth: s.prometheusBasicAuth,
        headers: s.prometheusHeaders
      })
    )
}

/** The record store of the service: its Lease, held as `runId`. */
export function recordStoreFor(
  kube: KubeApi,
  namespace: string,
  s: Readonly<Settings>,
  runId: string
): RecordStore & LeaseStore {
  return new LeaseStore(kube, namespace, s.service, runId, {
    durationSeconds: s.leaseDurationMs / 1000
  })
}

/** What every step of the action needs first: the cluster, the namespace, the record store. */
export interface Connection {
  kube: KubeApi
  namespace: string
  records: RecordStore & LeaseStore
}

/**
 * Connect to the cluster the settings name and open the service's record store as `runId`:
 * shared by the main step and the post step. Kubeconfig credentials are masked before anything
 * can print them; `warn` gets the transport warnings (the main step shows them, once).
 */
export function connect(
  settings: Readonly<Settings>,
  runId: string,
  warn?: (warning: string) => void
): Connection {
  const kubeConfig = loadKubeConfig(settings)
  maskKubeconfigSecrets(kubeConfig)
  if (warn) for (const w of transportWarnings(settings, kubeConfig.getCurrentCluster())) warn(w)
  const kube = new Kube(kubeConfig)
  const namespace = settings.namespace ?? kube.contextNamespace() ?? 'default'
  return { kube, namespace, records: recordStoreFor(kube, namespace, settings, runId) }
}
