/** The pure parts of the Gateway API router (src/adapters/gateway.ts), table-driven. */
import {
  colorServiceLine,
  describeHttpRoutes,
  GATEWAY_PERMISSIONS,
  gatewayVersion,
  introducesColors,
  withoutTestRules
} from '../../src/adapters/gateway.js'
import type { Kube } from '../../src/adapters/kube.js'
import { colorServicePlan, type ServiceObject } from '../../src/core/color-services.js'
import type { RuleShape } from '../../src/core/httproute.js'
import {
  GATEWAY_REQUIRED_PERMISSIONS,
  REQUIRED_PERMISSIONS,
  rbacManifests
} from '../../src/permissions.js'
import { routerWeightsText } from '../../src/report.js'

const shape = (over: Partial<RuleShape>): RuleShape => ({
  index: 0,
  name: '#0',
  colors: {},
  serviceWeight: 100,
  otherWeight: 0,
  ...over
})

describe('introducesColors: whether a weight write names a color Service the rules lack', () => {
  it.each<[string, RuleShape[], boolean]>([
    ['a bare backendRef (first release)', [shape({ bare: 0 })], true],
    ['one color only', [shape({ colors: { blue: 0 } })], true],
    ['both colors', [shape({ colors: { blue: 0, green: 1 } })], false],
    [
      'both colors on one rule, one on another',
      [shape({ colors: { blue: 0, green: 1 } }), shape({ index: 1, colors: { green: 0 } })],
      true
    ],
    ['no rule', [], false]
  ])('%s → %s', (_name, shapes, expected) => {
    expect(introducesColors(shapes)).toBe(expected)
  })
})

describe('withoutTestRules: the rules weights are read on, with their indexes', () => {
  it.each([
    [[{}], [0]],
    [[{ name: 'istio-bluegreen-test' }, {}], [1]],
    [
      [{ name: 'a' }, { name: 'istio-bluegreen-test-2' }, { name: 'istio-bluegreen-test' }, {}],
      [0, 3]
    ],
    [[{ name: 'istio-bluegreen-tester' }], [0]]
  ])('%j → %j', (rules, original) => {
    const r = withoutTestRules(rules)
    expect(r.original).toEqual(original)
    expect(r.base).toEqual(original.map((i) => rules[i]))
  })
})

const SERVICE: ServiceObject = {
  metadata: { name: 'reviews', namespace: 'demo' },
  spec: { selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080 }] }
}

describe('colorServiceLine: what ensureColors logs', () => {
  it('a create names the selector', () => {
    const plan = colorServicePlan(SERVICE, undefined, 'version', 'green')
    expect(colorServiceLine(plan, 'reviews', 'green')).toBe(
      'created Service reviews-green (selector app=reviews,version=green, the ports of reviews)'
    )
  })
  it('a patch says it was brought in step; nothing for none or an error', () => {
    expect(colorServiceLine({ action: 'patch', ops: [] }, 'reviews', 'blue')).toBe(
      'updated Service reviews-blue to the selector and ports of reviews plus its color'
    )
    expect(colorServiceLine({ action: 'none' }, 'reviews', 'blue')).toBeUndefined()
    expect(colorServiceLine({ error: 'x' }, 'reviews', 'blue')).toBeUndefined()
  })
})

it.each([
  [['reviews'], 'HTTPRoute reviews'],
  [['reviews', 'reviews-edge'], 'HTTPRoutes reviews, reviews-edge']
])('describeHttpRoutes(%j) = %s', (names, text) => {
  expect(describeHttpRoutes(names)).toBe(text)
})

describe('the Role of each router', () => {
  const verbs = (perms: typeof REQUIRED_PERMISSIONS): Record<string, string[]> =>
    Object.fromEntries(
      perms.map((p) => [p.group ? `${p.resource}.${p.group}` : p.resource, [...p.verbs]])
    )
  it('gateway-api: HTTPRoutes get and patch, Services get, create and patch, one rule each, no Istio kinds', () => {
    expect(verbs(GATEWAY_REQUIRED_PERMISSIONS)).toEqual({
      'deployments.apps': ['get', 'list', 'watch', 'create', 'update', 'patch'],
      pods: ['list'],
      services: ['get', 'create', 'patch'],
      'httproutes.gateway.networking.k8s.io': ['get', 'patch'],
      'leases.coordination.k8s.io': ['get', 'create', 'update']
    })
  })
  it('istio: unchanged, and no Service write', () => {
    expect(verbs(REQUIRED_PERMISSIONS)).toEqual({
      'deployments.apps': ['get', 'list', 'watch', 'create', 'update', 'patch'],
      pods: ['list'],
      services: ['get'],
      'virtualservices.networking.istio.io': ['get', 'patch'],
      'destinationrules.networking.istio.io': ['get', 'patch'],
      'leases.coordination.k8s.io': ['get', 'create', 'update']
    })
  })
  it('rbacManifests picks the router', () => {
    const resources = (router: 'istio' | 'gateway-api'): string[] =>
      rbacManifests('shop', router)[0].rules.flatMap((r) => r.resources)
    expect(resources('gateway-api')).toContain('httproutes')
    expect(resources('gateway-api')).not.toContain('virtualservices')
    expect(resources('istio')).not.toContain('httproutes')
    expect(GATEWAY_PERMISSIONS.every((p) => !p.verbs.includes('delete'))).toBe(true)
  })
})

describe('routerWeightsText: what plan prints of each object', () => {
  it.each<[string, Parameters<typeof routerWeightsText>[0], string]>([
    [
      'a bare rule',
      [
        {
          object: 'reviews',
          what: 'HTTPRoute reviews',
          found: true,
          resourceVersion: '1',
          testRoute: false,
          bare: true,
          routes: [{ name: '#0', weights: { blue: 100, green: 0 } }]
        }
      ],
      'HTTPRoute reviews: #0 blue=100,green=0 (not adopted yet: the first release names the colors)'
    ],
    [
      'two objects, one missing',
      [
        {
          object: 'a',
          what: 'HTTPRoute a',
          found: true,
          resourceVersion: '1',
          testRoute: false,
          bare: false,
          routes: [
            { name: 'main', weights: { blue: 90, green: 10 } },
            { name: 'api', weights: { blue: 90, green: 10 } }
          ]
        },
        { object: 'b', what: 'HTTPRoute b', found: false }
      ],
      'HTTPRoute a: main blue=90,green=10 · api blue=90,green=10\nHTTPRoute b: not found'
    ],
    [
      'an object whose rules cannot be read',
      [
        {
          object: 'a',
          what: 'HTTPRoute a',
          found: true,
          resourceVersion: '1',
          testRoute: false,
          bare: false,
          routes: { error: 'HTTPRoute a: no rule' }
        }
      ],
      'HTTPRoute a: HTTPRoute a: no rule'
    ]
  ])('%s', (_name, objects, text) => {
    expect(routerWeightsText(objects)).toBe(text)
  })
})

describe('gatewayVersion: v1, else v1beta1, else an error saying what to do', () => {
  const serving = (versions: string[]): Kube =>
    ({ servedVersions: async () => versions }) as unknown as Kube
  it.each([
    [['v1', 'v1beta1'], 'v1'],
    [['v1beta1'], 'v1beta1'],
    [['v1alpha2', 'v1beta1', 'v1'], 'v1']
  ])('serving %j → %s', async (versions, version) => {
    await expect(gatewayVersion(serving(versions))).resolves.toBe(version)
  })
  it.each([[[]], [['v1alpha2']]])('serving %j → an error', async (versions) => {
    await expect(gatewayVersion(serving(versions))).rejects.toThrow(
      "the cluster does not serve the Gateway API's gateway.networking.k8s.io HTTPRoute (v1 or v1beta1); install the Gateway API CRDs"
    )
  })
})
