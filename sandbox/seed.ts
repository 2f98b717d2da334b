/**
 * The starting cluster of the sandbox: the state a team has before its first
 * blue/green release with the action. One service, `reviews` in namespace
 * `demo`, served by the blue color and routed 100% to it: by default through an Istio
 * VirtualService and DestinationRule; with `router` through a Gateway API HTTPRoute instead,
 * attached to the Service itself (mesh, GAMMA) or to a Gateway (north-south).
 */
import type { KubeObject, ObjectStore, ResourceName } from './types.js'

export const SEED_NAMESPACE = 'demo'
export const SEED_SERVICE = 'reviews'
export const SEED_IMAGE = 'example.com/reviews:1.0.0'
export const SEED_REPLICAS = 3
export const SEED_PORT = 9080
/** The Gateway the `http-route-gateway` seed attaches its HTTPRoute to. */
export const SEED_GATEWAY = 'edge'

/**
 * How the seeded service is routed: `virtual-service` (default), or an HTTPRoute `reviews` whose
 * parent is the Service (`http-route-mesh`) or the Gateway `edge` (`http-route-gateway`).
 */
export type SeedRouter = 'virtual-service' | 'http-route-mesh' | 'http-route-gateway'
export const SEED_ROUTERS: readonly SeedRouter[] = Object.freeze([
  'virtual-service',
  'http-route-mesh',
  'http-route-gateway'
])

/**
 * The seeded namespace's data plane: `sidecar` (default: `istio-injection=enabled`), or `ambient`
 * (`istio.io/dataplane-mode=ambient` with the namespace's waypoint, `istio.io/use-waypoint`):
 * no sidecars, and the waypoint reports the HTTP metrics with `reporter="waypoint"`.
 */
export type SeedDataPlane = 'sidecar' | 'ambient'

export interface SeedOptions {
  router?: SeedRouter
  dataPlane?: SeedDataPlane
}

/** The seeded HTTPRoute: one rule, one bare backendRef to the service itself. */
export function seedHttpRoute(parent: 'mesh' | 'gateway'): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: SEED_SERVICE, namespace: SEED_NAMESPACE },
    spec: {
      parentRefs: [
        parent === 'mesh'
          ? { group: '', kind: 'Service', name: SEED_SERVICE, port: SEED_PORT }
          : { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: SEED_GATEWAY }
      ],
      ...(parent === 'gateway' ? { hostnames: ['reviews.example.com'] } : {}),
      rules: [{ backendRefs: [{ name: SEED_SERVICE, port: SEED_PORT }] }]
    }
  }
}

/** The seed objects, in creation order. */
export function seedObjects(
  o: SeedOptions = {}
): Array<{ resource: ResourceName; object: KubeObject }> {
  const ns = SEED_NAMESPACE
  const podLabels = { app: SEED_SERVICE, version: 'blue' }
  const router = o.router ?? 'virtual-service'
  const nsLabels: Record<string, string> =
    (o.dataPlane ?? 'sidecar') === 'ambient'
      ? { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'waypoint' }
      : { 'istio-injection': 'enabled' }
  const routing: Array<{ resource: ResourceName; object: KubeObject }> =
    router === 'virtual-service'
      ? [
          {
            resource: 'destinationrules',
            object: {
              apiVersion: 'networking.istio.io/v1',
              kind: 'DestinationRule',
              metadata: { name: SEED_SERVICE, namespace: ns },
              spec: {
                host: SEED_SERVICE,
                subsets: [{ name: 'blue', labels: { version: 'blue' } }]
              }
            }
          },
          {
            resource: 'virtualservices',
            object: {
              apiVersion: 'networking.istio.io/v1',
              kind: 'VirtualService',
              metadata: { name: SEED_SERVICE, namespace: ns },
              spec: {
                hosts: [SEED_SERVICE],
                http: [
                  {
                    name: 'primary',
                    route: [{ destination: { host: SEED_SERVICE, subset: 'blue' }, weight: 100 }]
                  }
                ]
              }
            }
          }
        ]
      : [
          {
            resource: 'httproutes',
            object: seedHttpRoute(router === 'http-route-mesh' ? 'mesh' : 'gateway')
          }
        ]
  return [
    {
      resource: 'namespaces',
      object: {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns, labels: nsLabels }
      }
    },
    {
      resource: 'services',
      object: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: SEED_SERVICE, namespace: ns, labels: { app: SEED_SERVICE } },
        spec: {
          type: 'ClusterIP',
          selector: { app: SEED_SERVICE },
          ports: [{ name: 'http', port: SEED_PORT, targetPort: SEED_PORT, protocol: 'TCP' }]
        }
      }
    },
    {
      resource: 'deployments',
      object: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: `${SEED_SERVICE}-blue`, namespace: ns, labels: { ...podLabels } },
        spec: {
          replicas: SEED_REPLICAS,
          selector: { matchLabels: { ...podLabels } },
          template: {
            metadata: { labels: { ...podLabels } },
            spec: {
              containers: [
                {
                  name: SEED_SERVICE,
                  image: SEED_IMAGE,
                  ports: [{ containerPort: 9080, name: 'http' }]
                }
              ]
            }
          }
        }
      }
    },
    ...routing
  ]
}

/**
 * Writes the seed through the store (internal writes: no auth, no faults).
 * Objects that already exist are left as they are, so seeding is idempotent.
 */
export function seed(store: Pick<ObjectStore, 'get' | 'create'>, o: SeedOptions = {}): void {
  for (const { resource, object } of seedObjects(o)) {
    if (store.get(resource, object.metadata.namespace, object.metadata.name)) continue
    store.create(resource, object)
  }
}
