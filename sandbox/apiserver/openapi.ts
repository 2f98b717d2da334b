/**
 * A minimal OpenAPI v3 discovery (/openapi/v3 and one document per group-version). kubectl needs
 * it before `replace`/`create`/`apply`: it looks for the `fieldValidation` query parameter on each
 * kind's PATCH operation to decide that the server validates fields itself, and otherwise wants
 * full schemas for client-side validation. The documents carry the paths, operations and
 * group-version-kind markers, plus the Istio CRD schemas; built-in schemas are left out.
 * /openapi/v2 stays 404 as kubectl does not need it when v3 answers.
 */
import { createHash } from 'node:crypto'
import type { CrdCatalog } from './crds.js'
import { RESOURCE_LIST, type ResourceInfo } from './resources.js'

function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`
}

function servedGroupVersions(): Array<{ group: string; version: string }> {
  const out: Array<{ group: string; version: string }> = []
  for (const r of RESOURCE_LIST) {
    for (const version of r.versions) {
      if (!out.some((g) => g.group === r.group && g.version === version)) {
        out.push({ group: r.group, version })
      }
    }
  }
  return out
}

export function openApiRoot(crds: CrdCatalog): Record<string, unknown> {
  const paths: Record<string, { serverRelativeURL: string }> = {}
  for (const { group, version } of servedGroupVersions()) {
    const doc = JSON.stringify(openApiGroupVersion(group, version, crds))
    const hash = createHash('sha512').update(doc).digest('hex').slice(0, 128).toUpperCase()
    const p = gvPath(group, version)
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` }
  }
  return { paths }
}

function operation(r: ResourceInfo, version: string, action: string): Record<string, unknown> {
  const params = [
    { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } }
  ]
  if (action === 'patch' || action === 'put' || action === 'post') {
    params.push({
      name: 'fieldValidation',
      in: 'query',
      schema: { type: 'string', uniqueItems: true }
    })
  }
  return {
    operationId: `${action}${r.kind}`,
    parameters: params,
    responses: { '200': { description: 'OK' } },
    'x-kubernetes-action': action === 'put' ? 'put' : action,
    'x-kubernetes-group-version-kind': { group: r.group, version, kind: r.kind }
  }
}

/** The document of one group-version; undefined when the sandbox does not serve it. */
export function openApiGroupVersion(
  group: string,
  version: string,
  crds: CrdCatalog
): Record<string, unknown> | undefined {
  const served = RESOURCE_LIST.filter((r) => r.group === group && r.versions.includes(version))
  if (served.length === 0) return undefined
  const paths: Record<string, unknown> = {}
  const schemas: Record<string, unknown> = {}
  for (const r of served) {
    const base = `/${gvPath(group, version)}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.name}`
    paths[base] = { get: operation(r, version, 'list'), post: operation(r, version, 'post') }
    const item = {
      get: operation(r, version, 'get'),
      put: operation(r, version, 'put'),
      patch: operation(r, version, 'patch'),
      delete: operation(r, version, 'delete')
    }
    paths[`${base}/{name}`] = item
    if (r.hasStatus) paths[`${base}/{name}/status`] = item
    const schema = r.custom ? crds.get(r.name)?.get(version)?.schema : undefined
    if (schema) {
      const id = `${group.split('.').reverse().join('.')}.${version}.${r.kind}`
      schemas[id] = {
        ...schema,
        'x-kubernetes-group-version-kind': [{ group, version, kind: r.kind }]
      }
    }
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths,
    components: { schemas }
  }
}
