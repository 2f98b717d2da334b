/**
 * The CustomResourceDefinitions the sandbox serves, read once at run time from `../crds/`:
 * Istio's own (istio-networking.yaml) and the Gateway API's HTTPRoute
 * (gateway-api-httproutes.yaml); the OpenAPI v3 schema and printer columns of each served version.
 */
import { readFileSync } from 'node:fs'
import yaml from 'js-yaml'
import { isObject } from './json.js'
import type { Schema } from './schema.js'

export interface PrinterColumn {
  name: string
  type: string
  jsonPath: string
  description?: string
}

export interface CrdVersion {
  schema: Schema
  printerColumns: PrinterColumn[]
}

/** plural -> version -> schema and columns. */
export type CrdCatalog = ReadonlyMap<string, ReadonlyMap<string, CrdVersion>>

const CRD_FILES: readonly URL[] = [
  new URL('../crds/istio-networking.yaml', import.meta.url),
  new URL('../crds/gateway-api-httproutes.yaml', import.meta.url)
]

let cached: CrdCatalog | undefined

export function loadCrds(files: readonly URL[] = CRD_FILES): CrdCatalog {
  if (cached && files === CRD_FILES) return cached
  const catalog = new Map<string, Map<string, CrdVersion>>()
  const docs = files.flatMap((file) => yaml.loadAll(readFileSync(file, 'utf8')))
  for (const doc of docs) {
    if (!isObject(doc) || doc.kind !== 'CustomResourceDefinition' || !isObject(doc.spec)) continue
    const names = isObject(doc.spec.names) ? doc.spec.names : {}
    const plural = String(names.plural)
    const versions = new Map<string, CrdVersion>()
    for (const v of Array.isArray(doc.spec.versions) ? doc.spec.versions : []) {
      if (!isObject(v) || !isObject(v.schema) || !isObject(v.schema.openAPIV3Schema)) continue
      versions.set(String(v.name), {
        schema: v.schema.openAPIV3Schema as Schema,
        printerColumns: (Array.isArray(v.additionalPrinterColumns)
          ? v.additionalPrinterColumns
          : []) as PrinterColumn[]
      })
    }
    catalog.set(plural, versions)
  }
  if (files === CRD_FILES) cached = catalog
  return catalog
}
