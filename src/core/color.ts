/** The two colors of a service. Each is one Deployment `<service>-<color>` and one DestinationRule subset. */
export type Color = 'blue' | 'green'

export const COLORS: readonly Color[] = ['blue', 'green']

/** The color that is not `color`. */
export function otherColor(color: Color): Color {
  return color === 'blue' ? 'green' : 'blue'
}

export function isColor(value: string | undefined): value is Color {
  return value === 'blue' || value === 'green'
}

/** Deployment name of a color: `<service>-<color>`. */
export function deploymentName(service: string, color: Color): string {
  return `${service}-${color}`
}

/** Weights of both colors, as percentages of the service's traffic. */
export type ColorWeights = Record<Color, number>

/** `blue=90,green=10`: the form used in outputs and logs. */
export function formatWeights(weights: ColorWeights): string {
  return `blue=${weights.blue},green=${weights.green}`
}

/** Weights that give `candidate` the share `candidateWeight` and the other color the rest. */
export function weightsFor(candidate: Color, candidateWeight: number): ColorWeights {
  const stable = otherColor(candidate)
  return { [candidate]: candidateWeight, [stable]: 100 - candidateWeight } as ColorWeights
}
