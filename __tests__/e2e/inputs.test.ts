/**
 * Inputs that shape where and what the action deploys, end to end on the sandbox: the kubeconfig
 * content with a chosen context, the namespace from the context, and its token masked by the
 * runner; adoption of a hand-made service with a custom color label, paused half-way and
 * promoted; manifests and container, custom object and route names, reporter and previous-color
 * in one release, and the instant rollback that previous-color scale-down rules out. Each also
 * runs in-process, with thresholds and fail-on-rollback (__tests__/inprocess/inputs.test.ts).
 */
import { jest } from '@jest/globals'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import yaml from 'js-yaml'
import type { Sandbox } from '../../sandbox/index.js'
import type { KubeObject, ResourceName } from '../../sandbox/types.js'
import {
  expectExit,
  fastInputs,
  kubeEnv,
  meshFailures,
  readLease,
  runAction,
  sandbox,
  waitForSeries,
  withSandbox
} from './harness.js'

jest.setTimeout(180_000)

describe('input kubeconfig', () => {
  let sb: Sandbox
  beforeEach(async () => {
    sb = await sandbox()
  })
  afterEach(async () => {
    await sb.stop()
  })

  it('kubeconfig content with a chosen context, namespace from the context; the token is masked', async () => {
    const sandboxConfig = yaml.load(await readFile(sb.kubeconfigPath, 'utf8')) as {
      clusters: Array<{ name: string; cluster: Record<string, unknown> }>
      users: Array<{ name: string; user: { token: string } }>
      contexts: Array<{ name: string; context: Record<string, string> }>
    }
    const token = sandboxConfig.users[0]?.user.token as string
    const config = {
      ...sandboxConfig,
      clusters: [
        ...sandboxConfig.clusters,
        { name: 'prod', cluster: { server: 'https://127.0.0.1:1' } }
      ],
      contexts: [
        ...sandboxConfig.contexts,
        { name: 'prod', context: { cluster: 'prod', user: sandboxConfig.users[0]?.name as string } }
      ],
      'current-context': 'prod'
    }
    const inputs = fastInputs(sb, {
      image: 'example.com/reviews:2.0.0',
      kubeconfig: yaml.dump(config),
      context: sandboxConfig.contexts[0]?.name as string,
      steps: '50,100'
    })
    delete inputs.namespace
    const run = await runAction(inputs, {})
    expectExit(run, 'success')
    expect(run.outputs.result).toBe('promoted')
    expect(token.length).toBeGreaterThan(10)
    // The runner swallows ::add-mask:: commands; everything else it prints must not hold the token.
    const printed = run.log.split('\n').filter((l) => !l.startsWith('::add-mask::'))
    expect(printed.join('\n')).not.toContain(token)
    expect(run.log).toContain(`::add-mask::${token}`)
  })
})

function get(sb: Sandbox, resource: ResourceName, name: string): KubeObject {
  const o = sb.api.store.get(resource, 'demo', name)
  if (!o) throw new Error(`${resource}/${name} not found`)
  return o
}

function containers(d: KubeObject): Array<{ name: string; image: string; env?: unknown[] }> {
  return (d.spec as { template: { spec: { containers: Array<{ name: string; image: string }> } } })
    .template.spec.containers
}

/** Requests the mesh could not route so far, all flags together. */
const failures = (sb: Sandbox): number => Object.values(meshFailures(sb)).reduce((a, b) => a + b, 0)

const replicas = (sb: Sandbox, name: string): number =>
  (get(sb, 'deployments', name).spec as { replicas: number }).replicas

/**
 * The service as a team has it before any blue/green: one Deployment `reviews` (2 replicas), a
 * gateway route to the Service without subset, a DestinationRule with a traffic policy only.
 */
async function uncolored(sb: Sandbox): Promise<void> {
  const store = sb.api.store
  const blue = get(sb, 'deployments', 'reviews-blue')
  store.delete('deployments', 'demo', 'reviews-blue')
  store.create('deployments', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'reviews', namespace: 'demo', labels: { app: 'reviews' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'reviews' } },
      template: {
        metadata: { labels: { app: 'reviews' } },
        spec: (blue.spec as { template: { spec: Record<string, unknown> } }).template.spec
      }
    }
  })
  const vs = get(sb, 'virtualservices', 'reviews')
  store.replace('virtualservices', {
    ...vs,
    spec: {
      hosts: ['reviews.example.com'],
      gateways: ['reviews-gateway'],
      http: [{ route: [{ destination: { host: 'reviews', port: { number: 9080 } } }] }]
    }
  })
  const dr = get(sb, 'destinationrules', 'reviews')
  store.replace('destinationrules', {
    ...dr,
    spec: { host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'LEAST_CONN' } } }
  })
  await waitForSeries(sb, 'sum(increase(istio_requests_total{destination_workload="reviews"}[5s]))')
}

describe('inputs that shape the release', () => {
  it.concurrent(
    'adopts a hand-made service with color-label track, paused half-way and promoted later, dropping no request',
    () =>
      withSandbox(sandbox, async (sb) => {
        await uncolored(sb)
        const failuresBefore = failures(sb)
        const inputs = fastInputs(sb, {
          image: 'example.com/reviews:2.0.0',
          'color-label': 'track',
          steps: '50,100',
          'pause-at': '50'
        })
        const paused = await runAction(inputs, kubeEnv(sb))
        expectExit(paused, 'success')
        expect(paused.outputs.result).toBe('paused')
        expect(replicas(sb, 'reviews')).toBe(2)
        expect(paused.log).toContain(
          'Deployment reviews keeps its replicas for now: the release through it is paused'
        )
        expect(readLease(sb)?.record?.adopted).toEqual({ deployment: 'reviews' })

        const promoted = await runAction(
          { ...inputs, command: 'promote', 'pause-at': '' },
          kubeEnv(sb)
        )
        expectExit(promoted, 'success')
        expect(promoted.outputs).toMatchObject({
          result: 'promoted',
          'stable-color': 'green',
          weights: 'blue=0,green=100'
        })
        expect(get(sb, 'virtualservices', 'reviews').spec).toEqual({
          hosts: ['reviews.example.com'],
          gateways: ['reviews-gateway'],
          http: [
            {
              route: [
                {
                  destination: { host: 'reviews', port: { number: 9080 }, subset: 'blue' },
                  weight: 0
                },
                {
                  destination: { host: 'reviews', port: { number: 9080 }, subset: 'green' },
                  weight: 100
                }
              ]
            }
          ]
        })
        expect(get(sb, 'destinationrules', 'reviews').spec).toEqual({
          host: 'reviews',
          trafficPolicy: { loadBalancer: { simple: 'LEAST_CONN' } },
          subsets: [
            { name: 'blue', labels: { track: 'blue' } },
            { name: 'green', labels: { track: 'green' } }
          ]
        })
        const adopted = get(sb, 'deployments', 'reviews-blue')
        expect((adopted.spec as { selector: unknown }).selector).toEqual({
          matchLabels: { app: 'reviews', track: 'blue' }
        })
        expect(containers(adopted)[0]?.image).toBe('example.com/reviews:1.0.0')
        // No request went unrouted, from the hand-made route to the colors and on.
        expect(failures(sb)).toBe(failuresBefore)
        // The release has ended: the original is scaled to 0, kept, and the user is told.
        expect(replicas(sb, 'reviews')).toBe(0)
        expect(promoted.log).toContain(
          'scaled Deployment reviews to 0 (from 2): it was adopted as reviews-blue, which now serves the service; it is kept, not deleted'
        )
        expect(promoted.summary).toContain(
          '**Adopted:** Deployment `reviews` was copied into `reviews-blue`'
        )
        expect(readLease(sb)?.record?.adopted).toEqual({
          deployment: 'reviews',
          scaledDownAt: expect.any(String)
        })
      })
  )

  it.concurrent(
    'manifests and container, custom object and route names, reporter source and previous-color scale-down in one release; then no instant rollback',
    () =>
      withSandbox(sandbox, async (sb) => {
        const dir = await mkdtemp(path.join(tmpdir(), 'ibg-manifests-'))
        const manifest = {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'reviews', labels: { app: 'reviews' } },
          spec: {
            replicas: 2,
            selector: { matchLabels: { app: 'reviews' } },
            template: {
              metadata: { labels: { app: 'reviews' } },
              spec: {
                containers: [
                  { name: 'log-shipper', image: 'example.com/log:1' },
                  {
                    name: 'reviews',
                    image: 'example.com/reviews:placeholder',
                    env: [{ name: 'FEATURE_X', value: 'on' }]
                  }
                ]
              }
            }
          }
        }
        await writeFile(
          path.join(dir, 'service.yaml'),
          `---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n---\n${yaml.dump(manifest)}`
        )
        const store = sb.api.store
        const vs = get(sb, 'virtualservices', 'reviews')
        const dr = get(sb, 'destinationrules', 'reviews')
        const beta = {
          name: 'beta',
          match: [{ headers: { 'x-beta': { exact: '1' } } }],
          route: [{ destination: { host: 'reviews', subset: 'blue' } }]
        }
        store.delete('virtualservices', 'demo', 'reviews')
        store.delete('destinationrules', 'demo', 'reviews')
        store.create('virtualservices', {
          apiVersion: vs.apiVersion,
          kind: vs.kind,
          metadata: { name: 'reviews-routes', namespace: 'demo' },
          spec: { hosts: ['reviews'], http: [beta, ...((vs.spec?.http ?? []) as unknown[])] }
        })
        store.create('destinationrules', {
          apiVersion: dr.apiVersion,
          kind: dr.kind,
          metadata: { name: 'reviews-subsets', namespace: 'demo' },
          spec: dr.spec
        })
        const inputs = fastInputs(sb, {
          manifests: path.join(dir, '*.yaml'),
          container: 'reviews',
          image: 'example.com/reviews:3.0.0',
          'virtual-service': 'reviews-routes',
          'destination-rule': 'reviews-subsets',
          routes: 'primary',
          reporter: 'source',
          'previous-color': 'scale-down',
          steps: '50,100'
        })
        const run = await runAction(inputs, kubeEnv(sb))
        expectExit(run, 'success')
        expect(run.outputs.result).toBe('promoted')
        expect(run.log).toContain('reporter="source"')
        const green = get(sb, 'deployments', 'reviews-green')
        expect(containers(green)).toMatchObject([
          { name: 'log-shipper', image: 'example.com/log:1' },
          {
            name: 'reviews',
            image: 'example.com/reviews:3.0.0',
            env: [{ name: 'FEATURE_X', value: 'on' }]
          }
        ])
        expect((green.spec as { selector: unknown }).selector).toEqual({
          matchLabels: { app: 'reviews', version: 'green' }
        })
        const http = get(sb, 'virtualservices', 'reviews-routes').spec?.http as Array<{
          name: string
          route: Array<{ destination: { subset?: string }; weight?: number }>
        }>
        expect(http[0]).toEqual(beta)
        expect(http[1]?.route.map((d) => `${d.destination.subset}=${d.weight}`)).toEqual([
          'blue=0',
          'green=100'
        ])
        expect(
          (
            get(sb, 'destinationrules', 'reviews-subsets').spec as {
              subsets: Array<{ name: string }>
            }
          ).subsets.map((s) => s.name)
        ).toEqual(['blue', 'green'])
        expect(replicas(sb, 'reviews-blue')).toBe(0)

        // previous-color scale-down leaves nothing to switch back to instantly.
        const rb = await runAction({ ...inputs, command: 'rollback' }, kubeEnv(sb))
        expectExit(rb, 'failure')
        expect(rb.log).toMatch(
          /::error::rollback refused: the previous color blue is not running \(.*\), so there is nothing to switch back to instantly; deploy its image \(example.com\/reviews:1.0.0\) again instead/
        )
      })
  )
})
