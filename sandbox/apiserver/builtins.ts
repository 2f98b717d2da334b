/**
 * What kube-apiserver does to built-in objects on the way in: defaulting (SetDefaults_* of
 * k8s.io/api) and the validation rules the action can trip over (names, labels, Deployment
 * selector/template agreement and selector immutability, Service ports, Lease duration and
 * transitions), with kube's messages. Go types (integers, MicroTime) are checked before, in
 * typed.ts.
 * Anything else about built-ins is stored as sent.
 */
import type { KubeObject, ResourceName } from '../types.js'
import { isObject, type JsonObject } from './json.js'
import { labelSelectorRequirements, matchesLabels } from './selectors.js'
import { type FieldError, goQuote } from './status.js'

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
const DNS1035_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"

/** apimachinery's TotalAnnotationSizeLimitB: all keys and values of an object's annotations. */
export const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * (1 << 10)

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const QUALIFIED_NAME_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"

/** validation.IsQualifiedName: `[prefix/]name`, prefix a DNS-1123 subdomain, name ≤ 63. */
export function qualifiedNameErrors(value: string): string[] {
  const parts = value.split('/')
  let name = value
  const errs: string[] = []
  if (parts.length === 2) {
    const prefix = parts[0] as string
    name = parts[1] as string
    if (prefix.length === 0) errs.push('prefix part must be non-empty')
    else if (prefix.length > 253) errs.push('prefix part must be no more than 253 characters')
    else if (!DNS1123_SUBDOMAIN.test(prefix)) errs.push(`prefix part ${SUBDOMAIN_MSG}`)
  } else if (parts.length > 2) {
    return [
      `a qualified name ${QUALIFIED_NAME_MSG.replace('name part must', 'must')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`
    ]
  }
  if (name.length === 0) errs.push('name part must be non-empty')
  else if (name.length > 63) errs.push('name part must be no more than 63 characters')
  if (name.length > 0 && !QUALIFIED_NAME.test(name)) errs.push(QUALIFIED_NAME_MSG)
  return errs
}

/** Object metadata rules every resource shares (ValidateObjectMeta). */
export function validateMetadata(resource: ResourceName, obj: KubeObject): FieldError[] {
  const errs: FieldError[] = []
  const name = obj.metadata.name
  if (!name) {
    errs.push({
      type: 'FieldValueRequired',
      field: 'metadata.name',
      detail: 'name or generateName is required'
    })
  } else {
    const [re, msg, max] =
      resource === 'services'
        ? [DNS1035_LABEL, DNS1035_MSG, 63]
        : resource === 'namespaces'
          ? [DNS1123_LABEL, LABEL_MSG, 63]
          : [DNS1123_SUBDOMAIN, SUBDOMAIN_MSG, 253]
    if (!re.test(name))
      errs.push({
        type: 'FieldValueInvalid',
        field: 'metadata.name',
        value: goQuote(name),
        detail: msg
      })
    else if (name.length > max) {
      errs.push({
        type: 'FieldValueInvalid',
        field: 'metadata.name',
        value: goQuote(name),
        detail: `must be no more than ${max} characters`
      })
    }
  }
  for (const key of Object.keys(obj.metadata.labels ?? {})) {
    for (const detail of qualifiedNameErrors(key)) {
      errs.push({
        type: 'FieldValueInvalid',
        field: 'metadata.labels',
        value: goQuote(key),
        detail
      })
    }
  }
  const annotations = (obj.metadata.annotations ?? {}) as Record<string, unknown>
  let annotationBytes = 0
  for (const [key, value] of Object.entries(annotations)) {
    // ValidateAnnotations: a qualified name once lower-cased; the total counts keys and values.
    for (const detail of qualifiedNameErrors(key.toLowerCase())) {
      errs.push({
        type: 'FieldValueInvalid',
        field: 'metadata.annotations',
        value: goQuote(key),
        detail
      })
    }
    annotationBytes += Buffer.byteLength(key) + Buffer.byteLength(String(value))
  }
  if (annotationBytes > TOTAL_ANNOTATION_SIZE_LIMIT) {
    errs.push({
      type: 'FieldValueTooLong',
      field: 'metadata.annotations',
      detail: `may not be more than ${TOTAL_ANNOTATION_SIZE_LIMIT} bytes`
    })
  }
  for (const value of Object.values(obj.metadata.labels ?? {})) {
    if (typeof value !== 'string' || !LABEL_VALUE.test(value) || value.length > 63) {
      const detail =
        typeof value === 'string' && value.length > 63
          ? 'must be no more than 63 characters'
          : LABEL_VALUE_MSG
      errs.push({
        type: 'FieldValueInvalid',
        field: 'metadata.labels',
        value: goQuote(String(value)),
        detail
      })
    }
  }
  return errs
}

function obj(v: unknown): JsonObject {
  return isObject(v) ? v : {}
}

function setDefault(target: JsonObject, key: string, value: unknown): void {
  if (target[key] === undefined || target[key] === null) target[key] = value
}

function defaultPodSpec(spec: JsonObject): void {
  setDefault(spec, 'restartPolicy', 'Always')
  setDefault(spec, 'terminationGracePeriodSeconds', 30)
  setDefault(spec, 'dnsPolicy', 'ClusterFirst')
  setDefault(spec, 'securityContext', {})
  setDefault(spec, 'schedulerName', 'default-scheduler')
  for (const c of Array.isArray(spec.containers) ? spec.containers : []) {
    if (!isObject(c)) continue
    const image = typeof c.image === 'string' ? c.image : ''
    const tag = /:([^/:@]+)$/.exec(image.split('@')[0] ?? '')?.[1]
    setDefault(
      c,
      'imagePullPolicy',
      !image.includes('@') && (!tag || tag === 'latest') ? 'Always' : 'IfNotPresent'
    )
    setDefault(c, 'terminationMessagePath', '/dev/termination-log')
    setDefault(c, 'terminationMessagePolicy', 'File')
    setDefault(c, 'resources', {})
    for (const p of Array.isArray(c.ports) ? c.ports : [])
      if (isObject(p)) setDefault(p, 'protocol', 'TCP')
  }
}

let nextClusterIP = 10

/** SetDefaults for the built-in kinds the sandbox serves (and server-set fields on create). */
export function applyDefaults(resource: ResourceName, o: KubeObject, old?: KubeObject): void {
  if (resource === 'deployments') {
    const spec = obj(o.spec)
    o.spec = spec
    setDefault(spec, 'replicas', 1)
    setDefault(spec, 'revisionHistoryLimit', 10)
    setDefault(spec, 'progressDeadlineSeconds', 600)
    const strategy = obj(spec.strategy)
    spec.strategy = strategy
    setDefault(strategy, 'type', 'RollingUpdate')
    if (strategy.type === 'RollingUpdate') {
      const ru = obj(strategy.rollingUpdate)
      strategy.rollingUpdate = ru
      setDefault(ru, 'maxUnavailable', '25%')
      setDefault(ru, 'maxSurge', '25%')
    }
    const template = obj(spec.template)
    spec.template = template
    const podSpec = obj(template.spec)
    template.spec = podSpec
    defaultPodSpec(podSpec)
  } else if (resource === 'services') {
    const spec = obj(o.spec)
    o.spec = spec
    setDefault(spec, 'type', 'ClusterIP')
    setDefault(spec, 'sessionAffinity', 'None')
    if (spec.type !== 'ExternalName') {
      const oldSpec = obj(old?.spec)
      // normalizeClusterIPs: a changed clusterIP with clusterIPs as before means the new one.
      if (
        old &&
        spec.clusterIP &&
        spec.clusterIP !== oldSpec.clusterIP &&
        JSON.stringify(spec.clusterIPs) === JSON.stringify(oldSpec.clusterIPs)
      ) {
        delete spec.clusterIPs
      }
      // patchAllocatedValues: an update that leaves clusterIP out keeps the allocated one.
      if (!spec.clusterIP && oldSpec.clusterIP) spec.clusterIP = oldSpec.clusterIP
      if (!spec.clusterIPs && oldSpec.clusterIPs && spec.clusterIP === oldSpec.clusterIP)
        spec.clusterIPs = oldSpec.clusterIPs
      if (!spec.clusterIP)
        spec.clusterIP = `10.96.${Math.floor(nextClusterIP / 250)}.${(nextClusterIP++ % 250) + 1}`
      setDefault(spec, 'clusterIPs', [spec.clusterIP])
      setDefault(spec, 'ipFamilies', ['IPv4'])
      setDefault(spec, 'ipFamilyPolicy', 'SingleStack')
      setDefault(spec, 'internalTrafficPolicy', 'Cluster')
    }
    for (const p of Array.isArray(spec.ports) ? spec.ports : []) {
      if (!isObject(p)) continue
      setDefault(p, 'protocol', 'TCP')
      // SetDefaults_ServicePort: an unset, 0 or "" targetPort is the port.
      if (
        p.targetPort === undefined ||
        p.targetPort === null ||
        p.targetPort === 0 ||
        p.targetPort === ''
      )
        p.targetPort = p.port
    }
    setDefault(o, 'status', { loadBalancer: {} })
  } else if (resource === 'namespaces') {
    o.metadata.labels = { ...o.metadata.labels, 'kubernetes.io/metadata.name': o.metadata.name }
    const spec = obj(o.spec)
    o.spec = spec
    setDefault(spec, 'finalizers', ['kubernetes'])
    setDefault(o, 'status', { phase: 'Active' })
  } else if (resource === 'pods') {
    const spec = obj(o.spec)
    o.spec = spec
    defaultPodSpec(spec)
    setDefault(o, 'status', { phase: 'Pending', qosClass: 'BestEffort' })
  }
}

/** Go's %#v of a map[string]string, as field errors print label maps. */
export function goStringMap(m: unknown): string {
  if (!isObject(m)) return 'map[string]string(nil)'
  const entries = Object.keys(m)
    .sort()
    .map((k) => `${goQuote(k)}:${goQuote(String(m[k]))}`)
  return `map[string]string{${entries.join(', ')}}`
}

/** Go's %#v of a metav1.LabelSelector. */
export function goLabelSelector(sel: unknown): string {
  const s = obj(sel)
  const exprs = Array.isArray(s.matchExpressions) ? s.matchExpressions : undefined
  const rendered = exprs
    ? `[]v1.LabelSelectorRequirement{${exprs
        .map((e) => {
          const x = obj(e)
          const values = Array.isArray(x.values)
            ? `[]string{${x.values.map((v) => goQuote(String(v))).join(', ')}}`
            : '[]string(nil)'
          return `v1.LabelSelectorRequirement{Key:${goQuote(String(x.key ?? ''))}, Operator:${goQuote(String(x.operator ?? ''))}, Values:${values}}`
        })
        .join(', ')}}`
    : '[]v1.LabelSelectorRequirement(nil)'
  return `v1.LabelSelector{MatchLabels:${goStringMap(s.matchLabels)}, MatchExpressions:${rendered}}`
}

function validateDeployment(o: KubeObject, old?: KubeObject): FieldError[] {
  const errs: FieldError[] = []
  const spec = obj(o.spec)
  if (typeof spec.replicas === 'number' && spec.replicas < 0) {
    errs.push({
      type: 'FieldValueInvalid',
      field: 'spec.replicas',
      value: String(spec.replicas),
      detail: 'must be greater than or equal to 0'
    })
  }
  if (!isObject(spec.selector))
    errs.push({ type: 'FieldValueRequired', field: 'spec.selector', detail: '' })
  const template = obj(spec.template)
  const labels = obj(template.metadata).labels
  const reqs = labelSelectorRequirements(spec.selector)
  const labelMap = (isObject(labels) ? labels : {}) as Record<string, string>
  if (!reqs || reqs.length === 0 || !matchesLabels(labelMap, reqs)) {
    errs.push({
      type: 'FieldValueInvalid',
      field: 'spec.template.metadata.labels',
      value: goStringMap(labels),
      detail: '`selector` does not match template `labels`'
    })
  }
  const containers = obj(template.spec).containers
  if (!Array.isArray(containers) || containers.length === 0) {
    errs.push({ type: 'FieldValueRequired', field: 'spec.template.spec.containers', detail: '' })
  } else {
    containers.forEach((c, i) => {
      const x = obj(c)
      if (!x.name)
        errs.push({
          type: 'FieldValueRequired',
          field: `spec.template.spec.containers[${i}].name`,
          detail: ''
        })
      if (!x.image)
        errs.push({
          type: 'FieldValueRequired',
          field: `spec.template.spec.containers[${i}].image`,
          detail: ''
        })
    })
  }
  if (old && JSON.stringify(obj(old.spec).selector) !== JSON.stringify(spec.selector)) {
    errs.push({
      type: 'FieldValueInvalid',
      field: 'spec.selector',
      value: goLabelSelector(spec.selector),
      detail: 'field is immutable'
    })
  }
  return errs
}

const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort']
const PORT_PROTOCOLS = ['SCTP', 'TCP', 'UDP']
const PORT_RANGE_MSG = 'must be between 1 and 65535, inclusive'

/** validation.IsValidPortName (IANA_SVC_NAME): what a named targetPort must be. */
function portNameErrors(name: string): string[] {
  const errs: string[] = []
  if (name.length > 15) errs.push('must be no more than 15 characters')
  if (!/^[-a-z0-9]+$/.test(name))
    errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)')
  if (!/[a-z]/.test(name)) errs.push('must contain at least one letter (a-z)')
  if (name.includes('--')) errs.push('must not contain consecutive hyphens')
  if (name.startsWith('-') || name.endsWith('-')) errs.push('must not begin or end with a hyphen')
  return errs
}

function validPort(port: unknown): boolean {
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535
}

/** validateServicePort for each port: names (required when several, unique), numbers, protocols. */
function validateServicePorts(ports: unknown[]): FieldError[] {
  const errs: FieldError[] = []
  const names = new Set<string>()
  ports.forEach((p, i) => {
    const x = obj(p)
    const at = `spec.ports[${i}]`
    const name = typeof x.name === 'string' ? x.name : ''
    if (ports.length > 1 && name === '') {
      errs.push({ type: 'FieldValueRequired', field: `${at}.name`, detail: '' })
    } else if (name !== '') {
      if (!DNS1123_LABEL.test(name) || name.length > 63) {
        errs.push({
          type: 'FieldValueInvalid',
          field: `${at}.name`,
          value: goQuote(name),
          detail: name.length > 63 ? 'must be no more than 63 characters' : LABEL_MSG
        })
      } else if (names.has(name)) {
        errs.push({
          type: 'FieldValueDuplicate',
          field: `${at}.name`,
          value: goQuote(name),
          detail: ''
        })
      }
      names.add(name)
    }
    if (!validPort(x.port)) {
      errs.push({
        type: 'FieldValueInvalid',
        field: `${at}.port`,
        value: String(x.port ?? 0),
        detail: PORT_RANGE_MSG
      })
    }
    if (typeof x.protocol === 'string' && !PORT_PROTOCOLS.includes(x.protocol)) {
      errs.push({
        type: 'FieldValueNotSupported',
        field: `${at}.protocol`,
        value: goQuote(x.protocol),
        detail: `supported values: ${PORT_PROTOCOLS.map(goQuote).join(', ')}`
      })
    }
    const target = x.targetPort
    if (typeof target === 'number' && !validPort(target)) {
      errs.push({
        type: 'FieldValueInvalid',
        field: `${at}.targetPort`,
        value: String(target),
        detail: PORT_RANGE_MSG
      })
    } else if (typeof target === 'string') {
      for (const detail of portNameErrors(target)) {
        errs.push({
          type: 'FieldValueInvalid',
          field: `${at}.targetPort`,
          value: goQuote(target),
          detail
        })
      }
    }
  })
  return errs
}

/** ValidateLabels on spec.selector: qualified-name keys, label values. */
function validateSelectorLabels(selector: unknown): FieldError[] {
  const errs: FieldError[] = []
  for (const [key, value] of Object.entries(obj(selector))) {
    for (const detail of qualifiedNameErrors(key)) {
      errs.push({ type: 'FieldValueInvalid', field: 'spec.selector', value: goQuote(key), detail })
    }
    if (typeof value !== 'string' || !LABEL_VALUE.test(value) || value.length > 63) {
      errs.push({
        type: 'FieldValueInvalid',
        field: 'spec.selector',
        value: goQuote(String(value)),
        detail:
          typeof value === 'string' && value.length > 63
            ? 'must be no more than 63 characters'
            : LABEL_VALUE_MSG
      })
    }
  }
  return errs
}

/** Go's %#v of a []string. */
function goStringSlice(v: unknown): string {
  return Array.isArray(v)
    ? `[]string{${v.map((x) => goQuote(String(x))).join(', ')}}`
    : '[]string(nil)'
}

/**
 * ValidateService (and ValidateServiceUpdate's clusterIP rule): type, ports, selector labels; an
 * allocated clusterIP may not change once set.
 */
function validateService(o: KubeObject, old?: KubeObject): FieldError[] {
  const errs: FieldError[] = []
  const spec = obj(o.spec)
  if (typeof spec.type === 'string' && !SERVICE_TYPES.includes(spec.type)) {
    errs.push({
      type: 'FieldValueNotSupported',
      field: 'spec.type',
      value: goQuote(spec.type),
      detail: `supported values: ${SERVICE_TYPES.map(goQuote).join(', ')}`
    })
  }
  const ports = Array.isArray(spec.ports) ? spec.ports : []
  if (ports.length === 0 && spec.type !== 'ExternalName' && spec.clusterIP !== 'None') {
    errs.push({ type: 'FieldValueRequired', field: 'spec.ports', detail: '' })
  }
  errs.push(...validateServicePorts(ports))
  errs.push(...validateSelectorLabels(spec.selector))
  const oldSpec = obj(old?.spec)
  const before = Array.isArray(oldSpec.clusterIPs) ? oldSpec.clusterIPs : []
  const after = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : []
  if (old && spec.type !== 'ExternalName' && oldSpec.type !== 'ExternalName') {
    if (before.length === after.length) {
      before.forEach((ip, i) => {
        if (ip !== after[i]) {
          errs.push({
            type: 'FieldValueInvalid',
            field: `spec.clusterIPs[${i}]`,
            value: goStringSlice(after),
            detail: 'may not change once set'
          })
        }
      })
    }
  }
  return errs
}

/** ValidateLeaseSpec: a positive duration, no negative transition count. */
function validateLease(o: KubeObject): FieldError[] {
  const errs: FieldError[] = []
  const spec = obj(o.spec)
  const duration = spec.leaseDurationSeconds
  if (typeof duration === 'number' && duration <= 0) {
    errs.push({
      type: 'FieldValueInvalid',
      field: 'spec.leaseDurationSeconds',
      value: String(duration),
      detail: 'must be greater than 0'
    })
  }
  const transitions = spec.leaseTransitions
  if (typeof transitions === 'number' && transitions < 0) {
    errs.push({
      type: 'FieldValueInvalid',
      field: 'spec.leaseTransitions',
      value: String(transitions),
      detail: 'must be greater than or equal to 0'
    })
  }
  return errs
}

/** Kind-specific validation (ValidateDeployment, ValidateService, ValidateLease, ...). */
export function validateBuiltin(
  resource: ResourceName,
  o: KubeObject,
  old?: KubeObject
): FieldError[] {
  if (resource === 'deployments') return validateDeployment(o, old)
  if (resource === 'services') return validateService(o, old)
  if (resource === 'leases') return validateLease(o)
  return []
}
