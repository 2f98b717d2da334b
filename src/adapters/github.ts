/**
 * Commit statuses and deployments on GitHub, for people watching the commit or the environment.
 * Reporting is a courtesy to them, never part of the rollout: every failure here becomes one
 * warning naming the permission to grant, and the rollout carries on.
 */
import { getOctokit } from '@actions/github'
import type { Log } from '../log.js'
import type { Color } from '../core/color.js'
import type { Outcome } from '../report.js'

export type { Outcome } from '../report.js'

export interface GitHubTarget {
  token: string
  apiUrl: string
  owner: string
  repo: string
  sha: string
  /** Link to the workflow run, used as target_url / log_url. */
  runUrl?: string
  /** GitHub environment name for a deployment; none when undefined. */
  environment?: string
}

export const DEFAULT_API_URL = 'https://api.github.com'

/**
 * Reads the target from the runner's environment (GITHUB_REPOSITORY, GITHUB_SHA,
 * GITHUB_SERVER_URL, GITHUB_RUN_ID, GITHUB_API_URL) and the inputs given; `{ skip }` with the
 * reason when there is nothing to report to.
 */
export function githubTargetFrom(
  env: NodeJS.ProcessEnv,
  inputs: { token?: string; sha?: string; environment?: string }
): GitHubTarget | { skip: string } {
  const token = inputs.token?.trim()
  if (!token) return { skip: 'no github-token given' }
  const repository = env.GITHUB_REPOSITORY?.trim()
  if (!repository) return { skip: 'GITHUB_REPOSITORY is not set (not running in GitHub Actions)' }
  const [owner, repo, ...more] = repository.split('/')
  if (!owner || !repo || more.length > 0)
    return { skip: `GITHUB_REPOSITORY is "${repository}", not owner/repo` }
  const sha = inputs.sha?.trim() || env.GITHUB_SHA?.trim()
  if (!sha) return { skip: 'no commit: neither the sha input nor GITHUB_SHA is set' }
  const target: GitHubTarget = {
    token,
    apiUrl: (env.GITHUB_API_URL?.trim() || DEFAULT_API_URL).replace(/\/+$/, ''),
    owner,
    repo,
    sha
  }
  const server = (env.GITHUB_SERVER_URL?.trim() || 'https://github.com').replace(/\/+$/, '')
  const runId = env.GITHUB_RUN_ID?.trim()
  if (runId) target.runUrl = `${server}/${owner}/${repo}/actions/runs/${runId}`
  const environment = inputs.environment?.trim()
  if (environment) target.environment = environment
  return target
}

/** The three kinds of call; a refusal of one says nothing about the others. */
export type CallKind = 'statuses' | 'deployments' | 'deployment_statuses'

export type CommitState = 'pending' | 'success' | 'failure' | 'error'
export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'inactive'

/** GitHub refuses status and deployment descriptions over 140 characters. */
export const MAX_DESCRIPTION = 140

/** Commit status context: one per service, so two services released from one commit don't clash. */
export function statusContext(ref: { namespace: string; service: string }): string {
  return `istio-bluegreen/${ref.namespace}/${ref.service}`
}

/**
 * A paused rollout is still pending: traffic is split and nothing is decided. A rollback is a
 * failure of the commit even when the workflow was told not to fail on it.
 */
export function commitState(outcome: Outcome): CommitState {
  switch (outcome) {
    case 'promoted':
      return 'success'
    case 'rolled-back':
    case 'failed':
      return 'failure'
    case 'in-progress':
    case 'paused':
      return 'pending'
  }
}

/** The deployment state that goes with an outcome; a paused deployment is still in progress. */
export function deploymentState(outcome: Outcome): DeploymentState {
  switch (outcome) {
    case 'promoted':
      return 'success'
    case 'rolled-back':
    case 'failed':
      return 'failure'
    case 'in-progress':
    case 'paused':
      return 'in_progress'
  }
}

/** One line of at most `max` characters (code points), cut with … when longer. */
export function oneLine(text: string, max = MAX_DESCRIPTION): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  const chars = [...flat]
  return chars.length <= max ? flat : `${chars.slice(0, max - 1).join('')}…`
}

/**
 * What the status says for an outcome when the caller has the facts at hand: the candidate's
 * weight, the pause weight, the reason.
 */
export function describeOutcome(
  outcome: Outcome,
  facts: {
    candidate: Color
    stable: Color
    weight?: number
    step?: number
    steps?: number
    reason?: string
  }
): string {
  const reason = facts.reason ? `: ${facts.reason}` : ''
  switch (outcome) {
    case 'in-progress':
      if (facts.weight === undefined) return oneLine(`deploying ${facts.candidate}`)
      return oneLine(
        `${facts.candidate} at ${facts.weight}%${facts.step !== undefined && facts.steps !== undefined ? ` (step ${facts.step + 1} of ${facts.steps})` : ''}`
      )
    case 'paused':
      return oneLine(`paused at ${facts.weight ?? '?'}%: run promote to continue`)
    case 'promoted':
      return oneLine(`${facts.candidate} promoted to 100%`)
    case 'rolled-back':
      return oneLine(`rolled back to ${facts.stable}${reason}`)
    case 'failed':
      return oneLine(`failed${reason}`)
  }
}

/** Whether a deployment to this environment reaches end users: the usual production names. */
export function isProductionEnvironment(name: string): boolean {
  return /(^|[-_ ./])prod(uction)?($|[-_ ./])/i.test(name)
}

/** What went wrong with one call, without anything from the request (token, headers). */
export interface CallFailure {
  /** HTTP status; undefined when no answer came (network, timeout). */
  status?: number
  message: string
}

/** Reads an error from octokit (or anything else thrown) into a CallFailure. */
export function failureOf(error: unknown): CallFailure {
  const status = readNumber(error, 'status')
  const response = readObject(error, 'response')
  const data = response && readObject(response, 'data')
  const apiMessage = data && readString(data, 'message')
  const message = apiMessage ?? (error instanceof Error ? error.message : String(error))
  // octokit gives network failures status 500 but no response: they never reached GitHub.
  if (response === undefined || status === undefined) return { message }
  return { status, message }
}

const PERMISSION: Record<CallKind, string> = {
  statuses: 'statuses: write',
  deployments: 'deployments: write',
  deployment_statuses: 'deployments: write'
}

/**
 * What a failure means: the advice for the warning, and whether later calls of the kind would be
 * refused the same way (then they are skipped). A 404 on a deployment status concerns that one
 * deployment (say, a replaced one someone deleted), not the permission.
 */
export function adviceFor(
  kind: CallKind,
  failure: CallFailure
): { refused: boolean; advice: string } {
  const grant = `give the workflow "permissions: ${PERMISSION[kind]}"`
  const { status, message } = failure
  if (status === undefined)
    return { refused: false, advice: `no answer from GitHub (${message}); carrying on without it` }
  if (status === 429 || (status === 403 && /rate limit/i.test(message)))
    return { refused: true, advice: `${status} ${message}; no more of these calls in this run` }
  if (status === 401)
    return { refused: true, advice: `401 ${message}; check the github-token input` }
  if (status === 403) return { refused: true, advice: `403 ${message}; ${grant}` }
  if (status === 404 && kind !== 'deployment_statuses')
    return {
      refused: true,
      advice: `404 ${message}; the token cannot see the repository: ${grant}`
    }
  return { refused: false, advice: `${status} ${message}; carrying on without it` }
}

export interface GitHubReporterOptions {
  /** A slow GitHub must not hold the rollout up. */
  timeoutMs?: number
}

/** Commit statuses and deployments for one commit of one repository. Never throws. */
export class GitHubReporter {
  private readonly octokit: ReturnType<typeof getOctokit>
  private readonly timeoutMs: number
  /** Kinds GitHub refused for good: later calls are skipped without a word. */
  private readonly refused = new Set<CallKind>()
  /** One warning per kind and status, so a flaky network doesn't fill the log. */
  private readonly warned = new Set<string>()

  constructor(
    readonly target: GitHubTarget,
    private readonly log: Log,
    options: GitHubReporterOptions = {}
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000
    this.octokit = getOctokit(target.token, {
      baseUrl: target.apiUrl,
      // octokit writes deprecation notices to the console; route them to the action's log.
      log: {
        debug: () => undefined,
        info: () => undefined,
        warn: (m: string) => log.warning(m),
        error: (m: string) => log.warning(m)
      }
    })
  }

  /**
   * Commit status on target.sha with context `istio-bluegreen/<namespace>/<service>`: pending
   * while in flight or paused, success on promoted, failure on rolled-back or failed.
   */
  async status(
    ref: { namespace: string; service: string },
    outcome: Outcome,
    description: string
  ): Promise<void> {
    const context = statusContext(ref)
    const { owner, repo, sha, runUrl } = this.target
    await this.call('statuses', `set the commit status ${context}`, (signal) =>
      this.octokit.rest.repos.createCommitStatus({
        owner,
        repo,
        sha,
        state: commitState(outcome),
        context,
        description: oneLine(description),
        ...(runUrl ? { target_url: runUrl } : {}),
        request: { signal }
      })
    )
  }

  /**
   * Creates a deployment of target.sha to target.environment and returns its id; undefined when
   * there is no environment or GitHub refused.
   */
  async createDeployment(info: {
    namespace: string
    service: string
    image?: string
    colors?: { stable: Color; candidate: Color }
    description: string
  }): Promise<number | undefined> {
    const environment = this.target.environment
    if (environment === undefined) return undefined
    const { owner, repo, sha } = this.target
    const response = await this.call(
      'deployments',
      `create a deployment to the environment ${environment}`,
      (signal) =>
        this.octokit.rest.repos.createDeployment({
          owner,
          repo,
          ref: sha,
          task: 'deploy',
          environment,
          description: oneLine(info.description),
          // The ref is the exact commit to release: never merge the default branch into it.
          auto_merge: false,
          // Our own pending status is on this commit; GitHub would otherwise refuse with 409.
          required_contexts: [],
          // The environment outlives a run: the colors keep running after it.
          transient_environment: false,
          production_environment: isProductionEnvironment(environment),
          payload: {
            namespace: info.namespace,
            service: info.service,
            ...(info.image ? { image: info.image } : {}),
            ...(info.colors ? { colors: info.colors } : {})
          },
          request: { signal }
        })
    )
    if (response === undefined) return undefined
    const id = readNumber(response.data, 'id')
    if (id === undefined)
      this.warnOnce(
        'deployments:no-id',
        `could not create a deployment to the environment ${environment}: GitHub answered ${response.status} without a deployment id; carrying on without it`
      )
    return id
  }

  /**
   * Deployment status: log_url the run, environment_url when given. auto_inactive is false
   * because the action marks the deployment it replaces inactive itself, and only once the new
   * one is promoted.
   */
  async deploymentStatus(
    id: number,
    state: DeploymentState,
    description: string,
    options: { environmentUrl?: string } = {}
  ): Promise<void> {
    const { owner, repo, runUrl } = this.target
    await this.call('deployment_statuses', `set deployment ${id} to ${state}`, (signal) =>
      this.octokit.rest.repos.createDeploymentStatus({
        owner,
        repo,
        deployment_id: id,
        state,
        description: oneLine(description),
        ...(runUrl ? { log_url: runUrl } : {}),
        ...(options.environmentUrl ? { environment_url: options.environmentUrl } : {}),
        auto_inactive: false,
        request: { signal }
      })
    )
  }

  /** Runs one call; a failure becomes at most one warning, and a refusal skips later calls. */
  private async call<T>(
    kind: CallKind,
    what: string,
    send: (signal: AbortSignal) => Promise<T>
  ): Promise<T | undefined> {
    if (this.refused.has(kind)) return undefined
    try {
      return await send(AbortSignal.timeout(this.timeoutMs))
    } catch (error) {
      const failure = failureOf(error)
      const { refused, advice } = adviceFor(kind, failure)
      if (refused) this.refused.add(kind)
      this.warnOnce(`${kind}:${failure.status ?? 'network'}`, `could not ${what}: ${advice}`)
      return undefined
    }
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return
    this.warned.add(key)
    // Defence in depth: no message from anywhere may carry the token into the log.
    this.log.warning(message.split(this.target.token).join('***'))
  }
}

function readObject(value: unknown, key: string): object | undefined {
  if (typeof value !== 'object' || value === null || !(key in value)) return undefined
  const v: unknown = (value as Record<string, unknown>)[key]
  return typeof v === 'object' && v !== null ? v : undefined
}

function readNumber(value: unknown, key: string): number | undefined {
  if (typeof value !== 'object' || value === null || !(key in value)) return undefined
  const v: unknown = (value as Record<string, unknown>)[key]
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}

function readString(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null || !(key in value)) return undefined
  const v: unknown = (value as Record<string, unknown>)[key]
  return typeof v === 'string' && v !== '' ? v : undefined
}
