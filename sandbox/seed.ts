/**
 * The starting cluster of the sandbox: the state a team has before its first
 * blue/green release with the action. One service, `reviews` in namespace
 * `demo`, served by the blue color and routed 100% to it.
 */
import type { KubeObject, ObjectStore, ResourceName } from './types.js'

export const SEED_NAMESPACE = 'demo'
export const SEED_SERVICE = 'reviews'
export const SEED_IMAGE = 'example.com/reviews:1.0.0'
export const SEED_REPLICAS = 3

/** The seed objects, in creation order. */
export function seedObjects(): Array<{ resource: ResourceName; object: KubeObject }> {
  const ns = SEED_NAMESPACE
  const podLabels = { app: SEED_SERVICE, version: 'blue' }
  return [
    {
      resource: 'namespaces',
      object: {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns, labels: { 'istio-injection': 'enabled' } }
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
          ports: [{ name: 'http', port: 9080, targetPort: 9080, protocol: 'TCP' }]
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
    {
      resource: 'destinationrules',
      object: {
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: SEED_SERVICE, namespace: ns },
        spec: { host: SEED_SERVICE, subsets: [{ name: 'blue', labels: { version: 'blue' } }] }
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
}

/**
 * Writes the seed through the store (internal writes: no auth, no faults).
 * Objects that already exist are left as they are, so seeding is idempotent.
 */
export function seed(store: Pick<ObjectStore, 'get' | 'create'>): void {
  for (const { resource, object } of seedObjects()) {
    if (store.get(resource, object.metadata.namespace, object.metadata.name)) continue
    store.create(resource, object)
  }
}
