/**
 * What the action tells GitHub, against a loopback stand-in for the GitHub API: commit statuses
 * and deployment statuses, in order, with their states and descriptions; a 403 is a warning.
 */
import { jest } from '@jest/globals'
import type { Sandbox } from '../../sandbox/index.js'
import { startFakeGitHub, type FakeGitHub } from '../fakes/github.js'
import { control, expectExit, fastInputs, kubeEnv, runAction, sandbox } from './harness.js'

jest.setTimeout(240_000)

const SHA = 'c0ffee0000000000000000000000000000000001'

interface Bed {
  sb: Sandbox
  gh: FakeGitHub
  env: () => Record<string, string>
  sent: () => string[]
}

/** A sandbox and a GitHub stand-in for one case, so the cases run at once. */
async function withBed(body: (bed: Bed) => Promise<void>): Promise<void> {
  const sb = await sandbox()
  const gh = await startFakeGitHub()
  const env = () => ({
    ...kubeEnv(sb),
    GITHUB_API_URL: gh.url,
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_SHA: SHA,
    GITHUB_RUN_ID: '42',
    GITHUB_SERVER_URL: 'https://github.com'
  })

  /** Requests as one line each; deployment ids become #1, #2 in order of first use. */
  const sent = (): string[] => {
    const ids = new Map<string, string>()
    return gh.requests.map((r) => {
      const body = r.body as { state?: string; description?: string; environment?: string }
      const path = r.path
        .replace(/^\/repos\/acme\/shop/, '')
        .replace(/\/deployments\/(\d+)/, (_m, id: string) => {
          if (!ids.has(id)) ids.set(id, `#${ids.size + 1}`)
          return `/deployments/${ids.get(id)}`
        })
      return `${r.kind} ${path} ${body.state ?? body.environment ?? ''} ${body.description ?? ''}`.trim()
    })
  }
  try {
    await body({ sb, gh, env, sent })
  } finally {
    await gh.close()
    await sb.stop()
  }
}

describe('GitHub reporting', () => {
  it.concurrent(
    'a promotion: pending then success on the commit; deployment created, in_progress, success; then the replaced one inactive',
    () =>
      withBed(async ({ sb, gh, env, sent }) => {
        const first = await runAction(
          fastInputs(sb, {
            image: 'example.com/reviews:2.0.0',
            steps: '50,100',
            'github-token': 'ghs_fake',
            environment: 'production'
          }),
          env()
        )
        expectExit(first, 'success')
        expect(sent()).toEqual([
          `statuses /statuses/${SHA} pending deploying green (example.com/reviews:2.0.0)`,
          'deployments /deployments production deploying green (example.com/reviews:2.0.0)',
          'deployment_statuses /deployments/#1/statuses in_progress deploying green (example.com/reviews:2.0.0)',
          `statuses /statuses/${SHA} success green promoted to 100%`,
          'deployment_statuses /deployments/#1/statuses success green promoted to 100%'
        ])
        const status = gh.requests[0]?.body as { context: string; target_url: string }
        expect(status).toMatchObject({
          context: 'istio-bluegreen/demo/reviews',
          target_url: 'https://github.com/acme/shop/actions/runs/42'
        })
        expect(gh.requests.every((r) => r.authorized)).toBe(true)

        const second = await runAction(
          fastInputs(sb, {
            image: 'example.com/reviews:3.0.0',
            steps: '100',
            'github-token': 'ghs_fake',
            environment: 'production'
          }),
          env()
        )
        expectExit(second, 'success')
        expect(sent().slice(-2)).toEqual([
          'deployment_statuses /deployments/#2/statuses success blue promoted to 100%',
          'deployment_statuses /deployments/#1/statuses inactive replaced by example.com/reviews:3.0.0'
        ])
      })
  )

  it.concurrent(
    'a roll back: failure on the commit with the reason, failure on the deployment',
    () =>
      withBed(async ({ sb, env, sent }) => {
        await control(sb, '/images', { image: 'example.com/reviews:bad', errorRate: 0.3 })
        const run = await runAction(
          fastInputs(sb, {
            image: 'example.com/reviews:bad',
            'github-token': 'ghs_fake',
            environment: 'staging',
            'step-duration': '20s'
          }),
          env()
        )
        expectExit(run, 'failure')
        const lines = sent()
        expect(lines[0]).toBe(
          `statuses /statuses/${SHA} pending deploying green (example.com/reviews:bad)`
        )
        expect(lines.at(-2)).toMatch(
          new RegExp(
            `^statuses /statuses/${SHA} failure rolled back to blue: errors: candidate \\d+/\\d+ = [\\d.]+% 5xx, above the limit 1\\.00% at 99% confidence$`
          )
        )
        expect(lines.at(-1)).toMatch(
          /^deployment_statuses \/deployments\/#1\/statuses failure rolled back to blue: /
        )
      })
  )

  it.concurrent('a 403 from GitHub is a warning, and the rollout goes on', () =>
    withBed(async ({ sb, gh, env }) => {
      gh.deny('statuses')
      gh.deny('deployments')
      const run = await runAction(
        fastInputs(sb, {
          image: 'example.com/reviews:2.0.0',
          steps: '100',
          'github-token': 'ghs_fake',
          environment: 'production'
        }),
        env()
      )
      expectExit(run, 'success')
      expect(run.outputs.result).toBe('promoted')
      expect(run.log).toMatch(
        /::warning::could not set the commit status istio-bluegreen\/demo\/reviews: 403/
      )
      const printed = run.log.split('\n').filter((l) => !l.startsWith('::add-mask::'))
      expect(printed.join('\n')).not.toContain('ghs_fake')
      // Refused once per kind, then skipped: one status call and one deployment call in all.
      expect(gh.requests.map((r) => r.kind)).toEqual(['statuses', 'deployments'])
    })
  )
})
