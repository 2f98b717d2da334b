import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import { startSandbox, type Sandbox } from '../../sandbox/index.js'
import type { KubeObject } from '../../sandbox/types.js'
import type { PromSample } from '../../sandbox/prometheus.js'

const GREEN_IMAGE = 'example.com/reviews:2.0.0'
const RPS = 20

let dir: string
let sb: Sandbox

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sandbox-'))
  sb = await startSandbox({ dir, rps: RPS })
}, 30_000)

afterAll(async () => {
  await sb?.stop()
  await rm(dir, { recursive: true, force: true })
})

async function query(promql: string): Promise<number | undefined> {
  const res: PromSample[] = (await sb.prometheus?.query(promql)) ?? []
  const v = res[0] ? Number(res[0].value[1]) : NaN
  return Number.isFinite(v) ? v : undefined
}

/** Polls a query until `ok` holds for its value; returns the last value seen. */
async function pollQuery(
  promql: string,
  ok: (v: number) => boolean,
  timeoutMs: number
): Promise<number | undefined> {
  const until = Date.now() + timeoutMs
  let last: number | undefined
  for (;;) {
    last = await query(promql)
    if (last !== undefined && ok(last)) return last
    if (Date.now() > until) return last
    await new Promise((r) => setTimeout(r, 250))
  }
}

describe('startSandbox', () => {
  it('writes a kubeconfig and an env file pointing at the running parts', async () => {
    const kc = new KubeConfig()
    kc.loadFromFile(sb.kubeconfigPath)
    expect(kc.getCurrentContext()).toBe('sandbox')
    expect(kc.getCurrentCluster()?.server).toBe(sb.api.httpsUrl)
    expect(kc.getCurrentUser()?.token).toBe(sb.api.token)
    expect(kc.getContextObject('sandbox')?.namespace).toBe('demo')
    // Usable as is: TLS against the sandbox CA, bearer token, seeded objects.
    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'demo' })
    expect(pods.items.filter((p) => p.metadata?.labels?.['version'] === 'blue')).toHaveLength(3)
    const env = await readFile(path.join(dir, 'env'), 'utf8')
    expect(env).toBe(
      `KUBECONFIG=${path.join(dir, 'kubeconfig')}\nPROMETHEUS_URL=${sb.prometheusUrl}\nSANDBOX_CONTROL_URL=${sb.controlUrl}\n`
    )
    expect(sb.env).toEqual({
      KUBECONFIG: path.join(dir, 'kubeconfig'),
      PROMETHEUS_URL: sb.prometheusUrl,
      SANDBOX_CONTROL_URL: sb.controlUrl
    })
  })

  it('serves the seeded blue color and Prometheus measures the configured rate', async () => {
    const q = `sum(rate(istio_requests_total{reporter="destination",destination_workload="reviews-blue",destination_workload_namespace="demo"}[5s]))`
    const rate = await pollQuery(q, (v) => Math.abs(v - RPS) <= RPS * 0.15, 15_000)
    expect(rate).toBeGreaterThanOrEqual(RPS * 0.85)
    expect(rate).toBeLessThanOrEqual(RPS * 1.15)
  }, 20_000)

  it('shows a failing green color in the error ratio after the weights move', async () => {
    const control = await fetch(`${sb.controlUrl}/images`, {
      method: 'POST',
      body: JSON.stringify({ image: GREEN_IMAGE, errorRate: 0.2, startupMs: 100 })
    })
    expect(control.status).toBe(200)

    const store = sb.api.store
    const blue = store.get('deployments', 'demo', 'reviews-blue') as KubeObject
    const green: KubeObject = structuredClone(blue)
    green.metadata = {
      name: 'reviews-green',
      namespace: 'demo',
      labels: { app: 'reviews', version: 'green' }
    }
    green.spec = {
      replicas: 3,
      selector: { matchLabels: { app: 'reviews', version: 'green' } },
      template: {
        metadata: { labels: { app: 'reviews', version: 'green' } },
        spec: { containers: [{ name: 'reviews', image: GREEN_IMAGE }] }
      }
    }
    delete green.status
    store.create('deployments', green)
    const dr = store.get('destinationrules', 'demo', 'reviews') as KubeObject
    dr.spec = {
      host: 'reviews',
      subsets: [
        { name: 'blue', labels: { version: 'blue' } },
        { name: 'green', labels: { version: 'green' } }
      ]
    }
    store.replace('destinationrules', dr)
    await waitFor(() => {
      const state = sb.mesh.state()
      return state.flows[0] !== undefined && readyGreenPods(store.list('pods', 'demo')) === 3
    }, 10_000)
    const vs = store.get('virtualservices', 'demo', 'reviews') as KubeObject
    vs.spec = {
      hosts: ['reviews'],
      http: [
        {
          name: 'primary',
          route: [
            { destination: { host: 'reviews', subset: 'blue' }, weight: 50 },
            { destination: { host: 'reviews', subset: 'green' }, weight: 50 }
          ]
        }
      ]
    }
    store.replace('virtualservices', vs)

    const sel = `reporter="destination",destination_workload="reviews-green",destination_workload_namespace="demo"`
    const ratio = await pollQuery(
      `sum(rate(istio_requests_total{${sel},response_code=~"5.."}[5s])) / sum(rate(istio_requests_total{${sel}}[5s]))`,
      (v) => Math.abs(v - 0.2) <= 0.05,
      10_000
    )
    expect(ratio).toBeGreaterThanOrEqual(0.15)
    expect(ratio).toBeLessThanOrEqual(0.25)
    // A new series needs a full window of samples before rate() shows its whole rate.
    const greenRate = await pollQuery(
      `sum(rate(istio_requests_total{${sel}}[5s]))`,
      (v) => Math.abs(v - RPS / 2) <= RPS * 0.075,
      10_000
    )
    expect(greenRate).toBeGreaterThanOrEqual(RPS * 0.425)
    expect(greenRate).toBeLessThanOrEqual(RPS * 0.575)
    // No request failed for want of a route or an endpoint during the change.
    expect(sb.mesh.state().flows[0]?.failures).toEqual({ NR: 0, UH: 0, NC: 0 })
  }, 25_000)
})

function readyGreenPods(pods: KubeObject[]): number {
  return pods.filter(
    (p) =>
      p.metadata.labels?.['version'] === 'green' &&
      (
        (p.status?.['conditions'] as Array<{ type: string; status: string }> | undefined) ?? []
      ).some((c) => c.type === 'Ready' && c.status === 'True')
  ).length
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}
