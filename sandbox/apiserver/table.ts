/**
 * Server-side printing (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`), which kubectl get
 * asks for: the columns kube-apiserver prints for the built-ins, and each CRD version's
 * additionalPrinterColumns for Istio resources.
 */
import type { KubeObject } from '../types.js'
import type { CrdCatalog, PrinterColumn } from './crds.js'
import type { Answer } from './handlers.js'
import { isObject, type JsonObject } from './json.js'
import type { Route } from './paths.js'
import type { ResourceInfo } from './resources.js'

export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((part) => part.includes('as=Table'))
}

/** duration.HumanDuration, as kubectl's AGE column shows it. */
export function humanAge(since: string | undefined, now = Date.now()): string {
  if (!since) return '<unknown>'
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000))
  const m = Math.floor(s / 60)
  const h = Math.floor(m / 60)
  const d = Math.floor(h / 24)
  if (s < 120) return `${s}s`
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`
  if (m < 180) return `${m}m`
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`
  if (h < 48) return `${h}h`
  if (h < 192) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`
  if (d < 730) return `${d}d`
  return `${Math.floor(d / 365)}y`
}

interface Column {
  name: string
  type: string
  format?: string
  priority?: number
  cell: (o: KubeObject) => unknown
}

const name: Column = { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name }
const age: Column = {
  name: 'Age',
  type: 'string',
  cell: (o) => humanAge(o.metadata.creationTimestamp)
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : 0
}

function containers(o: KubeObject): JsonObject[] {
  const spec = o.spec ?? {}
  const template =
    isObject(spec.template) && isObject(spec.template.spec) ? spec.template.spec : spec
  return Array.isArray(template.containers) ? template.containers.filter(isObject) : []
}

function podStatusCell(o: KubeObject): string {
  const statuses = Array.isArray(o.status?.containerStatuses) ? o.status.containerStatuses : []
  for (const s of statuses) {
    if (isObject(s) && isObject(s.state) && isObject(s.state.waiting))
      return String(s.state.waiting.reason)
  }
  return String(o.status?.phase ?? 'Pending')
}

const BUILTIN_COLUMNS: Record<string, Column[]> = {
  deployments: [
    name,
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => `${num(o.status?.readyReplicas)}/${num(o.spec?.replicas)}`
    },
    { name: 'Up-to-date', type: 'integer', cell: (o) => num(o.status?.updatedReplicas) },
    { name: 'Available', type: 'integer', cell: (o) => num(o.status?.availableReplicas) },
    age,
    {
      name: 'Containers',
      type: 'string',
      priority: 1,
      cell: (o) =>
        containers(o)
          .map((c) => c.name)
          .join(',')
    },
    {
      name: 'Images',
      type: 'string',
      priority: 1,
      cell: (o) =>
        containers(o)
          .map((c) => c.image)
          .join(',')
    }
  ],
  pods: [
    name,
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => {
        const statuses = Array.isArray(o.status?.containerStatuses)
          ? o.status.containerStatuses
          : []
        const ready = statuses.filter((s) => isObject(s) && s.ready === true).length
        return `${ready}/${containers(o).length}`
      }
    },
    { name: 'Status', type: 'string', cell: podStatusCell },
    {
      name: 'Restarts',
      type: 'string',
      cell: (o) => {
        const statuses = Array.isArray(o.status?.containerStatuses)
          ? o.status.containerStatuses
          : []
        return String(
          statuses.reduce((n: number, s) => n + (isObject(s) ? num(s.restartCount) : 0), 0)
        )
      }
    },
    age,
    { name: 'IP', type: 'string', priority: 1, cell: (o) => o.status?.podIP ?? '<none>' },
    { name: 'Node', type: 'string', priority: 1, cell: (o) => o.spec?.nodeName ?? '<none>' }
  ],
  services: [
    name,
    { name: 'Type', type: 'string', cell: (o) => o.spec?.type ?? 'ClusterIP' },
    { name: 'Cluster-IP', type: 'string', cell: (o) => o.spec?.clusterIP ?? '<none>' },
    { name: 'External-IP', type: 'string', cell: () => '<none>' },
    {
      name: 'Port(s)',
      type: 'string',
      cell: (o) => {
        const ports = Array.isArray(o.spec?.ports) ? o.spec.ports.filter(isObject) : []
        return ports.length
          ? ports.map((p) => `${String(p.port)}/${String(p.protocol ?? 'TCP')}`).join(',')
          : '<none>'
      }
    },
    age
  ],
  namespaces: [name, { name: 'Status', type: 'string', cell: (o) => o.status?.phase ?? '' }, age],
  leases: [name, { name: 'Holder', type: 'string', cell: (o) => o.spec?.holderIdentity ?? '' }, age]
}

/** A CRD printer column's simple JSONPath (`.spec.hosts`). */
function jsonPathValue(o: KubeObject, path: string): unknown {
  let cur: unknown = o
  for (const part of path.replace(/^\./, '').split('.')) cur = isObject(cur) ? cur[part] : undefined
  return cur
}

function crdColumns(printer: PrinterColumn[]): Column[] {
  return [
    name,
    ...printer.map((p): Column => ({
      name: p.name,
      type: p.type === 'date' ? 'date' : p.type,
      cell: (o) => {
        const v = jsonPathValue(o, p.jsonPath)
        if (p.type === 'date') return humanAge(typeof v === 'string' ? v : undefined)
        if (v === undefined) return null
        return typeof v === 'string' ? v : JSON.stringify(v)
      }
    }))
  ]
}

/** A Table of objects of one resource, as served for `version`. */
export function tableOf(
  info: ResourceInfo,
  version: string,
  crds: CrdCatalog,
  objects: KubeObject[],
  metadata: unknown = {}
): Record<string, unknown> {
  const columns = info.custom
    ? crdColumns(crds.get(info.name)?.get(version)?.printerColumns ?? [])
    : (BUILTIN_COLUMNS[info.name] ?? [name, age])
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: columns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: '',
      priority: c.priority ?? 0
    })),
    rows: objects.map((o) => ({
      cells: columns.map((c) => c.cell(o)),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata }
    }))
  }
}

/** Turn a get/list answer into a Table; other answers pass unchanged. */
export function toTable(
  info: ResourceInfo,
  answer: Answer,
  route: Route,
  crds: CrdCatalog
): Answer {
  if (
    answer.code >= 300 ||
    !isObject(answer.body) ||
    route.type !== 'resource' ||
    route.subresource
  ) {
    return answer
  }
  const body = answer.body
  const isList = Array.isArray(body.items)
  if (!isList && body.kind !== info.kind) return answer
  const objects = isList ? (body.items as KubeObject[]) : [body as KubeObject]
  const metadata = isList && isObject(body.metadata) ? body.metadata : {}
  return { ...answer, body: tableOf(info, route.version, crds, objects, metadata) }
}
