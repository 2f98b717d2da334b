/**
 * Istio's own CustomResourceDefinitions (sandbox/crds/istio-networking.yaml), read once at run time:
 * the OpenAPI v3 schema and printer columns of each served version.
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

const CRD_FILE = new URL('../crds/istio-networking.yaml', import.meta.url)

let cached: CrdCatalog | undefined

export function loadCrds(file: URL = CRD_FILE): CrdCatalog {
  if (cached && file === CRD_FILE) return cached
  const catalog = new Map<string, Map<string, CrdVersion>>()
  for (const doc of yaml.loadAll(readFileSync(file, 'utf8'))) {
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
  if (file === CRD_FILE) cached = catalog
  return catalog
}
