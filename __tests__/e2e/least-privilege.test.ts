/**
 * Least privilege: with exactly the README's Role granted (the sandbox answers requests and
 * SelfSubjectAccessReviews as RBAC would), every command works; every permission in the Role is
 * used; and a read-only credential can still run `plan`.
 */
import { jest } from '@jest/globals'
import {
  GATEWAY_REQUIRED_PERMISSIONS,
  type Permission,
  REQUIRED_PERMISSIONS,
  rbacManifests
} from '../../src/permissions.js'
import type { RoleRule } from '../../sandbox/types.js'
import {
  control,
  expectExit,
  fastInputs,
  gatewayApiSandbox,
  kubeEnv,
  runAction,
  sandbox,
  withSandbox
} from './harness.js'

jest.setTimeout(240_000)

const IMAGE = 'example.com/reviews:2.0.0'

/** The rules of the README's Role. */
const readmeRole = (): RoleRule[] => rbacManifests('demo')[0].rules

type AuditEntry = { verb: string; group: string; resource: string; namespace?: string }

/** Audit entries the Role of `permissions` would not have allowed. */
function outside(audit: readonly AuditEntry[], permissions: readonly Permission[]): AuditEntry[] {
  return audit.filter(
    (e) =>
      e.resource !== 'selfsubjectaccessreviews' &&
      !permissions.some(
        (p) => p.group === e.group && p.resource === e.resource && p.verbs.includes(e.verb)
      )
  )
}

/** The Role's verbs no request used, as `verb group/resource`. */
function unusedOf(audit: readonly AuditEntry[], permissions: readonly Permission[]): string[] {
  const used = new Set(audit.map((e) => `${e.verb} ${e.group}/${e.resource}`))
  return permissions
    .flatMap((p) => p.verbs.map((v) => `${v} ${p.group}/${p.resource}`))
    .filter((k) => !used.has(k))
}

describe('least privilege', () => {
  it.concurrent(
    'deploys, promotes, rolls back and reports with only the README Role, using all of it',
    () =>
      withSandbox(sandbox, async (sb) => {
        sb.api.setRole(readmeRole())
        const command = (name: string) =>
          runAction({ service: 'reviews', namespace: 'demo', command: name }, kubeEnv(sb))

        const plan = await runAction(fastInputs(sb, { command: 'plan', image: IMAGE }), kubeEnv(sb))
        expectExit(plan, 'success')
        expect(plan.log).not.toContain('::warning::')

        const promoted = await runAction(fastInputs(sb, { image: IMAGE }), kubeEnv(sb))
        expectExit(promoted, 'success')
        expect(promoted.outputs.result).toBe('promoted')

        // Straight back to the previous color, which still runs (previous-color: keep).
        const back = await command('rollback')
        expectExit(back, 'success')
        expect(back.outputs).toMatchObject({ result: 'rolled-back', 'stable-color': 'blue' })

        await control(sb, '/images', { image: 'example.com/reviews:3.0.0-bad', errorRate: 0.3 })
        const failed = await runAction(
          fastInputs(sb, { image: 'example.com/reviews:3.0.0-bad', 'fail-on-rollback': 'false' }),
          kubeEnv(sb)
        )
        expectExit(failed, 'success')
        expect(failed.outputs.result).toBe('rolled-back')

        const status = await command('status')
        expectExit(status, 'success')

        const audit = sb.api.audit()
        // Nothing was asked for outside the Role (the sandbox would have answered 403).
        expect(outside(audit, REQUIRED_PERMISSIONS)).toEqual([])
        expect(audit.filter((e) => e.namespace !== undefined && e.namespace !== 'demo')).toEqual([])
        // And nothing in the Role went unused, but for listing Deployments, which only adopting a
        // service that has no colors yet needs (__tests__/inprocess/inputs.test.ts, whose audit shows it).
        expect(unusedOf(audit, REQUIRED_PERMISSIONS)).toEqual(['list apps/deployments'])
      })
  )

  it.concurrent(
    'plans with a read-only credential, naming the write verbs the release will need',
    () =>
      withSandbox(sandbox, async (sb) => {
        sb.api.setRole(
          readmeRole().map((r) => ({
            ...r,
            verbs: r.verbs.filter((v) => v === 'get' || v === 'list')
          }))
        )
        const plan = await runAction(fastInputs(sb, { command: 'plan', image: IMAGE }), kubeEnv(sb))
        expectExit(plan, 'success')
        expect(plan.log).toContain(
          '::warning::this credential cannot watch deployments.apps, create deployments.apps, update deployments.apps, patch deployments.apps, patch virtualservices.networking.istio.io, patch destinationrules.networking.istio.io, create leases.coordination.k8s.io, update leases.coordination.k8s.io in namespace demo: fine for plan'
        )

        const deploy = await runAction(fastInputs(sb, { image: IMAGE }), kubeEnv(sb))
        expectExit(deploy, 'failure')
        expect(deploy.log).toContain(
          '::error::missing permission in namespace demo: watch deployments.apps, create deployments.apps, update deployments.apps, patch deployments.apps'
        )
      })
  )

  // In the same describe: Jest runs the concurrent cases of one block at once.
  it.concurrent(
    "router gateway-api: deploys, keeps the color Services in step and rolls back with only the README's gateway-api Role, using all of it",
    () =>
      withSandbox(
        () => gatewayApiSandbox(),
        async (sb) => {
          sb.api.setRole(rbacManifests('demo', 'gateway-api')[0].rules)
          const inputs = (extra: Record<string, string>) =>
            fastInputs(sb, { router: 'gateway-api', ...extra })

          const plan = await runAction(inputs({ command: 'plan', image: IMAGE }), kubeEnv(sb))
          expectExit(plan, 'success')
          expect(plan.log).not.toContain('::warning::')

          const promoted = await runAction(inputs({ image: IMAGE }), kubeEnv(sb))
          expectExit(promoted, 'success')
          expect(promoted.outputs.result).toBe('promoted')

          // Someone changes the action's own color Service: the next release brings it back in step.
          const own = sb.api.store.get('services', 'demo', 'reviews-blue')
          if (!own) throw new Error('reviews-blue was not created')
          sb.api.store.replace('services', {
            ...own,
            spec: { ...own.spec, selector: { app: 'reviews' } }
          })
          await control(sb, '/images', { image: 'example.com/reviews:3.0.0-bad', errorRate: 0.3 })
          const failed = await runAction(
            inputs({ image: 'example.com/reviews:3.0.0-bad', 'fail-on-rollback': 'false' }),
            kubeEnv(sb)
          )
          expectExit(failed, 'success')
          expect(failed.outputs.result).toBe('rolled-back')
          expect(failed.log).toContain('updated Service reviews-blue')
          expect(sb.api.store.get('services', 'demo', 'reviews-blue')?.spec?.selector).toEqual({
            app: 'reviews',
            version: 'blue'
          })

          const status = await runAction(
            { service: 'reviews', namespace: 'demo', command: 'status' },
            kubeEnv(sb)
          )
          expectExit(status, 'success')

          const audit = sb.api.audit()
          expect(outside(audit, GATEWAY_REQUIRED_PERMISSIONS)).toEqual([])
          expect(audit.filter((e) => e.namespace !== undefined && e.namespace !== 'demo')).toEqual(
            []
          )
          expect(unusedOf(audit, GATEWAY_REQUIRED_PERMISSIONS)).toEqual(['list apps/deployments'])
        }
      )
  )
})
