import {
  buildCandidate,
  type DeploymentObject,
  isTerminating,
  podTrouble,
  readiness
} from '../../src/core/workload.js'
import { subsetPatch } from '../../src/core/subsets.js'

const stable: DeploymentObject = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'reviews-blue',
    namespace: 'demo',
    uid: 'abc',
    resourceVersion: '12',
    generation: 3,
    labels: { app: 'reviews', version: 'blue', team: 'books' },
    annotations: { 'deployment.kubernetes.io/revision': '3', owner: 'books-team' }
  },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: 'reviews', version: 'blue' } },
    template: {
      metadata: { labels: { app: 'reviews', version: 'blue' } },
      spec: {
        containers: [
          { name: 'reviews', image: 'example.com/reviews:1.0.0', ports: [{ containerPort: 9080 }] },
          { name: 'sidecar', image: 'example.com/log:1' }
        ]
      }
    }
  },
  status: { replicas: 3 }
}

describe('buildCandidate', () => {
  it('copies the stable pod spec with the new color and image', () => {
    const r = buildCandidate(stable, {
      service: 'reviews',
      namespace: 'demo',
      color: 'green',
      colorLabel: 'version',
      image: 'example.com/reviews:2.0.0',
      replicas: 3
    })
    expect(r).toEqual({
      deployment: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {
          name: 'reviews-green',
          namespace: 'demo',
          labels: { app: 'reviews', version: 'green', team: 'books' },
          annotations: { owner: 'books-team' }
        },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'reviews', version: 'green' } },
          template: {
            metadata: { labels: { app: 'reviews', version: 'green' } },
            spec: {
              containers: [
                {
                  name: 'reviews',
                  image: 'example.com/reviews:2.0.0',
                  ports: [{ containerPort: 9080 }]
                },
                { name: 'sidecar', image: 'example.com/log:1' }
              ]
            }
          }
        }
      }
    })
    expect(stable.spec?.template?.spec?.containers?.[0]?.image).toBe('example.com/reviews:1.0.0')
  })

  it('sets the image on the named container', () => {
    const r = buildCandidate(stable, {
      service: 'reviews',
      namespace: 'demo',
      color: 'green',
      colorLabel: 'version',
      image: 'example.com/log:2',
      container: 'sidecar',
      replicas: 1
    })
    expect(
      'deployment' in r && r.deployment.spec?.template?.spec?.containers?.map((c) => c.image)
    ).toEqual(['example.com/reviews:1.0.0', 'example.com/log:2'])
  })

  it('names the containers when the named one is missing', () => {
    const r = buildCandidate(stable, {
      service: 'reviews',
      namespace: 'demo',
      color: 'green',
      colorLabel: 'version',
      container: 'app',
      replicas: 1
    })
    expect(r).toEqual({
      error:
        'input "container": Deployment reviews-blue has no container "app" (it has: reviews, sidecar)'
    })
  })
})

describe('readiness', () => {
  const d = (status: DeploymentObject['status'], generation = 2): DeploymentObject => ({
    metadata: { name: 'x', generation },
    spec: { replicas: 3 },
    status
  })
  it.each<[string, DeploymentObject, boolean]>([
    [
      'all available',
      d({ observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }),
      true
    ],
    [
      'controller behind',
      d({ observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }),
      false
    ],
    [
      'still rolling',
      d({ observedGeneration: 2, replicas: 4, updatedReplicas: 3, availableReplicas: 3 }),
      false
    ],
    [
      'not available',
      d({ observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 1 }),
      false
    ],
    ['no status', d(undefined), false]
  ])('%s', (_name, deployment, ready) => {
    expect(readiness(deployment).ready).toBe(ready)
  })
})

describe('podTrouble', () => {
  it('groups pods by what they report', () => {
    const waiting = (name: string, reason: string, message?: string) => ({
      metadata: { name },
      status: {
        phase: 'Pending',
        conditions: [{ type: 'Ready', status: 'False' }],
        containerStatuses: [{ name: 'app', state: { waiting: { reason, message } } }]
      }
    })
    expect(
      podTrouble([
        waiting('a', 'ImagePullBackOff', 'Back-off pulling image "x"'),
        waiting('b', 'ImagePullBackOff', 'Back-off pulling image "x"'),
        {
          metadata: { name: 'c' },
          status: {
            phase: 'Pending',
            conditions: [
              {
                type: 'PodScheduled',
                status: 'False',
                reason: 'Unschedulable',
                message: '0/3 nodes are available'
              }
            ]
          }
        },
        {
          metadata: { name: 'd' },
          status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] }
        }
      ])
    ).toBe(
      '2 pods: ImagePullBackOff (Back-off pulling image "x"); 1 pod: Unschedulable (0/3 nodes are available)'
    )
  })
})

describe('isTerminating', () => {
  it.each<[string, string | null | undefined, boolean]>([
    ['a running pod', undefined, false],
    ['a deleted pod in its grace period', '2026-12-02T05:00:30Z', true],
    ['a null deletionTimestamp (as some clients write it)', null, false],
    ['an empty one', '', false]
  ])('%s: %s', (_what, deletionTimestamp, expected) => {
    const metadata =
      deletionTimestamp === undefined ? { name: 'p' } : { name: 'p', deletionTimestamp }
    expect(isTerminating({ metadata })).toBe(expected)
  })
})

describe('subsetPatch', () => {
  const svc = { name: 'reviews', namespace: 'demo' }
  it('adds the missing color subset beside the others', () => {
    const spec = {
      host: 'reviews',
      trafficPolicy: { loadBalancer: { simple: 'LEAST_CONN' } },
      subsets: [{ name: 'blue', labels: { version: 'blue' } }]
    }
    expect(subsetPatch(spec, '5', svc, 'version', 'reviews')).toEqual({
      ops: [
        { op: 'replace', path: '/metadata/resourceVersion', value: '5' },
        {
          op: 'add',
          path: '/spec/subsets/-',
          value: { name: 'green', labels: { version: 'green' } }
        }
      ]
    })
  })
  it('creates the subsets list when there is none', () => {
    expect(
      subsetPatch({ host: 'reviews.demo.svc.cluster.local' }, '5', svc, 'color', 'reviews')
    ).toEqual({
      ops: [
        { op: 'replace', path: '/metadata/resourceVersion', value: '5' },
        {
          op: 'add',
          path: '/spec/subsets',
          value: [
            { name: 'blue', labels: { color: 'blue' } },
            { name: 'green', labels: { color: 'green' } }
          ]
        }
      ]
    })
  })
  it('writes nothing when both are there', () => {
    expect(
      subsetPatch(
        {
          host: 'reviews',
          subsets: [
            { name: 'green', labels: { version: 'green' } },
            { name: 'blue', labels: { version: 'blue' } }
          ]
        },
        '5',
        svc,
        'version',
        'reviews'
      )
    ).toEqual({ ops: [] })
  })
  it.each([
    [{ host: 'ratings' }, 'DestinationRule reviews is for host "ratings", not for reviews'],
    [
      { host: 'reviews', subsets: [{ name: 'blue', labels: { version: 'v1' } }] },
      'subset "blue" selects version=v1, expected version=blue'
    ],
    [
      { host: 'reviews', subsets: [{ name: 'green', labels: { version: 'green', track: 'x' } }] },
      'subset "green" selects version=green,track=x, expected version=green'
    ]
  ])('refuses %j', (spec, message) => {
    const r = subsetPatch(spec, '5', svc, 'version', 'reviews')
    expect('error' in r && r.error).toContain(message)
  })
})
