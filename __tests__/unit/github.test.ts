import { createServer, type AddressInfo, type Socket } from 'node:net'
import {
  GitHubReporter,
  adviceFor,
  commitState,
  deploymentState,
  describeOutcome,
  failureOf,
  githubTargetFrom,
  isProductionEnvironment,
  oneLine,
  statusContext,
  type GitHubTarget,
  type Outcome
} from '../../src/adapters/github.js'
import type { Log } from '../../src/log.js'
import { startFakeGitHub, type FakeGitHub } from '../fakes/github.js'

const TOKEN = 'ghs_s3cretTokenValue0123456789'

/** A Log that keeps what it was told. */
function recordingLog(): Log & { warnings: string[]; infos: string[] } {
  const warnings: string[] = []
  const infos: string[] = []
  return {
    warnings,
    infos,
    info: (m) => void infos.push(m),
    warning: (m) => void warnings.push(m),
    group: (_name, fn) => fn()
  }
}

describe('githubTargetFrom', () => {
  const env = {
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_SHA: 'abc123',
    GITHUB_SERVER_URL: 'https://github.example.com/',
    GITHUB_RUN_ID: '42',
    GITHUB_API_URL: 'https://github.example.com/api/v3/'
  }

  it('reads the repository, commit, run link and API URL from the runner', () => {
    expect(githubTargetFrom(env, { token: TOKEN, environment: ' production ' })).toEqual({
      token: TOKEN,
      apiUrl: 'https://github.example.com/api/v3',
      owner: 'acme',
      repo: 'shop',
      sha: 'abc123',
      runUrl: 'https://github.example.com/acme/shop/actions/runs/42',
      environment: 'production'
    })
  })

  it('prefers the sha input and defaults the API URL to api.github.com', () => {
    expect(
      githubTargetFrom(
        { GITHUB_REPOSITORY: 'acme/shop', GITHUB_SHA: 'abc' },
        { token: 't', sha: 'def' }
      )
    ).toEqual({
      token: 't',
      apiUrl: 'https://api.github.com',
      owner: 'acme',
      repo: 'shop',
      sha: 'def'
    })
  })

  it.each([
    [{ ...env }, {}, 'no github-token given'],
    [{ ...env }, { token: '  ' }, 'no github-token given'],
    [
      { ...env, GITHUB_REPOSITORY: '' },
      { token: 't' },
      'GITHUB_REPOSITORY is not set (not running in GitHub Actions)'
    ],
    [
      { ...env, GITHUB_REPOSITORY: 'shop' },
      { token: 't' },
      'GITHUB_REPOSITORY is "shop", not owner/repo'
    ],
    [
      { ...env, GITHUB_SHA: undefined },
      { token: 't' },
      'no commit: neither the sha input nor GITHUB_SHA is set'
    ]
  ])('skips with a reason (%#)', (e, inputs, skip) => {
    expect(githubTargetFrom(e, inputs)).toEqual({ skip })
  })
})

describe('decisions', () => {
  it.each<[Outcome, string, string]>([
    ['in-progress', 'pending', 'in_progress'],
    ['paused', 'pending', 'in_progress'],
    ['promoted', 'success', 'success'],
    ['rolled-back', 'failure', 'failure'],
    ['failed', 'failure', 'failure']
  ])('%s is a %s commit status and a %s deployment', (outcome, commit, deployment) => {
    expect(commitState(outcome)).toBe(commit)
    expect(deploymentState(outcome)).toBe(deployment)
  })

  it('names the status after namespace and service', () => {
    expect(statusContext({ namespace: 'demo', service: 'reviews' })).toBe(
      'istio-bluegreen/demo/reviews'
    )
  })

  it.each([
    ['short', 'short'],
    ['two\nlines  and\ttabs ', 'two lines and tabs'],
    ['x'.repeat(140), 'x'.repeat(140)],
    ['x'.repeat(141), `${'x'.repeat(139)}…`],
    ['é'.repeat(200), `${'é'.repeat(139)}…`]
  ])('oneLine, case %#', (text, expected) => {
    const line = oneLine(text)
    expect(line).toBe(expected)
    expect([...line].length).toBeLessThanOrEqual(140)
  })

  const colors = { candidate: 'green' as const, stable: 'blue' as const }
  it.each<[Outcome, Parameters<typeof describeOutcome>[1], string]>([
    ['in-progress', colors, 'deploying green'],
    ['in-progress', { ...colors, weight: 25, step: 1, steps: 4 }, 'green at 25% (step 2 of 4)'],
    ['paused', { ...colors, weight: 25 }, 'paused at 25%: run promote to continue'],
    ['promoted', colors, 'green promoted to 100%'],
    [
      'rolled-back',
      { ...colors, reason: '2 consecutive failed checks' },
      'rolled back to blue: 2 consecutive failed checks'
    ],
    ['failed', { ...colors, reason: 'rollback failed' }, 'failed: rollback failed']
  ])('describeOutcome(%s)', (outcome, facts, expected) => {
    expect(describeOutcome(outcome, facts)).toBe(expected)
  })

  it('keeps a long reason within 140 characters', () => {
    const text = describeOutcome('rolled-back', { ...colors, reason: 'error rate '.repeat(30) })
    expect([...text].length).toBe(140)
    expect(text.endsWith('…')).toBe(true)
  })

  it.each([
    ['production', true],
    ['Production', true],
    ['prod', true],
    ['prod-eu', true],
    ['eu/prod', true],
    ['preprod', false],
    ['staging', false],
    ['product-demo', false]
  ])('isProductionEnvironment(%s) is %s', (name, expected) => {
    expect(isProductionEnvironment(name)).toBe(expected)
  })

  it.each([
    [
      'statuses',
      { status: 403, message: 'Resource not accessible by integration' },
      true,
      '403 Resource not accessible by integration; give the workflow "permissions: statuses: write"'
    ],
    [
      'deployments',
      { status: 403, message: 'Resource not accessible by integration' },
      true,
      '403 Resource not accessible by integration; give the workflow "permissions: deployments: write"'
    ],
    [
      'deployment_statuses',
      { status: 403, message: 'Resource not accessible by integration' },
      true,
      '403 Resource not accessible by integration; give the workflow "permissions: deployments: write"'
    ],
    [
      'statuses',
      { status: 401, message: 'Bad credentials' },
      true,
      '401 Bad credentials; check the github-token input'
    ],
    [
      'statuses',
      { status: 404, message: 'Not Found' },
      true,
      '404 Not Found; the token cannot see the repository: give the workflow "permissions: statuses: write"'
    ],
    [
      'deployment_statuses',
      { status: 404, message: 'Not Found' },
      false,
      '404 Not Found; carrying on without it'
    ],
    [
      'statuses',
      { status: 403, message: 'API rate limit exceeded for installation' },
      true,
      '403 API rate limit exceeded for installation; no more of these calls in this run'
    ],
    [
      'deployments',
      { status: 422, message: 'Validation Failed' },
      false,
      '422 Validation Failed; carrying on without it'
    ],
    [
      'statuses',
      { status: 502, message: 'Bad Gateway' },
      false,
      '502 Bad Gateway; carrying on without it'
    ],
    [
      'statuses',
      { message: 'connect ECONNREFUSED 127.0.0.1:9' },
      false,
      'no answer from GitHub (connect ECONNREFUSED 127.0.0.1:9); carrying on without it'
    ]
  ] as const)('%s %j: refused=%s', (kind, failure, refused, advice) => {
    expect(adviceFor(kind, failure)).toEqual({ refused, advice })
  })

  it('reads GitHub’s message from an error response and drops everything else', () => {
    const error = Object.assign(
      new Error('Resource not accessible by integration - https://docs'),
      {
        status: 403,
        response: { status: 403, data: { message: 'Resource not accessible by integration' } },
        request: { headers: { authorization: `token ${TOKEN}` } }
      }
    )
    expect(failureOf(error)).toEqual({
      status: 403,
      message: 'Resource not accessible by integration'
    })
    // octokit's network failures carry status 500 but no response.
    expect(failureOf(Object.assign(new Error('fetch failed'), { status: 500 }))).toEqual({
      message: 'fetch failed'
    })
    expect(failureOf('odd')).toEqual({ message: 'odd' })
  })
})

describe('GitHubReporter against a fake GitHub', () => {
  let fake: FakeGitHub
  let target: GitHubTarget

  beforeEach(async () => {
    fake = await startFakeGitHub()
    target = {
      token: TOKEN,
      apiUrl: fake.url,
      owner: 'acme',
      repo: 'shop',
      sha: 'abc123',
      runUrl: 'https://github.com/acme/shop/actions/runs/42',
      environment: 'production'
    }
  })
  afterEach(() => fake.close())

  const ref = { namespace: 'demo', service: 'reviews' }

  it('sets the commit status with context, state, one-line description and run link', async () => {
    const log = recordingLog()
    const gh = new GitHubReporter(target, log)
    await gh.status(ref, 'in-progress', 'green at 10%')
    await gh.status(ref, 'paused', 'paused at 25%: run promote to continue')
    await gh.status(ref, 'promoted', `green promoted ${'!'.repeat(200)}`)
    expect(log.warnings).toEqual([])
    expect(fake.requests.map((r) => [r.kind, r.method, r.path, r.status, r.authorized])).toEqual([
      ['statuses', 'POST', '/repos/acme/shop/statuses/abc123', 201, true],
      ['statuses', 'POST', '/repos/acme/shop/statuses/abc123', 201, true],
      ['statuses', 'POST', '/repos/acme/shop/statuses/abc123', 201, true]
    ])
    expect(fake.requests[0]?.body).toEqual({
      state: 'pending',
      context: 'istio-bluegreen/demo/reviews',
      description: 'green at 10%',
      target_url: 'https://github.com/acme/shop/actions/runs/42'
    })
    expect(fake.requests[1]?.body.state).toBe('pending')
    expect(fake.requests[2]?.body.state).toBe('success')
    expect([...String(fake.requests[2]?.body.description)]).toHaveLength(140)
  })

  it('creates a deployment for the environment and sets its statuses', async () => {
    const log = recordingLog()
    const gh = new GitHubReporter(target, log)
    const id = await gh.createDeployment({
      ...ref,
      image: 'ghcr.io/acme/reviews:2.0.0',
      colors: { stable: 'blue', candidate: 'green' },
      description: 'reviews: blue → green'
    })
    expect(id).toBe(1001)
    await gh.deploymentStatus(1001, 'in_progress', 'green at 10%')
    await gh.deploymentStatus(1001, 'success', 'green promoted', {
      environmentUrl: 'https://shop.example.com'
    })
    expect(log.warnings).toEqual([])
    expect(fake.requests.map((r) => [r.kind, r.path])).toEqual([
      ['deployments', '/repos/acme/shop/deployments'],
      ['deployment_statuses', '/repos/acme/shop/deployments/1001/statuses'],
      ['deployment_statuses', '/repos/acme/shop/deployments/1001/statuses']
    ])
    expect(fake.requests[0]?.body).toEqual({
      ref: 'abc123',
      task: 'deploy',
      environment: 'production',
      description: 'reviews: blue → green',
      auto_merge: false,
      required_contexts: [],
      transient_environment: false,
      production_environment: true,
      payload: {
        namespace: 'demo',
        service: 'reviews',
        image: 'ghcr.io/acme/reviews:2.0.0',
        colors: { stable: 'blue', candidate: 'green' }
      }
    })
    expect(fake.requests[1]?.body).toEqual({
      state: 'in_progress',
      description: 'green at 10%',
      log_url: 'https://github.com/acme/shop/actions/runs/42',
      auto_inactive: false
    })
    expect(fake.requests[2]?.body).toMatchObject({
      state: 'success',
      environment_url: 'https://shop.example.com'
    })
  })

  it('creates no deployment without an environment', async () => {
    const gh = new GitHubReporter({ ...target, environment: undefined }, recordingLog())
    expect(await gh.createDeployment({ ...ref, description: 'x' })).toBeUndefined()
    expect(fake.requests).toEqual([])
  })

  it('warns once on a 403 naming the permission, then skips that kind silently', async () => {
    fake.deny('statuses')
    const log = recordingLog()
    const gh = new GitHubReporter(target, log)
    await gh.status(ref, 'in-progress', 'green at 10%')
    await gh.status(ref, 'promoted', 'green promoted')
    expect(log.warnings).toEqual([
      'could not set the commit status istio-bluegreen/demo/reviews: 403 Resource not accessible by integration; give the workflow "permissions: statuses: write"'
    ])
    expect(fake.requests.map((r) => [r.kind, r.status])).toEqual([['statuses', 403]])
    // Deployments are a separate permission and still go through.
    expect(await gh.createDeployment({ ...ref, description: 'x' })).toBe(1001)
    expect(log.warnings).toHaveLength(1)
  })

  it('returns no deployment id when deployments are refused', async () => {
    fake.deny('deployments')
    const log = recordingLog()
    const gh = new GitHubReporter(target, log)
    expect(await gh.createDeployment({ ...ref, description: 'x' })).toBeUndefined()
    expect(await gh.createDeployment({ ...ref, description: 'y' })).toBeUndefined()
    expect(log.warnings).toEqual([
      'could not create a deployment to the environment production: 403 Resource not accessible by integration; give the workflow "permissions: deployments: write"'
    ])
    expect(fake.requests).toHaveLength(1)
  })

  it('warns about a refused deployment status and skips later ones', async () => {
    const log = recordingLog()
    const gh = new GitHubReporter(target, log)
    const id = await gh.createDeployment({ ...ref, description: 'x' })
    fake.deny('deployment_statuses')
    await gh.deploymentStatus(id ?? 0, 'in_progress', 'a')
    await gh.deploymentStatus(id ?? 0, 'success', 'b')
    expect(log.warnings).toEqual([
      'could not set deployment 1001 to in_progress: 403 Resource not accessible by integration; give the workflow "permissions: deployments: write"'
    ])
    expect(fake.requests.filter((r) => r.kind === 'deployment_statuses')).toHaveLength(1)
  })

  it('carries on after a 404 for one deployment without giving up on the others', async () => {
    const log = recordingLog()
    const gh = new GitHubReporter(target, log)
    await gh.deploymentStatus(999, 'inactive', 'replaced')
    const id = await gh.createDeployment({ ...ref, description: 'x' })
    await gh.deploymentStatus(id ?? 0, 'success', 'promoted')
    expect(log.warnings).toEqual([
      'could not set deployment 999 to inactive: 404 Not Found; carrying on without it'
    ])
    expect(fake.requests.map((r) => r.status)).toEqual([404, 201, 201])
  })

  it('never puts the token or request headers in a warning', async () => {
    fake.deny('statuses')
    fake.deny('deployments')
    const log = recordingLog()
    const gh = new GitHubReporter(target, log)
    await gh.status(ref, 'failed', 'x')
    await gh.createDeployment({ ...ref, description: 'x' })
    expect(log.warnings).toHaveLength(2)
    for (const w of log.warnings) {
      expect(w).not.toContain(TOKEN)
      expect(w.toLowerCase()).not.toContain('authorization')
    }
  })
})

describe('GitHubReporter without a GitHub', () => {
  it('warns once when GitHub cannot be reached and never throws', async () => {
    // A port that was free a moment ago: the connection is refused.
    const probe = createServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const { port } = probe.address() as AddressInfo
    await new Promise((r) => probe.close(r))

    const log = recordingLog()
    const gh = new GitHubReporter(
      {
        token: TOKEN,
        apiUrl: `http://127.0.0.1:${port}`,
        owner: 'a',
        repo: 'b',
        sha: 'c',
        environment: 'qa'
      },
      log
    )
    await gh.status({ namespace: 'demo', service: 'reviews' }, 'in-progress', 'x')
    await gh.status({ namespace: 'demo', service: 'reviews' }, 'promoted', 'y')
    expect(
      await gh.createDeployment({ namespace: 'demo', service: 'reviews', description: 'z' })
    ).toBeUndefined()
    await gh.deploymentStatus(1, 'success', 'z')
    expect(log.warnings).toHaveLength(3)
    expect(log.warnings[0]).toMatch(
      /^could not set the commit status istio-bluegreen\/demo\/reviews: no answer from GitHub \(.+\); carrying on without it$/
    )
    expect(log.warnings[1]).toMatch(
      /^could not create a deployment to the environment qa: no answer/
    )
    expect(log.warnings[2]).toMatch(/^could not set deployment 1 to success: no answer/)
  })

  it('gives up on a call that takes longer than its timeout', async () => {
    // Accepts connections and never answers.
    const sockets = new Set<Socket>()
    const hang = createServer((socket) => void sockets.add(socket))
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r))
    const { port } = hang.address() as AddressInfo
    try {
      const log = recordingLog()
      const gh = new GitHubReporter(
        { token: TOKEN, apiUrl: `http://127.0.0.1:${port}`, owner: 'a', repo: 'b', sha: 'c' },
        log,
        { timeoutMs: 200 }
      )
      const started = Date.now()
      await gh.status({ namespace: 'demo', service: 'reviews' }, 'in-progress', 'x')
      expect(Date.now() - started).toBeLessThan(5000)
      expect(log.warnings).toHaveLength(1)
      expect(log.warnings[0]).toMatch(/no answer from GitHub/)
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise((r) => hang.close(r))
    }
  })
})
