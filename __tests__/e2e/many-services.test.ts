/**
 * Ten services in one namespace, released at once by ten runs of the built action: half with a
 * healthy image, half with one that answers 20% 5xx. Each ends as its image deserves, with its
 * own lock, record and weights (no cross-talk), and the API requests a rollout makes are counted
 * from the sandbox's audit (the figures in the README, "Many services at once").
 */
import { jest } from '@jest/globals'
import type { Sandbox } from '../../sandbox/index.js'
import { seedObjects } from '../../sandbox/seed.js'
import type { KubeObject } from '../../sandbox/types.js'
import type { RolloutRecord } from '../../src/core/record.js'
import {
  control,
  expectExit,
  fastInputs,
  kubeEnv,
  RECORD_ANNOTATION,
  runAction,
  sandbox,
  waitFor,
  waitForSeries
} from './harness.js'

jest.setTimeout(180_000)

const SERVICES = Array.from({ length: 10 }, (_, i) => `shop${i}`)
const faulty = (i: number): boolean => i % 2 === 1
const imageOf = (svc: string, i: number): string =>
  `example.com/${svc}:2.0.0${faulty(i) ? '-bad' : ''}`

/** The seed of `reviews` (Service, `-blue` Deployment, DestinationRule, VirtualService) for `svc`. */
function seedService(sb: Sandbox, svc: string): void {
  for (const { resource, object } of seedObjects()) {
    if (resource === 'namespaces') continue
    const copy = JSON.parse(JSON.stringify(object).replaceAll('reviews', svc)) as KubeObject
    if (resource === 'deployments') (copy.spec as { replicas: number }).replicas = 1
    sb.api.store.create(resource, copy)
  }
}

function recordOf(sb: Sandbox, svc: string): RolloutRecord | undefined {
  const raw = sb.api.store.get('leases', 'demo', `istio-bluegreen-${svc}`)?.metadata.annotations?.[
    RECORD_ANNOTATION
  ]
  return raw ? (JSON.parse(raw) as RolloutRecord) : undefined
}

/** Every destination of every route of `svc`'s VirtualService, with its weight. */
function destinations(
  sb: Sandbox,
  svc: string
): Array<{ host?: string; subset?: string; weight?: number }> {
  const vs = sb.api.store.get('virtualservices', 'demo', svc)
  const http = (vs?.spec?.http ?? []) as Array<{
    route?: Array<{ destination: { host?: string; subset?: string }; weight?: number }>
  }>
  return http.flatMap((r) => (r.route ?? []).map((d) => ({ ...d.destination, weight: d.weight })))
}

describe('many services at once', () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await sandbox({ rps: 20 })
    for (const svc of SERVICES) seedService(sb, svc)
    await waitFor(
      'every seeded Deployment to be ready',
      () =>
        SERVICES.every((svc) => {
          const d = sb.api.store.get('deployments', 'demo', `${svc}-blue`)
          return ((d?.status as { readyReplicas?: number } | undefined)?.readyReplicas ?? 0) >= 1
        }),
      30_000
    )
    await Promise.all(
      SERVICES.map((svc) =>
        waitForSeries(
          sb,
          `sum(increase(istio_requests_total{destination_workload="${svc}-blue"}[5s]))`
        )
      )
    )
    for (const [i, svc] of SERVICES.entries()) {
      if (faulty(i)) await control(sb, '/images', { image: imageOf(svc, i), errorRate: 0.2 })
    }
  })
  afterAll(async () => {
    await sb.stop()
  })

  it('10 parallel releases end as their images deserve, each with its own lock, record and weights', async () => {
    const from = sb.api.audit().length
    const runs = await Promise.all(
      SERVICES.map((svc, i) =>
        runAction(
          fastInputs(sb, { service: svc, image: imageOf(svc, i), 'fail-on-rollback': 'false' }),
          kubeEnv(sb)
        )
      )
    )
    const audit = sb.api.audit().slice(from)

    for (const [i, svc] of SERVICES.entries()) {
      const run = runs[i] as (typeof runs)[number]
      expectExit(run, 'success')
      const expected = faulty(i) ? 'rolled-back' : 'promoted'
      expect({ svc, result: run.outputs.result }).toEqual({ svc, result: expected })
      // Its record is its own: its service, its image, its outcome, its lock released.
      const record = recordOf(sb, svc)
      expect(record).toMatchObject({
        service: svc,
        phase: expected,
        candidate: { color: 'green', image: imageOf(svc, i) }
      })
      const lease = sb.api.store.get('leases', 'demo', `istio-bluegreen-${svc}`)
      expect((lease?.spec as { holderIdentity?: string | null }).holderIdentity ?? null).toBeNull()
      // Its VirtualService routes only to itself, with the weights of its own outcome.
      expect(destinations(sb, svc)).toEqual([
        { host: svc, subset: 'blue', weight: faulty(i) ? 100 : 0 },
        { host: svc, subset: 'green', weight: faulty(i) ? 0 : 100 }
      ])
      expect(run.outputs.weights).toBe(faulty(i) ? 'blue=100,green=0' : 'blue=0,green=100')
      // Its Deployments got its image only.
      const green = sb.api.store.get('deployments', 'demo', `${svc}-green`)
      const containers = (
        green?.spec as { template: { spec: { containers: Array<{ image: string }> } } }
      ).template.spec.containers
      expect(containers.map((c) => c.image)).toEqual([imageOf(svc, i)])
    }
    // The seeded service nobody released is untouched.
    expect(recordOf(sb, 'reviews')).toBeUndefined()
    expect(destinations(sb, 'reviews')).toEqual([{ host: 'reviews', subset: 'blue', weight: 100 }])

    // Requests per rollout, by kind and verb (mean over the ten; named requests also per outcome).
    const kinds = new Map<string, number>()
    for (const e of audit) {
      const key = `${e.resource} ${e.verb}`
      kinds.set(key, (kinds.get(key) ?? 0) + 1)
    }
    const owner = (name: string | undefined): number =>
      SERVICES.findIndex(
        (svc) =>
          name === svc ||
          name === `${svc}-blue` ||
          name === `${svc}-green` ||
          name === `istio-bluegreen-${svc}`
      )
    const byOutcome = {
      promoted: new Map<string, number>(),
      'rolled-back': new Map<string, number>()
    }
    for (const e of audit) {
      const i = owner(e.name)
      if (i < 0) continue
      const m = byOutcome[faulty(i) ? 'rolled-back' : 'promoted']
      const key = `${e.resource} ${e.verb}`
      m.set(key, (m.get(key) ?? 0) + 1)
    }
    const rows = [...kinds.keys()].sort().map((key) => {
      const per = (m: Map<string, number>): string => ((m.get(key) ?? 0) / 5).toFixed(1)
      return `| ${key} | ${((kinds.get(key) ?? 0) / 10).toFixed(1)} | ${per(byOutcome.promoted)} | ${per(byOutcome['rolled-back'])} |`
    })
    process.stdout.write(
      `API requests per rollout (${audit.length} in all for ${SERVICES.length}):\n${rows.join('\n')}\n`
    )
    // Nothing went to another namespace, and no rollout read or wrote another service's objects
    // beyond its own (every named request belongs to one of the ten).
    expect(audit.filter((e) => e.namespace !== undefined && e.namespace !== 'demo')).toEqual([])
    expect(audit.filter((e) => e.name !== undefined && owner(e.name) < 0)).toEqual([])
    // A guard against a request storm: a fast rollout (4 steps of 5 s, a check a second) stays
    // well under 250 requests.
    expect(audit.length / SERVICES.length).toBeLessThan(250)
  })
})
