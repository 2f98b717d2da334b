/**
 * Where a release starts from, decided from what preflight read: which color is stable, whether
 * an uncolored Deployment is adopted, which Deployment is the candidate's template; and, after
 * the first release through an adopted Deployment, whether to scale the original to zero. The
 * original (e.g. `reviews`) was copied into `<service>-blue`; once routes name the color subsets
 * it gets no routed traffic but keeps its replicas, so when that release has ended it is scaled
 * to 0 (never deleted). Pure: the caller reads the cluster and does what these say.
 */
import { type Color, COLORS, type ColorWeights, deploymentName, formatWeights } from './color.js'
import type { Adoption, Phase } from './record.js'
import type { DeploymentObject } from './workload.js'

/** The stable color read off the selected routes' weights. */
export type StableColor =
  | { kind: 'stable'; stable: Color }
  /** Some route is not at 100% on one color, or the routes disagree: a rollout is in flight. */
  | {
      kind: 'between'
      message: string
      /** The color with most of the first route. */ guess: Color
    }

/**
 * The color that has 100% on every selected route (a route not adopted yet counts as blue).
 * `where` names the routing object in messages, e.g. `VirtualService reviews`.
 */
export function stableColorOf(
  routes: readonly { name: string; weights: ColorWeights }[],
  where: string
): StableColor {
  const colors = new Set(
    routes.map(({ weights: w }) => (w.blue === 100 ? 'blue' : w.green === 100 ? 'green' : 'split'))
  )
  const [only] = colors
  if (colors.size === 1 && only !== 'split' && only !== undefined) {
    return { kind: 'stable', stable: only }
  }
  const shown = routes.map((r) => `${r.name}: ${formatWeights(r.weights)}`).join('; ')
  return {
    kind: 'between',
    message:
      routes.length === 0
        ? `${where} has no selected route to read the stable color from; check input "routes"`
        : `${where} is between colors (${shown}); a rollout is in flight or was interrupted: finish it or roll it back before deploying`,
    guess: (routes[0]?.weights.blue ?? 100) >= 50 ? 'blue' : 'green'
  }
}

/** Whether a Deployment's pod template carries every label of the Service's selector. */
export function matchesSelector(d: DeploymentObject, selector: Record<string, string>): boolean {
  const labels = d.spec?.template?.metadata?.labels ?? {}
  return Object.entries(selector).every(([k, v]) => labels[k] === v)
}

export interface AdoptInput {
  service: string
  namespace: string
  /** The stable color the routes name; its Deployment `<service>-<stable>` was not found. */
  stable: Color
  /** The Service's pod selector. */
  selector: Record<string, string>
  /** Every Deployment of the namespace. */
  deployments: readonly DeploymentObject[]
}

export type AdoptDecision =
  /** Copy `from` into `<service>-blue`, which becomes the stable color. */
  { kind: 'adopt'; from: DeploymentObject } | { kind: 'refuse'; message: string }

/**
 * When the stable color's Deployment is missing: adopt the one uncolored Deployment that serves
 * the Service, only when the routes have no colors yet (stable blue). Anything else is refused:
 * two candidates are ambiguous, none means the service is not running.
 */
export function adoptionOf(input: AdoptInput): AdoptDecision {
  const { service, namespace, stable, selector } = input
  const colored = COLORS.map((c) => deploymentName(service, c))
  const serving = input.deployments.filter(
    (d) => matchesSelector(d, selector) && !colored.includes(d.metadata.name)
  )
  const [only] = serving
  if (serving.length === 1 && only && stable === 'blue') return { kind: 'adopt', from: only }
  return {
    kind: 'refuse',
    message:
      `Deployment ${deploymentName(service, stable)} not found in namespace ${namespace}` +
      (serving.length > 1
        ? `, and ${serving.length} Deployments match Service ${service}'s selector (${serving.map((d) => d.metadata.name).join(', ')}): keep one`
        : `; deploy the service first (the stable color must be running)`)
  }
}

/** The Deployments found in the files of input `manifests`, with the files they came from. */
export interface Manifests {
  files: readonly string[]
  /** Every YAML document of those files, in file order. */
  docs: readonly unknown[]
}

/**
 * The candidate's template: the stable Deployment, or with input `manifests` the one Deployment
 * named `<service>` or `<service>-<color>` there, or else the only Deployment there.
 */
export function templateOf(
  service: string,
  stable: DeploymentObject,
  manifests?: Manifests
): { template: DeploymentObject } | { error: string } {
  if (!manifests) return { template: stable }
  const deployments = manifests.docs.filter(
    (doc): doc is DeploymentObject =>
      typeof doc === 'object' &&
      doc !== null &&
      (doc as DeploymentObject).kind === 'Deployment' &&
      Boolean((doc as DeploymentObject).metadata?.name)
  )
  const names = [service, ...COLORS.map((c) => deploymentName(service, c))]
  const named = deployments.filter((d) => names.includes(d.metadata.name))
  const pick = named.length === 1 ? named[0] : deployments.length === 1 ? deployments[0] : undefined
  if (pick) return { template: pick }
  return {
    error: `input "manifests": expected one Deployment for ${service} in ${manifests.files.join(', ')}, found ${deployments.length}${deployments.length ? ` (${deployments.map((d) => d.metadata.name).join(', ')})` : ''}; name it ${service}`
  }
}

export interface RetireInput {
  phase: Phase
  adopted?: Adoption
  /** The original Deployment's replicas now; undefined when it no longer exists. */
  originalReplicas?: number
  /** Whether a selected route still sends to the Service without subsets (original serves). */
  routesBare: boolean
  /** Whether the color now taking all traffic is available. */
  servingReady: boolean
}

export type RetireDecision =
  /** Nothing was adopted, or the original was already retired. */
  | { kind: 'none' }
  /** Not yet: the reason says why the original must keep its replicas for now. */
  | { kind: 'wait'; reason: string }
  /** Already at zero or gone (a person did it, or a run that crashed after scaling): record it. */
  | { kind: 'record'; deployment: string; note: string }
  | { kind: 'scale-down'; deployment: string; replicas: number }

const ENDED: readonly Phase[] = ['promoted', 'rolled-back']

export function retireDecision(input: RetireInput): RetireDecision {
  const { adopted } = input
  if (!adopted || adopted.scaledDownAt !== undefined) return { kind: 'none' }
  if (!ENDED.includes(input.phase)) {
    return { kind: 'wait', reason: `the release through it is ${input.phase}` }
  }
  if (input.routesBare) {
    return {
      kind: 'wait',
      reason: 'a route still sends to the Service without a color subset, so its pods still serve'
    }
  }
  if (!input.servingReady) {
    return { kind: 'wait', reason: 'the color that takes the traffic is not available' }
  }
  if (input.originalReplicas === undefined) {
    return { kind: 'record', deployment: adopted.deployment, note: 'it no longer exists' }
  }
  if (input.originalReplicas === 0) {
    return { kind: 'record', deployment: adopted.deployment, note: 'it is already at 0 replicas' }
  }
  return { kind: 'scale-down', deployment: adopted.deployment, replicas: input.originalReplicas }
}
