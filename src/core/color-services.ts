/**
 * The per-color Services `<service>-blue` and `<service>-green` that HTTPRoute backendRefs name:
 * planned from the service's own Service, kept in step with it, never taken from someone else.
 * Pure: the adapter reads both Services, calls `colorServicePlan` and writes what it says.
 */
import type { Color } from './color.js'
import { colorServiceName } from './httproute.js'
import type { JsonPatchOp } from './routes.js'

/** Label on every object the action creates, the one it recognises its own Services by. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by'
export const MANAGED_BY = 'istio-bluegreen'
/** Annotation naming the Service a color Service was planned from. */
export const COLOR_SERVICE_OF_ANNOTATION = 'istio-bluegreen.io/color-service-of'

export interface ServicePort {
  name?: string
  port: number
  targetPort?: number | string
  protocol?: string
  appProtocol?: string
  nodePort?: number
  [key: string]: unknown
}

/** The parts of a Service object the plan reads. */
export interface ServiceObject {
  metadata: {
    name: string
    namespace?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    resourceVersion?: string
    [key: string]: unknown
  }
  spec?: {
    type?: string
    selector?: Record<string, string>
    ports?: ServicePort[]
    clusterIP?: string
    [key: string]: unknown
  }
}

export type ColorServicePlan =
  | { action: 'create'; body: ServiceObject }
  | { action: 'patch'; ops: JsonPatchOp[] }
  | { action: 'none' }
  | { error: string }

/** The port fields a color Service copies; defaults filled in as the API server stores them. */
function portOf(p: ServicePort): ServicePort {
  const port: ServicePort = {
    ...(p.name !== undefined ? { name: p.name } : {}),
    port: p.port,
    targetPort: p.targetPort ?? p.port,
    protocol: p.protocol ?? 'TCP'
  }
  if (p.appProtocol !== undefined) port.appProtocol = p.appProtocol
  return port
}

function samePorts(a: readonly ServicePort[], b: readonly ServicePort[]): boolean {
  const key = (ports: readonly ServicePort[]): string =>
    JSON.stringify(
      ports
        .map(portOf)
        .map((p) => [p.name ?? '', p.port, p.targetPort, p.protocol, p.appProtocol ?? ''])
        .sort((x, y) => String(x).localeCompare(String(y)))
    )
  return key(a) === key(b)
}

function sameSelector(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a)
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k])
}

function show(selector: Record<string, string> | undefined): string {
  const pairs = Object.entries(selector ?? {}).map(([k, v]) => `${k}=${v}`)
  return pairs.length > 0 ? pairs.join(',') : 'nothing'
}

/**
 * The Service `<service>-<color>` should be: the service's selector plus `<colorLabel>=<color>`,
 * its ports (name, port, targetPort, protocol, appProtocol; never a nodePort), type ClusterIP
 * whatever the service's type (no clusterIP copied: the API server allocates one), labelled as
 * the action's own. An error when the service cannot be split by color.
 */
export function desiredColorService(
  service: ServiceObject,
  colorLabel: string,
  color: Color
): { body: ServiceObject } | { error: string } {
  const name = service.metadata.name
  const spec = service.spec ?? {}
  if (spec.type === 'ExternalName') {
    return {
      error: `Service ${name} is of type ExternalName: it has no pods to split by color; point input "service" at a Service that selects the pods`
    }
  }
  const selector = spec.selector ?? {}
  if (Object.keys(selector).length === 0) {
    return {
      error: `Service ${name} has no selector (its endpoints are managed by hand), so no color Service can select the pods of one color; give ${name} a selector for the service's pods (e.g. app: ${name})`
    }
  }
  if (colorLabel in selector) {
    return {
      error: `Service ${name} selects ${colorLabel}=${selector[colorLabel]}, the color label, so it can only ever reach one color; remove ${colorLabel} from its selector, or set input "color-label" to the label that carries the color`
    }
  }
  const ports = spec.ports ?? []
  if (ports.length === 0) {
    return {
      error: `Service ${name} has no ports; an HTTPRoute backendRef needs a port: add the service's port to ${name}`
    }
  }
  return {
    body: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: colorServiceName(name, color),
        ...(service.metadata.namespace !== undefined
          ? { namespace: service.metadata.namespace }
          : {}),
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
        annotations: { [COLOR_SERVICE_OF_ANNOTATION]: name }
      },
      spec: {
        type: 'ClusterIP',
        selector: { ...selector, [colorLabel]: color },
        ports: ports.map(portOf)
      }
    } as ServiceObject
  }
}

/** Whether a Service carries the action's label, so the action may change it. */
export function isManaged(service: ServiceObject): boolean {
  return service.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY
}

/**
 * What to do so that `<service>-<color>` is as `desiredColorService` says: create it when
 * missing; patch selector, ports and type when the action's own Service drifted (guarded by its
 * resourceVersion); nothing when it is in step. A Service of that name the action did not
 * create is used as it is when it selects and serves the same, and is an error otherwise: it is
 * someone else's and is never overwritten.
 */
export function colorServicePlan(
  service: ServiceObject,
  existing: ServiceObject | undefined,
  colorLabel: string,
  color: Color
): ColorServicePlan {
  const desired = desiredColorService(service, colorLabel, color)
  if ('error' in desired) return desired
  const body = desired.body
  if (!existing) return { action: 'create', body }
  const want = body.spec ?? {}
  const have = existing.spec ?? {}
  const selectorOk = sameSelector(have.selector ?? {}, want.selector ?? {})
  const portsOk = samePorts(have.ports ?? [], want.ports ?? [])
  const typeOk = (have.type ?? 'ClusterIP') === 'ClusterIP'
  if (selectorOk && portsOk && typeOk) return { action: 'none' }
  const name = body.metadata.name
  if (!isManaged(existing)) {
    const what = !selectorOk
      ? `selects ${show(have.selector)}, not ${show(want.selector)}`
      : !portsOk
        ? `has ports other than those of ${service.metadata.name}`
        : `is of type ${have.type}, not ClusterIP`
    return {
      error: `Service ${name} exists and ${what}, and istio-bluegreen did not create it (no label ${MANAGED_BY_LABEL}=${MANAGED_BY}); it will not overwrite it: delete or rename it so the action can create its own, or make it select ${show(want.selector)} with the ports of ${service.metadata.name}`
    }
  }
  const ops: JsonPatchOp[] = [
    { op: 'replace', path: '/metadata/resourceVersion', value: existing.metadata.resourceVersion }
  ]
  // `add` sets a member whether or not it is there (`replace` fails on an absent selector). Ports
  // are written whole with the type, so a NodePort Service turned back to ClusterIP loses its
  // nodePorts in the same write.
  if (!typeOk) ops.push({ op: 'add', path: '/spec/type', value: 'ClusterIP' })
  if (!selectorOk) ops.push({ op: 'add', path: '/spec/selector', value: want.selector })
  if (!portsOk || !typeOk) ops.push({ op: 'add', path: '/spec/ports', value: want.ports })
  return { action: 'patch', ops }
}
