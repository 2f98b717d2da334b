/**
 * Least privilege: with exactly the README's Role granted (the sandbox answers requests and
 * SelfSubjectAccessReviews as RBAC would), every command works; every permission in the Role is
 * used; and a read-only credential can still run `plan`.
 */
import { jest } from '@jest/globals'
import { REQUIRED_PERMISSIONS, rbacManifests } from '../../src/permissions.js'
import type { Sandbox } from '../../sandbox/index.js'
import type { RoleRule } from '../../sandbox/types.js'
import { control, expectExit, fastInputs, kubeEnv, runAction, sandbox } from './harness.js'

jest.setTimeout(240_000)

const IMAGE = 'example.com/reviews:2.0.0'

/** The rules of the README's Role. */
const readmeRole = (): RoleRule[] => rbacManifests('demo')[0].rules

describe('least privilege', () => {
  let sb: Sandbox
  beforeEach(async () => {
    sb = await sandbox()
  })
  afterEach(async () => {
    await sb.stop()
  })

  it('deploys, promotes, rolls back and reports with only the README Role, using all of it', async () => {
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
    const granted = (e: { verb: string; group: string; resource: string }): boolean =>
      e.resource === 'selfsubjectaccessreviews' ||
      REQUIRED_PERMISSIONS.some(
        (p) => p.group === e.group && p.resource === e.resource && p.verbs.includes(e.verb)
      )
    expect(audit.filter((e) => !granted(e))).toEqual([])
    expect(audit.filter((e) => e.namespace !== undefined && e.namespace !== 'demo')).toEqual([])
    // And nothing in the Role went unused, but for listing Deployments, which only adopting a
    // service that has no colors yet needs (tested in inputs.test.ts).
    const used = new Set(audit.map((e) => `${e.verb} ${e.group}/${e.resource}`))
    const unused = REQUIRED_PERMISSIONS.flatMap((p) =>
      p.verbs.map((v) => `${v} ${p.group}/${p.resource}`)
    ).filter((k) => !used.has(k))
    expect(unused).toEqual(['list apps/deployments'])
  })

  it('plans with a read-only credential, naming the write verbs the release will need', async () => {
    sb.api.setRole(
      readmeRole().map((r) => ({ ...r, verbs: r.verbs.filter((v) => v === 'get' || v === 'list') }))
    )
    const plan = await runAction(fastInputs(sb, { command: 'plan', image: IMAGE }), kubeEnv(sb))
    expectExit(plan, 'success')
    expect(plan.log).toContain(
      '::warning::this credential cannot create deployments.apps, update deployments.apps, patch deployments.apps, patch virtualservices.networking.istio.io, patch destinationrules.networking.istio.io, create leases.coordination.k8s.io, update leases.coordination.k8s.io in namespace demo: fine for plan'
    )

    const deploy = await runAction(fastInputs(sb, { image: IMAGE }), kubeEnv(sb))
    expectExit(deploy, 'failure')
    expect(deploy.log).toContain(
      '::error::missing permission in namespace demo: create deployments.apps, update deployments.apps, patch deployments.apps'
    )
  })
})
