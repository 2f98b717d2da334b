/**
 * Deployments as data: building the candidate from a template, and reading readiness and pod
 * trouble from status. No I/O.
 */
import { type Color, deploymentName } from './color.js'

/** The parts of a Deployment these functions read and write; everything else is carried as is. */
export interface DeploymentObject {
  apiVersion?: string
  kind?: string
  metadata: {
    name: string
    namespace?: string
    resourceVersion?: string
    generation?: number
    labels?: Record<string, string>
    annotations?: Record<string, string>
    [key: string]: unknown
  }
  spec?: {
    replicas?: number
    selector?: { matchLabels?: Record<string, string>; [key: string]: unknown }
    template?: {
      metadata?: { labels?: Record<string, string>; [key: string]: unknown }
      spec?: {
        containers?: Array<{ name: string; image?: string; [key: string]: unknown }>
        [key: string]: unknown
      }
    }
    [key: string]: unknown
  }
  status?: {
    observedGeneration?: number
    replicas?: number
    updatedReplicas?: number
    readyReplicas?: number
    availableReplicas?: number
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>
    [key: string]: unknown
  }
  [key: string]: unknown
}

export interface CandidateSpec {
  service: string
  namespace: string
  color: Color
  colorLabel: string
  /** New image; undefined keeps the template's (manifests that carry their own image). */
  image?: string
  /** Container to set the image on; undefined: the first. */
  container?: string
  replicas: number
}

/** Annotations that belong to the object they were read from, not to a copy of it. */
const OBJECT_ANNOTATIONS = [
  'deployment.kubernetes.io/revision',
  'kubectl.kubernetes.io/last-applied-configuration'
]

/**
 * The candidate Deployment `<service>-<color>` made from a template (the stable Deployment or
 * the user's manifest): same pod spec, the color in its labels and selector, the new image.
 */
export function buildCandidate(
  template: DeploymentObject,
  c: CandidateSpec
): { deployment: DeploymentObject } | { error: string } {
  const spec = structuredClone(template.spec ?? {})
  const containers = spec.template?.spec?.containers ?? []
  if (containers.length === 0) {
    return { error: `Deployment ${template.metadata.name} has no containers in its pod template` }
  }
  const target =
    c.container === undefined ? containers[0] : containers.find((k) => k.name === c.container)
  if (!target) {
    return {
      error: `input "container": Deployment ${template.metadata.name} has no container "${c.container}" (it has: ${containers.map((k) => k.name).join(', ')})`
    }
  }
  if (c.image !== undefined) target.image = c.image
  spec.replicas = c.replicas
  spec.selector = {
    ...spec.selector,
    matchLabels: { ...spec.selector?.matchLabels, [c.colorLabel]: c.color }
  }
  spec.template = {
    ...spec.template,
    metadata: {
      ...spec.template?.metadata,
      labels: { ...spec.template?.metadata?.labels, app: c.service, [c.colorLabel]: c.color }
    }
  }
  const annotations = Object.fromEntries(
    Object.entries(template.metadata.annotations ?? {}).filter(
      ([k]) => !OBJECT_ANNOTATIONS.includes(k)
    )
  )
  return {
    deployment: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: deploymentName(c.service, c.color),
        namespace: c.namespace,
        labels: { ...template.metadata.labels, app: c.service, [c.colorLabel]: c.color },
        annotations
      },
      spec
    }
  }
}

/** The image of the named (or first) container of a Deployment. */
export function imageOf(d: DeploymentObject, container?: string): string | undefined {
  const containers = d.spec?.template?.spec?.containers ?? []
  const c = container === undefined ? containers[0] : containers.find((k) => k.name === container)
  return c?.image
}

export interface Readiness {
  ready: boolean
  /** e.g. `2/3 available` */
  summary: string
}

/** Whether the controller has rolled out the current spec and every replica is available. */
export function readiness(d: DeploymentObject): Readiness {
  const want = d.spec?.replicas ?? 1
  const s = d.status ?? {}
  const observed = (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0)
  const updated = s.updatedReplicas ?? 0
  const available = s.availableReplicas ?? 0
  const ready = observed && updated >= want && available >= want && (s.replicas ?? 0) <= want
  const summary = observed
    ? `${available}/${want} available, ${updated}/${want} updated`
    : 'the controller has not seen the new spec yet'
  return { ready, summary }
}

/** A Pod as far as its deletion goes. */
export interface DeletablePod {
  metadata: { name: string; deletionTimestamp?: string | null }
}

/**
 * Whether a pod is Terminating: deleted, with its grace period running (deletionTimestamp set).
 * It is on its way out and its Deployment no longer counts it, so it says nothing about the
 * readiness of the Deployment or about which pods are in the mesh.
 */
export function isTerminating(pod: DeletablePod): boolean {
  const at = pod.metadata.deletionTimestamp
  return typeof at === 'string' && at !== ''
}

/** A Pod as far as readiness trouble goes. */
export interface PodObject {
  metadata: { name: string; deletionTimestamp?: string | null }
  status?: {
    phase?: string
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>
    containerStatuses?: Array<{
      name: string
      ready?: boolean
      restartCount?: number
      state?: {
        waiting?: { reason?: string; message?: string }
        terminated?: { reason?: string; exitCode?: number; message?: string }
      }
    }>
  }
}

/**
 * Why pods are not ready, grouped: `3 pods: ImagePullBackOff (Back-off pulling image "x")`.
 * Empty when every pod is ready.
 */
export function podTrouble(pods: readonly PodObject[]): string {
  const byReason = new Map<string, string[]>()
  for (const pod of pods) {
    const status = pod.status ?? {}
    const ready = status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
    if (ready) continue
    let reason: string | undefined
    for (const cs of status.containerStatuses ?? []) {
      const w = cs.state?.waiting
      const t = cs.state?.terminated
      if (w?.reason) reason = `${w.reason}${w.message ? ` (${w.message})` : ''}`
      else if (t?.reason) reason = `${t.reason}, exit code ${t.exitCode ?? '?'}`
      if (reason) break
    }
    if (!reason) {
      const unscheduled = status.conditions?.find(
        (c) => c.type === 'PodScheduled' && c.status === 'False'
      )
      if (unscheduled)
        reason = `${unscheduled.reason ?? 'Unschedulable'}${unscheduled.message ? ` (${unscheduled.message})` : ''}`
    }
    reason ??= `not ready (phase ${status.phase ?? 'unknown'})`
    byReason.set(reason, [...(byReason.get(reason) ?? []), pod.metadata.name])
  }
  return [...byReason]
    .map(([reason, names]) => `${names.length} pod${names.length === 1 ? '' : 's'}: ${reason}`)
    .join('; ')
}

/** A Pod as far as mesh membership goes. */
export interface MeshPod {
  metadata: {
    name: string
    annotations?: Record<string, string>
    deletionTimestamp?: string | null
  }
  spec?: { containers?: Array<{ name: string }>; initContainers?: Array<{ name: string }> }
}

/**
 * Whether a pod is in the mesh: it runs the istio-proxy sidecar (as a container, or a native
 * sidecar init container), or ambient mode redirects its traffic. Outside the mesh a pod gets
 * neither route weights nor telemetry.
 */
export function inMesh(pod: MeshPod): boolean {
  const annotations = pod.metadata.annotations ?? {}
  if (annotations['sidecar.istio.io/status']) return true
  if (annotations['ambient.istio.io/redirection'] === 'enabled') return true
  const named = (list?: Array<{ name: string }>): boolean =>
    (list ?? []).some((c) => c.name === 'istio-proxy')
  return named(pod.spec?.containers) || named(pod.spec?.initContainers)
}
