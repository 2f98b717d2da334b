/**
 * Pods as the ReplicaSet controller, the Istio sidecar injector and the kubelet would leave them:
 * names and labels from the template hash, an owner reference to a ReplicaSet-like name, an
 * injected istio-proxy where the namespace asks for it, and a status that follows each
 * container image's behaviour (ready after its startup delay, or waiting with a reason).
 */
import { createHash } from 'node:crypto'
import type { ImageBehaviour, KubeObject } from '../types.js'
import { clone, isObject, kubeTime, type JsonObject } from './json.js'

const SAFE_CHARS = 'bcdfghjklmnpqrstvwxz2456789'

/**
 * rand.SafeEncodeString of the decimal FNV-32a hash, as kube names ReplicaSets. kube hashes the
 * decoded Go struct, whose field order is fixed, so the hash is taken over canonical JSON (object
 * keys sorted at every level): a template sent with its keys in another order is the same
 * template, and must not start a rollout.
 */
export function podTemplateHash(template: unknown): string {
  let h = 0x811c9dc5
  for (const byte of Buffer.from(canonicalJson(template ?? {}), 'utf8')) {
    h ^= byte
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return [...String(h)].map((c) => SAFE_CHARS[c.charCodeAt(0) % SAFE_CHARS.length]).join('')
}

/** JSON with object keys sorted recursively: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (isObject(value)) {
    const entries = Object.keys(value)
      .sort()
      .filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

export function randomChars(n: number): string {
  let out = ''
  for (let i = 0; i < n; i++) out += SAFE_CHARS[Math.floor(Math.random() * SAFE_CHARS.length)]
  return out
}

/** A stable uid for the ReplicaSet a pod claims to belong to. */
export function replicaSetUid(deploymentUid: string, hash: string): string {
  const h = createHash('sha1').update(`${deploymentUid}/${hash}`).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

export const PROXY_IMAGE = 'docker.io/istio/proxyv2:1.24.0'

/** Whether the sidecar injector would inject this pod (namespace label, pod opt-out). */
export function wantsSidecar(namespace: KubeObject | undefined, template: JsonObject): boolean {
  const nsLabels = namespace?.metadata.labels ?? {}
  const enabled =
    nsLabels['istio-injection'] === 'enabled' ||
    (nsLabels['istio.io/rev'] !== undefined && nsLabels['istio-injection'] !== 'disabled')
  const meta = isObject(template.metadata) ? template.metadata : {}
  const labels = isObject(meta.labels) ? meta.labels : {}
  const annotations = isObject(meta.annotations) ? meta.annotations : {}
  const optOut =
    labels['sidecar.istio.io/inject'] === 'false' ||
    annotations['sidecar.istio.io/inject'] === 'false'
  return enabled && !optOut
}

/**
 * Whether istio-cni would capture this pod's traffic for ambient mode (namespace or pod label
 * `istio.io/dataplane-mode: ambient`, no pod opt-out with `none`, no sidecar): it then annotates
 * the pod `ambient.istio.io/redirection: enabled`.
 */
export function wantsAmbient(namespace: KubeObject | undefined, template: JsonObject): boolean {
  const meta = isObject(template.metadata) ? template.metadata : {}
  const labels = isObject(meta.labels) ? meta.labels : {}
  const mode =
    labels['istio.io/dataplane-mode'] ?? namespace?.metadata.labels?.['istio.io/dataplane-mode']
  return mode === 'ambient' && !wantsSidecar(namespace, template)
}

export interface NewPod {
  deployment: KubeObject
  template: JsonObject
  hash: string
  inject: boolean
  /** Captured by ambient mode (see wantsAmbient). */
  ambient?: boolean
  podIP: string
}

export function buildPod(p: NewPod): KubeObject {
  const rsName = `${p.deployment.metadata.name}-${p.hash}`
  const meta = isObject(p.template.metadata) ? clone(p.template.metadata) : {}
  const labels: Record<string, string> = {
    ...(isObject(meta.labels) ? (meta.labels as Record<string, string>) : {}),
    'pod-template-hash': p.hash
  }
  const annotations: Record<string, string> = isObject(meta.annotations)
    ? { ...(meta.annotations as Record<string, string>) }
    : {}
  const spec: JsonObject = isObject(p.template.spec) ? clone(p.template.spec) : {}
  spec.nodeName = 'sandbox-node'
  if (p.inject) {
    const containers = Array.isArray(spec.containers) ? spec.containers : []
    spec.containers = [
      ...containers,
      {
        name: 'istio-proxy',
        image: PROXY_IMAGE,
        args: ['proxy', 'sidecar'],
        ports: [{ containerPort: 15090, name: 'http-envoy-prom', protocol: 'TCP' }]
      }
    ]
    spec.initContainers = [
      ...(Array.isArray(spec.initContainers) ? spec.initContainers : []),
      { name: 'istio-init', image: PROXY_IMAGE, args: ['istio-iptables'] }
    ]
    labels['security.istio.io/tlsMode'] = 'istio'
    labels['service.istio.io/canonical-name'] = labels.app ?? p.deployment.metadata.name
    labels['service.istio.io/canonical-revision'] = labels.version ?? 'latest'
    annotations['sidecar.istio.io/status'] = JSON.stringify({
      initContainers: ['istio-init'],
      containers: ['istio-proxy'],
      volumes: [],
      imagePullSecrets: null,
      revision: 'default'
    })
  }
  if (p.ambient && !p.inject) annotations['ambient.istio.io/redirection'] = 'enabled'
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${rsName}-${randomChars(5)}`,
      namespace: p.deployment.metadata.namespace,
      labels,
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: rsName,
          uid: replicaSetUid(p.deployment.metadata.uid ?? '', p.hash),
          controller: true,
          blockOwnerDeletion: true
        }
      ]
    },
    spec,
    status: { phase: 'Pending', podIP: p.podIP, podIPs: [{ ip: p.podIP }] }
  }
}

export function containerImages(pod: KubeObject): Array<{ name: string; image: string }> {
  const containers = Array.isArray(pod.spec?.containers) ? pod.spec.containers : []
  return containers.filter(isObject).map((c) => ({ name: String(c.name), image: String(c.image) }))
}

const IMAGE_PULL_REASONS = new Set([
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'ErrImageNeverPull'
])

function waitingMessage(reason: string, image: string, container: string, pod: KubeObject): string {
  if (IMAGE_PULL_REASONS.has(reason)) return `Back-off pulling image "${image}"`
  if (reason === 'CrashLoopBackOff') {
    return `back-off 10s restarting failed container=${container} pod=${pod.metadata.name}_${pod.metadata.namespace ?? ''}(${pod.metadata.uid ?? ''})`
  }
  return `container ${container} is waiting: ${reason}`
}

function condition(
  type: string,
  ok: boolean,
  since: string,
  reason?: string,
  message?: string
): JsonObject {
  return {
    type,
    status: ok ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: since,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {})
  }
}

/**
 * The kubelet's view of a pod at `now`: `readyAt` is when its containers pass their readiness
 * probes (undefined while some image is broken).
 */
export function podStatus(
  pod: KubeObject,
  behaviourOf: (image: string) => ImageBehaviour,
  readyAt: number | undefined,
  now: number
): JsonObject {
  const previous = pod.status ?? {}
  const startTime =
    typeof previous.startTime === 'string' ? previous.startTime : kubeTime(new Date(now))
  const since = (type: string, ok: boolean): string => {
    const conditions = Array.isArray(previous.conditions) ? previous.conditions : []
    const old = conditions.find((c) => isObject(c) && c.type === type)
    return isObject(old) &&
      old.status === (ok ? 'True' : 'False') &&
      typeof old.lastTransitionTime === 'string'
      ? old.lastTransitionTime
      : kubeTime(new Date(now))
  }
  const ready = readyAt !== undefined && now >= readyAt
  let pulling = false
  const statuses = containerImages(pod).map(({ name, image }) => {
    const b = behaviourOf(image)
    const base = {
      name,
      image,
      imageID: `${image.split(':')[0] ?? image}@sha256:${createHash('sha256').update(image).digest('hex')}`,
      containerID: `containerd://${createHash('sha256').update(`${pod.metadata.name}/${name}`).digest('hex')}`
    }
    if (!b.ready) {
      if (IMAGE_PULL_REASONS.has(b.notReadyReason)) pulling = true
      const crash = b.notReadyReason === 'CrashLoopBackOff'
      return {
        ...base,
        state: {
          waiting: {
            reason: b.notReadyReason,
            message: waitingMessage(b.notReadyReason, image, name, pod)
          }
        },
        lastState: crash
          ? {
              terminated: {
                exitCode: 1,
                reason: 'Error',
                startedAt: startTime,
                finishedAt: startTime
              }
            }
          : {},
        ready: false,
        restartCount: crash ? 1 : 0,
        started: false
      }
    }
    return {
      ...base,
      state: { running: { startedAt: startTime } },
      lastState: {},
      ready,
      restartCount: 0,
      started: true
    }
  })
  const unready = statuses.filter((s) => !s.ready).map((s) => s.name)
  const notReadyMessage = `containers with unready status: [${unready.join(' ')}]`
  return {
    phase: pulling ? 'Pending' : 'Running',
    conditions: [
      condition('PodReadyToStartContainers', true, since('PodReadyToStartContainers', true)),
      condition('Initialized', true, since('Initialized', true)),
      ready
        ? condition('Ready', true, since('Ready', true))
        : condition('Ready', false, since('Ready', false), 'ContainersNotReady', notReadyMessage),
      ready
        ? condition('ContainersReady', true, since('ContainersReady', true))
        : condition(
            'ContainersReady',
            false,
            since('ContainersReady', false),
            'ContainersNotReady',
            notReadyMessage
          ),
      condition('PodScheduled', true, since('PodScheduled', true))
    ],
    hostIP: '10.0.0.10',
    hostIPs: [{ ip: '10.0.0.10' }],
    podIP: previous.podIP,
    podIPs: previous.podIPs,
    startTime,
    containerStatuses: statuses,
    qosClass: 'BestEffort'
  }
}

export function isPodReady(pod: KubeObject): boolean {
  const conditions = Array.isArray(pod.status?.conditions) ? pod.status.conditions : []
  return conditions.some((c) => isObject(c) && c.type === 'Ready' && c.status === 'True')
}

/** A pod being deleted gracefully (metadata.deletionTimestamp set): kubectl's "Terminating". */
export function isTerminating(pod: KubeObject): boolean {
  return typeof pod.metadata.deletionTimestamp === 'string'
}

/** The grace period a pod's deletion gets by default: spec.terminationGracePeriodSeconds (30). */
export function podGraceSeconds(pod: KubeObject): number {
  const grace = pod.spec?.terminationGracePeriodSeconds
  return typeof grace === 'number' && grace >= 0 ? grace : 30
}

/**
 * Whether kube deletes a pod at once rather than gracefully: no grace asked, never scheduled to a
 * node, or already finished (the pod strategy's CheckGracefulDelete).
 */
export function deletesAtOnce(pod: KubeObject, graceSeconds: number): boolean {
  const phase = pod.status?.phase
  return graceSeconds <= 0 || !pod.spec?.nodeName || phase === 'Succeeded' || phase === 'Failed'
}

/**
 * The pod as a graceful deletion leaves it at `now`: deletionTimestamp (now + grace, in seconds)
 * and deletionGracePeriodSeconds set, and no longer Ready, as the kubelet reports while it stops
 * the containers.
 */
export function markTerminating(pod: KubeObject, graceSeconds: number, now: number): KubeObject {
  const next = clone(pod)
  next.metadata.deletionTimestamp = kubeTime(new Date(now + graceSeconds * 1000))
  next.metadata.deletionGracePeriodSeconds = graceSeconds
  const status = isObject(next.status) ? next.status : {}
  const conditions = Array.isArray(status.conditions) ? status.conditions.filter(isObject) : []
  const statuses = Array.isArray(status.containerStatuses)
    ? status.containerStatuses.filter(isObject)
    : []
  const names = statuses.map((s) => String(s.name))
  for (const c of conditions) {
    if ((c.type === 'Ready' || c.type === 'ContainersReady') && c.status === 'True') {
      c.status = 'False'
      c.lastTransitionTime = kubeTime(new Date(now))
      c.reason = 'ContainersNotReady'
      c.message = `containers with unready status: [${names.join(' ')}]`
    }
  }
  for (const s of statuses) s.ready = false
  next.status = {
    ...status,
    ...(Array.isArray(status.conditions) ? { conditions } : {}),
    ...(Array.isArray(status.containerStatuses) ? { containerStatuses: statuses } : {})
  }
  return next
}
