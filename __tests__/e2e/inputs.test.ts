/**
 * Inputs that shape where and what the action deploys, end to end on the sandbox: kubeconfig
 * content and context, manifests and container, adoption of an uncolored service with a custom
 * color label, custom object and route names, reporter, thresholds, previous-color and
 * fail-on-rollback.
 */
import { jest } from '@jest/globals'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import yaml from 'js-yaml'
import type { Sandbox } from '../../sandbox/index.js'
import type { KubeObject } from '../../sandbox/types.js'
import type { RolloutRecord } from '../../src/core/record.js'
import {
  control,
  expectExit,
  fastInputs,
  kubeEnv,
  runAction,
  sandbox,
  waitForSeries
} from './harness.js'

jest.setTimeout(180_000)

interface Dest {
  destination: { host: string; subset?: string; port?: { number: number } }
  weight?: number
}

function get(
  sb: Sandbox,
  resource: Parameters<Sandbox['api']['store']['get']>[0],
  name: string
): KubeObject {
  const o = sb.api.store.get(resource, 'demo', name)
  if (!o) throw new Error(`${resource}/${name} not found`)
  return o
}

function containers(d: KubeObject): Array<{ name: string; image: string; env?: unknown[] }> {
  return (d.spec as { template: { spec: { containers: Array<{ name: string; image: string }> } } })
    .template.spec.containers
}

function recordOf(sb: Sandbox): RolloutRecord {
  const raw = get(sb, 'leases', 'istio-bluegreen-reviews').metadata.annotations?.[
    'istio-bluegreen.io/record'
  ]
  return JSON.parse(raw ?? '{}') as RolloutRecord
}

async function meshFailures(sb: Sandbox): Promise<number> {
  const state = (await (await fetch(`${sb.controlUrl}/state`)).json()) as {
    flows: Array<{ failures: Record<string, number> }>
  }
  return state.flows.reduce((n, f) => n + Object.values(f.failures).reduce((a, b) => a + b, 0), 0)
}

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

describe('deploy inputs', () => {
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

  it('manifests as the template, image set on the named container', async () => {
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
    const run = await runAction(
      fastInputs(sb, {
        manifests: path.join(dir, '*.yaml'),
        container: 'reviews',
        image: 'example.com/reviews:3.0.0',
        steps: '50,100'
      }),
      kubeEnv(sb)
    )
    expectExit(run, 'success')
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
  })

  it('adopts a hand-made service (one Deployment, a gateway route without subset) with color-label track, dropping no request', async () => {
    await uncolored(sb)
    const failuresBefore = await meshFailures(sb)

    const run = await runAction(
      fastInputs(sb, {
        image: 'example.com/reviews:2.0.0',
        'color-label': 'track',
        steps: '50,100'
      }),
      kubeEnv(sb)
    )
    expectExit(run, 'success')
    expect(run.outputs).toMatchObject({
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
            { destination: { host: 'reviews', port: { number: 9080 }, subset: 'blue' }, weight: 0 },
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
    expect(await meshFailures(sb)).toBe(failuresBefore)
    // The release has ended: the original is scaled to 0, kept, and the user is told.
    const original = get(sb, 'deployments', 'reviews')
    expect((original.spec as { replicas: number }).replicas).toBe(0)
    expect(run.log).toContain(
      'scaled Deployment reviews to 0 (from 2): it was adopted as reviews-blue, which now serves the service; it is kept, not deleted'
    )
    expect(run.summary).toContain(
      '**Adopted:** Deployment `reviews` was copied into `reviews-blue`'
    )
    expect(recordOf(sb).adopted).toEqual({
      deployment: 'reviews',
      scaledDownAt: expect.any(String)
    })
  })

  it('adoption paused half-way: the original keeps its replicas until a later promote ends the release', async () => {
    await uncolored(sb)
    const paused = await runAction(
      fastInputs(sb, { image: 'example.com/reviews:2.0.0', steps: '50,100', 'pause-at': '50' }),
      kubeEnv(sb)
    )
    expectExit(paused, 'success')
    expect(paused.outputs.result).toBe('paused')
    expect((get(sb, 'deployments', 'reviews').spec as { replicas: number }).replicas).toBe(2)
    expect(paused.log).toContain(
      'Deployment reviews keeps its replicas for now: the release through it is paused'
    )
    expect(recordOf(sb).adopted).toEqual({ deployment: 'reviews' })

    const promoted = await runAction({ ...fastInputs(sb), command: 'promote' }, kubeEnv(sb))
    expectExit(promoted, 'success')
    expect(promoted.outputs.result).toBe('promoted')
    expect((get(sb, 'deployments', 'reviews').spec as { replicas: number }).replicas).toBe(0)
    expect(promoted.log).toContain('scaled Deployment reviews to 0 (from 2)')
    expect(recordOf(sb).adopted?.scaledDownAt).toEqual(expect.any(String))

    // Idempotent: a later command that ends nothing new touches the original no more.
    sb.api.store.replace('deployments', {
      ...get(sb, 'deployments', 'reviews'),
      spec: { ...get(sb, 'deployments', 'reviews').spec, replicas: 1 }
    })
    const back = await runAction({ ...fastInputs(sb), command: 'rollback' }, kubeEnv(sb))
    expectExit(back, 'success')
    expect((get(sb, 'deployments', 'reviews').spec as { replicas: number }).replicas).toBe(1)
  })

  it('custom virtual-service, destination-rule and routes: only the named route shifts', async () => {
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
    const run = await runAction(
      fastInputs(sb, {
        image: 'example.com/reviews:2.0.0',
        'virtual-service': 'reviews-routes',
        'destination-rule': 'reviews-subsets',
        routes: 'primary',
        steps: '50,100'
      }),
      kubeEnv(sb)
    )
    expectExit(run, 'success')
    const http = get(sb, 'virtualservices', 'reviews-routes').spec?.http as Array<{
      name: string
      route: Dest[]
    }>
    expect(http[0]).toEqual(beta)
    expect(http[1]?.route.map((d) => `${d.destination.subset}=${d.weight}`)).toEqual([
      'blue=0',
      'green=100'
    ])
    expect(
      (
        get(sb, 'destinationrules', 'reviews-subsets').spec as { subsets: Array<{ name: string }> }
      ).subsets.map((s) => s.name)
    ).toEqual(['blue', 'green'])
  })

  it('reporter source, a looser max-error-rate and previous-color scale-down', async () => {
    await control(sb, '/images', { image: 'example.com/reviews:2.0.0-flaky', errorRate: 0.05 })
    const run = await runAction(
      fastInputs(sb, {
        image: 'example.com/reviews:2.0.0-flaky',
        reporter: 'source',
        'max-error-rate': '10%',
        'previous-color': 'scale-down',
        steps: '50,100'
      }),
      kubeEnv(sb)
    )
    expectExit(run, 'success')
    expect(run.outputs.result).toBe('promoted')
    expect(Number(run.outputs['error-rate'])).toBeGreaterThan(0.02)
    expect((get(sb, 'deployments', 'reviews-blue').spec as { replicas: number }).replicas).toBe(0)
    expect(run.log).toContain('reporter="source"')
  })

  it('fail-on-rollback false succeeds with result=rolled-back; a higher confidence needs more evidence', async () => {
    await control(sb, '/images', { image: 'example.com/reviews:2.0.0-bad', errorRate: 0.3 })
    const run = await runAction(
      fastInputs(sb, {
        image: 'example.com/reviews:2.0.0-bad',
        'fail-on-rollback': 'false',
        confidence: '99.99%',
        'step-duration': '20s'
      }),
      kubeEnv(sb)
    )
    expectExit(run, 'success')
    expect(run.outputs.result).toBe('rolled-back')
    expect(run.outputs.reason).toMatch(
      /^errors: candidate \d+\/\d+ = [\d.]+% 5xx, above the limit 1\.00% at 99\.99% confidence$/
    )
    expect(run.log).toContain('::warning::rolled back: errors: candidate')
    expect(run.log).toContain('judge: rolls back at 99.99% confidence')
    expect(run.log).not.toContain('::error::')
  })
})
