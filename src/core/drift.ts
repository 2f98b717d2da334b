/**
 * Drift: the weights of a router object (a VirtualService) are not what the rollout last wrote,
 * because a person or a GitOps tool wrote them. Plain functions over what the router read: each
 * object's weights and managed fields.
 */
import { type ColorWeights, formatWeights } from './color.js'

/** One route of a router object as read: its name and its color weights. */
export interface RouteWeights {
  name: string
  weights: ColorWeights
}

/** One object a router manages, as read now (`what` names it: `VirtualService reviews`). */
export type RouterObjectState =
  | { object: string; what: string; found: false }
  | {
      object: string
      what: string
      found: true
      resourceVersion: string
      /** The selected routes and their color weights, or why they cannot be read. */
      routes: RouteWeights[] | { error: string }
      /** Whether some selected route still sends to the service without naming a color. */
      bare: boolean
      /** Whether it holds the action's test route (input `test-header`); never in `routes`. */
      testRoute: boolean
      /** Who last wrote it besides the action (from its managed fields), if anyone. */
      writer?: string
      /** The fence annotation a person's rollback or abort left on it, if any. */
      fence?: string
    }

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
 * `found` holds each selected route's color weights; `what` names the object
 * (`VirtualService reviews`).
 */
export function describeDrift(
  what: string,
  found: readonly ColorWeights[],
  expected: ColorWeights,
  writer: string | undefined
): string | undefined {
  const off = found.find((w) => w.blue !== expected.blue || w.green !== expected.green)
  if (!off) return undefined
  return `the weights of ${what} are ${formatWeights(off)}, not ${formatWeights(expected)} as this rollout last wrote them; ${writer ? `last changed by ${writer}` : 'the managed fields do not say who changed them'}`
}

/** What the objects' weights say about the record, object by object. */
export type DriftCheck =
  /** Every object carries the weights the record says were last written. */
  | { kind: 'in-step' }
  /**
   * Every object carries the weights of the step the record reached, not the ones it recorded: a
   * run died between writing them and recording them. That write was the rollout's own.
   */
  | { kind: 'ahead'; weights: ColorWeights; versions: Record<string, string> }
  /** Some objects are one write ahead, the others in step: a write cut short between objects. */
  | { kind: 'part-ahead'; objects: string[] }
  /** Someone else changed an object: what, and who. */
  | { kind: 'drift'; message: string }

function all(found: readonly RouteWeights[], w: ColorWeights): boolean {
  return found.every((r) => r.weights.blue === w.blue && r.weights.green === w.green)
}

/**
 * The "one write ahead" rule, per object: an object whose weights are the recorded ones is in
 * step; one whose weights are those of the step the record reached (`planned`, undefined before
 * the first step) is one write ahead of the record, which is no drift; anything else, or an
 * object gone or unreadable, is drift. Every drifted object is named.
 */
export function checkDrift(
  objects: readonly RouterObjectState[],
  recorded: ColorWeights,
  planned: ColorWeights | undefined
): DriftCheck {
  const drifts: string[] = []
  const ahead: string[] = []
  for (const o of objects) {
    if (!o.found) drifts.push(`${o.what} was deleted`)
    else if ('error' in o.routes)
      drifts.push(`${o.routes.error} (changed by ${o.writer ?? 'someone else'})`)
    else if (all(o.routes, recorded)) continue
    else if (planned && all(o.routes, planned)) ahead.push(o.object)
    else {
      const found = o.routes.map((r) => r.weights)
      drifts.push(describeDrift(o.what, found, recorded, o.writer) as string)
    }
  }
  if (drifts.length > 0) return { kind: 'drift', message: drifts.join('; ') }
  if (ahead.length === 0) return { kind: 'in-step' }
  if (ahead.length < objects.length) return { kind: 'part-ahead', objects: ahead }
  return {
    kind: 'ahead',
    weights: planned as ColorWeights,
    versions: Object.fromEntries(
      objects.flatMap((o) => (o.found ? [[o.object, o.resourceVersion]] : []))
    )
  }
}
