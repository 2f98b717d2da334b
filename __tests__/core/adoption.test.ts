import {
  type AdoptDecision,
  adoptionOf,
  type RetireInput,
  retireDecision,
  type StableColor,
  stableColorOf,
  templateOf
} from '../../src/core/adoption.js'
import type { ColorWeights } from '../../src/core/color.js'
import type { DeploymentObject } from '../../src/core/workload.js'

const ended: RetireInput = {
  phase: 'promoted',
  adopted: { deployment: 'reviews' },
  originalReplicas: 2,
  routesBare: false,
  servingReady: true
}

describe('retireDecision: scale the adopted original to 0 once its first release has ended', () => {
  it.each<[string, Partial<RetireInput>, ReturnType<typeof retireDecision>]>([
    ['promoted: scale it down', {}, { kind: 'scale-down', deployment: 'reviews', replicas: 2 }],
    [
      'rolled back: scale it down too (the adopted copy serves)',
      { phase: 'rolled-back' },
      { kind: 'scale-down', deployment: 'reviews', replicas: 2 }
    ],
    ['nothing adopted', { adopted: undefined }, { kind: 'none' }],
    [
      'already retired: never touched again (a person may have scaled it back up)',
      { adopted: { deployment: 'reviews', scaledDownAt: '2026-11-25T10:00:00.000Z' } },
      { kind: 'none' }
    ],
    ...(['deploying', 'shifting', 'paused'] as const).map(
      (phase): [string, Partial<RetireInput>, ReturnType<typeof retireDecision>] => [
        `${phase}: wait (a later promote or rollback retires it)`,
        { phase },
        { kind: 'wait', reason: `the release through it is ${phase}` }
      ]
    ),
    [
      'failed: wait, a person must first bring traffic to a safe state',
      { phase: 'failed' },
      { kind: 'wait', reason: 'the release through it is failed' }
    ],
    [
      'rolled back before routes named subsets: the original still serves, keep it',
      { phase: 'rolled-back', routesBare: true },
      {
        kind: 'wait',
        reason: 'a route still sends to the Service without a color subset, so its pods still serve'
      }
    ],
    [
      'the serving color is not available: keep it',
      { servingReady: false },
      { kind: 'wait', reason: 'the color that takes the traffic is not available' }
    ],
    [
      'already at 0 (a run crashed after scaling it): only record it',
      { originalReplicas: 0 },
      { kind: 'record', deployment: 'reviews', note: 'it is already at 0 replicas' }
    ],
    [
      'deleted by a person: only record it',
      { originalReplicas: undefined },
      { kind: 'record', deployment: 'reviews', note: 'it no longer exists' }
    ]
  ])('%s', (_name, change, expected) => {
    expect(retireDecision({ ...ended, ...change })).toEqual(expected)
  })
})

const VS = 'VirtualService reviews'
const at = (blue: number): ColorWeights => ({ blue, green: 100 - blue })

describe('stableColorOf: the color with 100% on every selected route', () => {
  it.each<[string, [string, number][], StableColor]>([
    ['blue everywhere', [['primary', 100]], { kind: 'stable', stable: 'blue' }],
    [
      'green on both routes',
      [
        ['primary', 0],
        ['mirror', 0]
      ],
      { kind: 'stable', stable: 'green' }
    ],
    [
      'one route split: in flight, guess the color with most of the first route',
      [['primary', 70]],
      {
        kind: 'between',
        guess: 'blue',
        message:
          'VirtualService reviews is between colors (primary: blue=70,green=30); a rollout is in flight or was interrupted: finish it or roll it back before deploying'
      }
    ],
    [
      'routes that disagree, each on one color',
      [
        ['primary', 100],
        ['mirror', 0]
      ],
      {
        kind: 'between',
        guess: 'blue',
        message:
          'VirtualService reviews is between colors (primary: blue=100,green=0; mirror: blue=0,green=100); a rollout is in flight or was interrupted: finish it or roll it back before deploying'
      }
    ],
    [
      'half and half: the guess goes to blue',
      [['primary', 50]],
      expect.objectContaining({ kind: 'between', guess: 'blue' })
    ],
    [
      'mostly green: the guess goes to green',
      [['primary', 49]],
      expect.objectContaining({ kind: 'between', guess: 'green' })
    ],
    [
      'no route: between, with blue as for a route not adopted yet',
      [],
      {
        kind: 'between',
        guess: 'blue',
        message:
          'VirtualService reviews has no selected route to read the stable color from; check input "routes"'
      }
    ]
  ])('%s', (_name, routes, expected) => {
    expect(
      stableColorOf(
        routes.map(([name, blue]) => ({ name, weights: at(blue) })),
        VS
      )
    ).toEqual(expected)
  })
})

function deployment(name: string, labels: Record<string, string>): DeploymentObject {
  return { kind: 'Deployment', metadata: { name }, spec: { template: { metadata: { labels } } } }
}

describe('adoptionOf: adopt the one uncolored Deployment serving the Service', () => {
  const selector = { app: 'reviews' }
  const original = deployment('reviews', { app: 'reviews' })
  const other = deployment('ratings', { app: 'ratings' })
  it.each<[string, 'blue' | 'green', DeploymentObject[], AdoptDecision]>([
    [
      'the one that matches the selector',
      'blue',
      [original, other],
      { kind: 'adopt', from: original }
    ],
    [
      'a matching Deployment with more labels than the selector',
      'blue',
      [deployment('reviews-v1', { app: 'reviews', tier: 'web' })],
      { kind: 'adopt', from: deployment('reviews-v1', { app: 'reviews', tier: 'web' }) }
    ],
    [
      'none matches: the service is not running',
      'blue',
      [other],
      {
        kind: 'refuse',
        message:
          'Deployment reviews-blue not found in namespace demo; deploy the service first (the stable color must be running)'
      }
    ],
    [
      'two match: ambiguous',
      'blue',
      [original, deployment('reviews-canary', { app: 'reviews' })],
      {
        kind: 'refuse',
        message:
          "Deployment reviews-blue not found in namespace demo, and 2 Deployments match Service reviews's selector (reviews, reviews-canary): keep one"
      }
    ],
    [
      'a colored Deployment is never adopted',
      'blue',
      [deployment('reviews-green', { app: 'reviews' })],
      expect.objectContaining({ kind: 'refuse' })
    ],
    [
      'the routes already name green: its Deployment is missing, nothing to adopt',
      'green',
      [original],
      {
        kind: 'refuse',
        message:
          'Deployment reviews-green not found in namespace demo; deploy the service first (the stable color must be running)'
      }
    ]
  ])('%s', (_name, stable, deployments, expected) => {
    expect(
      adoptionOf({ service: 'reviews', namespace: 'demo', stable, selector, deployments })
    ).toEqual(expected)
  })
})

describe('templateOf: which Deployment the candidate is made from', () => {
  const stable = deployment('reviews-blue', { app: 'reviews' })
  const files = ['k8s/app.yaml']
  const service = deployment('reviews', { app: 'reviews' })
  const colored = deployment('reviews-green', { app: 'reviews' })
  const worker = deployment('worker', { app: 'worker' })
  const config = { kind: 'ConfigMap', metadata: { name: 'reviews' } }
  it.each<[string, unknown[] | undefined, ReturnType<typeof templateOf>]>([
    ['no manifests: the stable Deployment', undefined, { template: stable }],
    [
      'the Deployment named after the service, among others',
      [config, worker, service],
      { template: service }
    ],
    ['one named <service>-<color>', [worker, colored], { template: colored }],
    ['the only Deployment, whatever its name', [config, worker, null], { template: worker }],
    [
      'two named after the service: ambiguous',
      [service, colored],
      {
        error:
          'input "manifests": expected one Deployment for reviews in k8s/app.yaml, found 2 (reviews, reviews-green); name it reviews'
      }
    ],
    [
      'no Deployment at all',
      [config],
      {
        error:
          'input "manifests": expected one Deployment for reviews in k8s/app.yaml, found 0; name it reviews'
      }
    ],
    [
      'a Deployment without a name does not count',
      [{ kind: 'Deployment', metadata: {} }, worker],
      { template: worker }
    ]
  ])('%s', (_name, docs, expected) => {
    expect(templateOf('reviews', stable, docs && { files, docs })).toEqual(expected)
  })
})
