/**
 * Built-in kinds are Go structs in kube-apiserver: a body is decoded into one, and a value that
 * does not fit its field's Go type is refused before anything else looks at it. This module knows
 * the integer, IntOrString and MicroTime fields of the kinds the sandbox serves (and the structs
 * and lists that lead to them) and words refusals as kube's decoders do:
 *
 * - a JSON body (create, update): sigs.k8s.io/json, whose first type error reads
 *   `json: cannot unmarshal number 7.5 into Go struct field LeaseSpec.spec.leaseDurationSeconds of type int32`
 *   (the innermost struct, the JSON path without list indices, the number's own text);
 * - a strategic merge patch result: runtime.DefaultUnstructuredConverter
 *   (`cannot convert float64 to int32`).
 *
 * Fields not listed are strings, booleans or maps the action cannot get wrong this way, and are
 * not checked.
 */
import type { ResourceName } from '../types.js'
import { microTimeError } from './gotime.js'
import { SourceScalar, isObject } from './json.js'

type Scalar = 'int32' | 'int64' | 'intOrString' | 'microTime'
interface Struct {
  /** The Go type's name, as type errors print the innermost one. */
  struct: string
  fields: Record<string, GoType>
}
interface List {
  list: GoType
}
type GoType = Scalar | Struct | List
export type { Struct as GoStruct }

const list = (of: GoType): List => ({ list: of })

const OBJECT_META: Struct = {
  struct: 'ObjectMeta',
  fields: { generation: 'int64', deletionGracePeriodSeconds: 'int64' }
}
const PORT_ACTION = (struct: string): Struct => ({ struct, fields: { port: 'intOrString' } })
const PROBE: Struct = {
  struct: 'Probe',
  fields: {
    initialDelaySeconds: 'int32',
    timeoutSeconds: 'int32',
    periodSeconds: 'int32',
    successThreshold: 'int32',
    failureThreshold: 'int32',
    terminationGracePeriodSeconds: 'int64',
    httpGet: PORT_ACTION('HTTPGetAction'),
    tcpSocket: PORT_ACTION('TCPSocketAction'),
    grpc: { struct: 'GRPCAction', fields: { port: 'int32' } }
  }
}
const CONTAINER: Struct = {
  struct: 'Container',
  fields: {
    ports: list({ struct: 'ContainerPort', fields: { containerPort: 'int32', hostPort: 'int32' } }),
    livenessProbe: PROBE,
    readinessProbe: PROBE,
    startupProbe: PROBE,
    securityContext: {
      struct: 'SecurityContext',
      fields: { runAsUser: 'int64', runAsGroup: 'int64' }
    }
  }
}
const POD_SPEC: Struct = {
  struct: 'PodSpec',
  fields: {
    containers: list(CONTAINER),
    initContainers: list(CONTAINER),
    terminationGracePeriodSeconds: 'int64',
    activeDeadlineSeconds: 'int64',
    priority: 'int32',
    securityContext: {
      struct: 'PodSecurityContext',
      fields: { runAsUser: 'int64', runAsGroup: 'int64', fsGroup: 'int64' }
    }
  }
}

/** The checked part of each kind's Go struct (k8s.io/api types), by resource. */
export const GO_TYPES: Readonly<
  Record<Exclude<ResourceName, 'virtualservices' | 'destinationrules' | 'httproutes'>, Struct>
> = {
  namespaces: { struct: 'Namespace', fields: { metadata: OBJECT_META } },
  services: {
    struct: 'Service',
    fields: {
      metadata: OBJECT_META,
      spec: {
        struct: 'ServiceSpec',
        fields: {
          ports: list({
            struct: 'ServicePort',
            fields: { port: 'int32', targetPort: 'intOrString', nodePort: 'int32' }
          }),
          healthCheckNodePort: 'int32',
          sessionAffinityConfig: {
            struct: 'SessionAffinityConfig',
            fields: { clientIP: { struct: 'ClientIPConfig', fields: { timeoutSeconds: 'int32' } } }
          }
        }
      }
    }
  },
  pods: {
    struct: 'Pod',
    fields: {
      metadata: OBJECT_META,
      spec: POD_SPEC,
      status: {
        struct: 'PodStatus',
        fields: {
          containerStatuses: list({ struct: 'ContainerStatus', fields: { restartCount: 'int32' } })
        }
      }
    }
  },
  deployments: {
    struct: 'Deployment',
    fields: {
      metadata: OBJECT_META,
      spec: {
        struct: 'DeploymentSpec',
        fields: {
          replicas: 'int32',
          minReadySeconds: 'int32',
          revisionHistoryLimit: 'int32',
          progressDeadlineSeconds: 'int32',
          strategy: {
            struct: 'DeploymentStrategy',
            fields: {
              rollingUpdate: {
                struct: 'RollingUpdateDeployment',
                fields: { maxUnavailable: 'intOrString', maxSurge: 'intOrString' }
              }
            }
          },
          template: { struct: 'PodTemplateSpec', fields: { metadata: OBJECT_META, spec: POD_SPEC } }
        }
      },
      status: {
        struct: 'DeploymentStatus',
        fields: {
          observedGeneration: 'int64',
          replicas: 'int32',
          updatedReplicas: 'int32',
          readyReplicas: 'int32',
          availableReplicas: 'int32',
          unavailableReplicas: 'int32',
          terminatingReplicas: 'int32',
          collisionCount: 'int32'
        }
      }
    }
  },
  leases: {
    struct: 'Lease',
    fields: {
      metadata: OBJECT_META,
      spec: {
        struct: 'LeaseSpec',
        fields: {
          leaseDurationSeconds: 'int32',
          leaseTransitions: 'int32',
          acquireTime: 'microTime',
          renewTime: 'microTime'
        }
      }
    }
  }
}

/** autoscaling/v1 Scale, the body of `/scale`. */
export const SCALE_TYPE: Struct = {
  struct: 'Scale',
  fields: { spec: { struct: 'ScaleSpec', fields: { replicas: 'int32' } } }
}

const RANGES: Record<'int32' | 'int64', [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n]
}

function goTypeName(t: GoType): string {
  if (typeof t === 'string')
    return t === 'intOrString' ? 'intstr.IntOrString' : t === 'microTime' ? 'v1.MicroTime' : t
  if ('list' in t) return `[]${goTypeName(t.list)}`
  return `v1.${t.struct}`
}

/** How Go's decoder names a JSON value in a type error: `number 7.5`, `string`, `bool`, ... */
function jsonKind(v: unknown): string {
  if (v instanceof SourceScalar) {
    const s = v.source
    if (s.startsWith('"')) return 'string'
    if (s === 'true' || s === 'false') return 'bool'
    return `number ${s}`
  }
  return Array.isArray(v) ? 'array' : 'object'
}

const isNull = (v: unknown): boolean => v instanceof SourceScalar && v.source === 'null'

/** Whether a number's text is an integer Go's ParseInt accepts within the type's range. */
function fitsInt(source: string, t: 'int32' | 'int64'): boolean {
  if (!/^-?\d+$/.test(source)) return false
  const n = BigInt(source)
  const [lo, hi] = RANGES[t]
  return n >= lo && n <= hi
}

/** A decode failure: `soft` ones are kept while decoding goes on (the first is reported). */
interface Failure {
  message: string
  soft: boolean
}

/**
 * IntOrString and MicroTime decode themselves (UnmarshalJSON, with the standard library): their
 * errors carry no field path and stop decoding at once.
 */
function customDecodeError(v: unknown, t: 'intOrString' | 'microTime'): string | undefined {
  const source = v instanceof SourceScalar ? v.source : undefined
  const isString = source?.startsWith('"') === true
  if (t === 'intOrString') {
    if (isString) return undefined
    const isBool = source === 'true' || source === 'false'
    if (source !== undefined && !isBool && fitsInt(source, 'int32')) return undefined
    return `json: cannot unmarshal ${jsonKind(v)} into Go value of type int32`
  }
  if (!isString) {
    return `json: cannot unmarshal ${jsonKind(v).split(' ')[0]} into Go value of type string`
  }
  return microTimeError(JSON.parse(source as string) as string)
}

/**
 * The error sigs.k8s.io/json gives decoding `tree` (a body parsed with its scalars' text, see
 * parseKeepingSource) into `type`, or undefined. Type errors are reported first-come with the
 * innermost struct and JSON path; errors of custom decoders (IntOrString, MicroTime) stop
 * decoding at once, as in Go.
 */
export function goDecodeError(tree: unknown, type: Struct): string | undefined {
  let first: string | undefined
  const walk = (v: unknown, t: GoType, path: string[], owner: string): Failure | undefined => {
    if (isNull(v)) return undefined
    const typeError = (): Failure => ({
      message: `json: cannot unmarshal ${jsonKind(v)} into Go struct field ${owner}.${path.join('.')} of type ${goTypeName(t)}`,
      soft: true
    })
    if (t === 'int32' || t === 'int64') {
      const source = v instanceof SourceScalar ? v.source : ''
      return fitsInt(source, t) ? undefined : typeError()
    }
    if (t === 'intOrString' || t === 'microTime') {
      const message = customDecodeError(v, t)
      return message === undefined ? undefined : { message, soft: false }
    }
    const children: Array<[unknown, GoType, string[], string]> = []
    if ('list' in t) {
      if (!Array.isArray(v)) return typeError()
      for (const item of v) children.push([item, t.list, path, owner])
    } else {
      if (!isObject(v) || v instanceof SourceScalar) return typeError()
      for (const [key, child] of Object.entries(v)) {
        const fieldType = t.fields[key]
        if (fieldType) children.push([child, fieldType, [...path, key], t.struct])
      }
    }
    for (const [child, childType, childPath, childOwner] of children) {
      const f = walk(child, childType, childPath, childOwner)
      if (f && !f.soft) return f
      if (f) first ??= f.message
    }
    return undefined
  }
  const hard = walk(tree, type, [], type.struct)
  return hard?.message ?? first
}

/**
 * The error runtime.DefaultUnstructuredConverter gives converting a strategic-merge-patched
 * object (plain JSON values) into `type`, or undefined: a fractional number into an integer is
 * `cannot convert float64 to int32`, a string or boolean `unrecognized type: int32`; integers out
 * of range are not refused (Go's conversion wraps them). IntOrString and MicroTime go through
 * their own decoders, as from JSON.
 */
export function goConvertError(value: unknown, type: Struct): string | undefined {
  const walk = (v: unknown, t: GoType): string | undefined => {
    if (v === null || v === undefined) return undefined
    if (t === 'int32' || t === 'int64') {
      if (typeof v !== 'number') return `unrecognized type: ${t}`
      return Number.isInteger(v) ? undefined : `cannot convert float64 to ${t}`
    }
    if (t === 'intOrString' || t === 'microTime') {
      const sent = isObject(v) || Array.isArray(v) ? v : new SourceScalar(JSON.stringify(v))
      return customDecodeError(sent, t)
    }
    if ('list' in t) {
      if (!Array.isArray(v)) return `cannot restore slice from ${isObject(v) ? 'map' : typeof v}`
      for (const item of v) {
        const e = walk(item, t.list)
        if (e) return e
      }
      return undefined
    }
    if (!isObject(v)) return `cannot restore struct from: ${Array.isArray(v) ? 'slice' : typeof v}`
    for (const [key, child] of Object.entries(v)) {
      const fieldType = t.fields[key]
      const e = fieldType ? walk(child, fieldType) : undefined
      if (e) return e
    }
    return undefined
  }
  return walk(value, type)
}
