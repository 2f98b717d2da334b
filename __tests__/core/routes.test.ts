import {
  hostIsService,
  routeColorWeights,
  selectRoutes,
  splitServiceShare,
  type HttpRoute,
  type RouteShape,
  type VirtualServiceSpec,
  weightPatch
} from '../../src/core/routes.js'

const svc = { name: 'reviews', namespace: 'demo' }

function routes(spec: VirtualServiceSpec, names: string[] = []): RouteShape[] {
  const r = selectRoutes(spec, svc, names)
  if ('error' in r) throw new Error(r.error)
  return r.routes
}

const colored: VirtualServiceSpec = {
  hosts: ['reviews'],
  http: [
    {
      name: 'primary',
      route: [
        { destination: { host: 'reviews', subset: 'blue' }, weight: 100 },
        { destination: { host: 'reviews', subset: 'green' }, weight: 0 }
      ]
    }
  ]
}

describe('hostIsService', () => {
  it.each([
    ['reviews', true],
    ['reviews.demo', true],
    ['reviews.demo.svc', true],
    ['reviews.demo.svc.cluster.local', true],
    ['reviews.demo.svc.corp.internal', true],
    ['reviews.other', false],
    ['reviews.other.svc.cluster.local', false],
    ['ratings', false],
    ['reviews-canary', false],
    ['myweb.example.com', false]
  ])('%s → %s', (host, expected) => {
    expect(hostIsService(host, svc)).toBe(expected)
  })
})

describe('selectRoutes', () => {
  const mixed: VirtualServiceSpec = {
    hosts: ['reviews'],
    http: [
      {
        name: 'ratings-only',
        match: [{ uri: { prefix: '/ratings' } }],
        route: [{ destination: { host: 'ratings' } }]
      },
      {
        name: 'primary',
        route: [{ destination: { host: 'reviews.demo.svc.cluster.local', subset: 'blue' } }]
      }
    ]
  }

  it('defaults to every HTTP route with a destination to the service', () => {
    expect(routes(mixed).map((r) => r.name)).toEqual(['primary'])
  })

  it.each<[string, VirtualServiceSpec, string[], string]>([
    [
      'no HTTP routes',
      { hosts: ['reviews'], tcp: [{}] },
      [],
      'the VirtualService has no HTTP routes (only TCP/TLS routes)'
    ],
    [
      'unknown route name',
      mixed,
      ['canary'],
      'input "routes": no HTTP route named "canary"; the routes are: ratings-only, primary'
    ],
    [
      'named route not to the service',
      mixed,
      ['ratings-only'],
      'input "routes": HTTP route "ratings-only" has no destination to reviews'
    ],
    [
      'no route to the service',
      { http: [{ route: [{ destination: { host: 'ratings' } }] }] },
      [],
      'no HTTP route of the VirtualService has a destination to reviews (destinations: ratings)'
    ],
    [
      'foreign subset',
      { http: [{ name: 'p', route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] },
      [],
      'sends traffic to subset "v1" of reviews'
    ],
    [
      'two bare destinations',
      {
        http: [
          {
            name: 'p',
            route: [
              { destination: { host: 'reviews' }, weight: 50 },
              { destination: { host: 'reviews.demo' }, weight: 50 }
            ]
          }
        ]
      },
      [],
      'two destinations to reviews without a subset'
    ],
    [
      'bare and colored',
      {
        http: [
          {
            name: 'p',
            route: [
              { destination: { host: 'reviews' }, weight: 50 },
              { destination: { host: 'reviews', subset: 'blue' }, weight: 50 }
            ]
          }
        ]
      },
      [],
      'mixes a destination to reviews without a subset'
    ],
    [
      'weights that do not sum to 100',
      {
        http: [
          {
            name: 'p',
            route: [
              { destination: { host: 'reviews', subset: 'blue' }, weight: 60 },
              { destination: { host: 'reviews', subset: 'green' }, weight: 30 }
            ]
          }
        ]
      },
      [],
      'HTTP route "p" has weights that sum to 90, not 100 (blue=60, green=30); correct them so that they sum to 100'
    ],
    [
      'several destinations without weights',
      {
        http: [
          {
            route: [
              { destination: { host: 'reviews', subset: 'blue' } },
              { destination: { host: 'ratings' } }
            ]
          }
        ]
      },
      [],
      'HTTP route #0 has weights that sum to 0, not 100 (blue=0, ratings=0)'
    ],
    [
      'only TCP routes',
      { hosts: ['reviews'], tcp: [{ route: [{ destination: { host: 'reviews' } }] }] },
      [],
      'the VirtualService has no HTTP routes (only TCP/TLS routes); istio-bluegreen shifts HTTP route weights only'
    ]
  ])('refuses %s', (_name, spec, names, message) => {
    const r = selectRoutes(spec, svc, names)
    expect('error' in r && r.error).toContain(message)
  })
})

describe('routeColorWeights', () => {
  it.each<[string, HttpRoute, ReturnType<typeof routeColorWeights>]>([
    ['blue stable', colored.http?.[0] as HttpRoute, { blue: 100, green: 0 }],
    [
      'lone destination without weight',
      { route: [{ destination: { host: 'reviews', subset: 'green' } }] },
      { blue: 0, green: 100 }
    ],
    [
      'bare counts as blue',
      { route: [{ destination: { host: 'reviews' } }] },
      { blue: 100, green: 0 }
    ],
    [
      'share of the service beside another destination',
      {
        route: [
          { destination: { host: 'reviews', subset: 'blue' }, weight: 60 },
          { destination: { host: 'reviews', subset: 'green' }, weight: 20 },
          { destination: { host: 'ratings' }, weight: 20 }
        ]
      },
      { blue: 75, green: 25 }
    ]
  ])('%s', (_name, route, expected) => {
    const shape = routes({ http: [route] })[0] as RouteShape
    expect(routeColorWeights(route, shape, 'blue')).toEqual(expected)
  })
})

describe('splitServiceShare', () => {
  it.each([
    [0, 'green', 10, { blue: 90, green: 10 }],
    [0, 'green', 100, { blue: 0, green: 100 }],
    [20, 'green', 25, { blue: 60, green: 20 }],
    [10, 'blue', 33, { blue: 30, green: 60 }],
    [0, 'blue', 0, { blue: 0, green: 100 }]
  ] as const)('other=%d, candidate %s at %d%%', (other, candidate, percent, expected) => {
    const w = splitServiceShare(other, candidate, percent)
    expect(w).toEqual(expected)
    expect(w.blue + w.green + other).toBe(100)
  })
})

describe('weightPatch', () => {
  it('changes only the color weights, guarded by resourceVersion', () => {
    expect(weightPatch(colored, '42', routes(colored), 'green', 25)).toEqual([
      { op: 'replace', path: '/metadata/resourceVersion', value: '42' },
      { op: 'replace', path: '/spec/http/0/route/0/weight', value: 75 },
      { op: 'replace', path: '/spec/http/0/route/1/weight', value: 25 }
    ])
  })

  it('adopts a bare destination as the stable subset and adds the candidate beside it', () => {
    const spec: VirtualServiceSpec = {
      hosts: ['myweb.example.com'],
      gateways: ['myweb-gateway'],
      http: [{ route: [{ destination: { host: 'reviews', port: { number: 9080 } } }] }]
    }
    expect(weightPatch(spec, '7', routes(spec), 'green', 0)).toEqual([
      { op: 'replace', path: '/metadata/resourceVersion', value: '7' },
      {
        op: 'replace',
        path: '/spec/http/0/route/0/destination',
        value: { host: 'reviews', port: { number: 9080 }, subset: 'blue' }
      },
      { op: 'add', path: '/spec/http/0/route/0/weight', value: 100 },
      {
        op: 'add',
        path: '/spec/http/0/route/-',
        value: {
          destination: { host: 'reviews', port: { number: 9080 }, subset: 'green' },
          weight: 0
        }
      }
    ])
  })

  it('leaves other destinations and routes alone', () => {
    const spec: VirtualServiceSpec = {
      http: [
        { name: 'mirror', route: [{ destination: { host: 'ratings' } }] },
        {
          name: 'primary',
          route: [
            { destination: { host: 'reviews', subset: 'green' }, weight: 80 },
            { destination: { host: 'legacy' }, weight: 20 }
          ]
        }
      ]
    }
    const ops = weightPatch(spec, '1', routes(spec), 'blue', 50)
    expect(ops).toEqual([
      { op: 'replace', path: '/metadata/resourceVersion', value: '1' },
      { op: 'replace', path: '/spec/http/1/route/0/weight', value: 40 },
      {
        op: 'add',
        path: '/spec/http/1/route/-',
        value: { destination: { host: 'reviews', subset: 'blue' }, weight: 40 }
      }
    ])
    expect(ops.some((o) => o.path.includes('/http/0/') || o.path.endsWith('/route/1/weight'))).toBe(
      false
    )
  })
})
