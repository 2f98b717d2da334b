/** DestinationRule subsets for the two colors, planned as a JSON Patch. */
import { COLORS } from './color.js'
import { hostIsService, type JsonPatchOp, type ServiceRef } from './routes.js'

export interface Subset {
  name: string
  labels?: Record<string, string>
  [key: string]: unknown
}

export interface DestinationRuleSpec {
  host?: string
  subsets?: Subset[]
  [key: string]: unknown
}

/**
 * Ops that add the missing color subsets (`blue` selects `<colorLabel>=blue`, and so on),
 * guarded by resourceVersion; [] when both are there. Every other field and subset stays.
 * An existing color subset that selects something else is an error, not something to overwrite.
 */
export function subsetPatch(
  spec: DestinationRuleSpec,
  resourceVersion: string,
  service: ServiceRef,
  colorLabel: string,
  name: string
): { ops: JsonPatchOp[] } | { error: string } {
  if (!spec.host || !hostIsService(spec.host, service)) {
    return {
      error: `DestinationRule ${name} is for host "${spec.host ?? ''}", not for ${service.name}; set input "destination-rule" to the DestinationRule of ${service.name}`
    }
  }
  const subsets = spec.subsets ?? []
  const missing = []
  for (const color of COLORS) {
    const existing = subsets.find((s) => s.name === color)
    if (!existing) {
      missing.push({ name: color, labels: { [colorLabel]: color } })
      continue
    }
    const labels = existing.labels ?? {}
    const extra = Object.keys(labels).filter((k) => k !== colorLabel)
    if (labels[colorLabel] !== color || extra.length > 0) {
      const shown =
        Object.entries(labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(',') || 'nothing'
      return {
        error: `DestinationRule ${name}: subset "${color}" selects ${shown}, expected ${colorLabel}=${color}; fix the subset, or set input "color-label" to the label your subsets use`
      }
    }
  }
  if (missing.length === 0) return { ops: [] }
  const ops: JsonPatchOp[] = [
    { op: 'replace', path: '/metadata/resourceVersion', value: resourceVersion }
  ]
  if (spec.subsets === undefined) ops.push({ op: 'add', path: '/spec/subsets', value: missing })
  else for (const s of missing) ops.push({ op: 'add', path: '/spec/subsets/-', value: s })
  return { ops }
}
