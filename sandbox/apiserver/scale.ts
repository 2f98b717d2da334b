/** The autoscaling/v1 Scale view of a Deployment (the `scale` subresource). */
import type { KubeObject } from '../types.js'
import { isObject } from './json.js'
import { formatRequirements, labelSelectorRequirements } from './selectors.js'

export function scaleOf(deployment: KubeObject): KubeObject {
  const spec = deployment.spec ?? {}
  const status = deployment.status ?? {}
  const { name, namespace, uid, resourceVersion, creationTimestamp } = deployment.metadata
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: typeof spec.replicas === 'number' ? spec.replicas : 0 },
    status: {
      replicas: typeof status.replicas === 'number' ? status.replicas : 0,
      selector: formatRequirements(labelSelectorRequirements(spec.selector) ?? [])
    }
  }
}

/** The replicas a Scale asks for; undefined when it is not a count. */
export function scaleToReplicas(scale: KubeObject): number | undefined {
  const replicas = isObject(scale.spec) ? scale.spec.replicas : undefined
  if (replicas === undefined) return 0
  return typeof replicas === 'number' && Number.isInteger(replicas) && replicas >= 0
    ? replicas
    : undefined
}
