/**
 * Drift: the VirtualService's weights are not what the rollout last wrote, because a person or a
 * GitOps tool wrote them. Plain functions over the object's weights and managed fields.
 */
import { type ColorWeights, formatWeights } from './color.js'

/** The field manager the action writes as, so its own writes can be told from others'. */
export const FIELD_MANAGER = 'istio-bluegreen'

export interface ManagedFieldsEntry {
  manager?: string
  operation?: string
  time?: string
  [key: string]: unknown
}

/** Who last wrote the object besides the action, from its managed fields: `kubectl-edit (Update at …)`. */
export function lastOtherWriter(
  entries: readonly ManagedFieldsEntry[] | undefined
): string | undefined {
  const others = (entries ?? [])
    .filter((e) => e.manager && e.manager !== FIELD_MANAGER && e.time)
    .sort((a, b) => Date.parse(b.time as string) - Date.parse(a.time as string))
  const last = others[0]
  if (!last) return undefined
  return `${last.manager} (${last.operation ?? 'write'} at ${last.time})`
}

/**
 * A sentence describing the drift, or undefined when every route carries the expected weights.
 * `found` holds each selected route's color weights.
 */
export function describeDrift(
  virtualService: string,
  found: readonly ColorWeights[],
  expected: ColorWeights,
  writer: string | undefined
): string | undefined {
  const off = found.find((w) => w.blue !== expected.blue || w.green !== expected.green)
  if (!off) return undefined
  return `the weights of VirtualService ${virtualService} are ${formatWeights(off)}, not ${formatWeights(expected)} as this rollout last wrote them; ${writer ? `last changed by ${writer}` : 'the managed fields do not say who changed them'}`
}
