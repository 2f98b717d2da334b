/**
 * Reports rollouts where the change was made: a commit status on the deployed commit and, with
 * input `environment`, a GitHub deployment. Never fails a rollout (the reporter only warns).
 */
import type { Notifier } from './commands.js'
import type { RolloutRecord } from './core/record.js'
import { describeOutcome, type GitHubReporter } from './adapters/github.js'
import { outcomeOf } from './report.js'

function facts(record: RolloutRecord, reason?: string) {
  return {
    candidate: record.candidate.color,
    stable: record.stable.color,
    weight: record.weights[record.candidate.color],
    step: record.step >= 0 ? record.step : undefined,
    steps: record.steps.length,
    reason
  }
}

/** A Notifier that keeps the commit status and the deployment in step with the rollout. */
export function githubNotifier(reporter: GitHubReporter): Notifier {
  let current: RolloutRecord | undefined
  const ref = (r: RolloutRecord) => ({ namespace: r.namespace, service: r.service })
  return {
    async started(record, previous) {
      current = record
      const what =
        record.phase === 'deploying'
          ? `deploying ${record.candidate.color} (${record.candidate.image ?? '?'})`
          : describeOutcome('in-progress', facts(record))
      await reporter.status(ref(record), 'in-progress', what)
      if (!reporter.target.environment) return record
      let deploymentId = record.github?.deploymentId
      if (deploymentId === undefined) {
        deploymentId = await reporter.createDeployment({
          namespace: record.namespace,
          service: record.service,
          image: record.candidate.image,
          colors: { stable: record.stable.color, candidate: record.candidate.color },
          description: what
        })
      }
      if (deploymentId === undefined) return record
      await reporter.deploymentStatus(deploymentId, 'in_progress', what)
      const replaces =
        previous?.phase === 'promoted'
          ? previous.github?.deploymentId
          : record.github?.replacesDeploymentId
      current = { ...record, github: { deploymentId, replacesDeploymentId: replaces } }
      return current
    },
    async finished({ record, reason }) {
      const outcome = outcomeOf(record)
      const text = describeOutcome(outcome, facts(record, reason ?? record.reason))
      await reporter.status(ref(record), outcome, text)
      const id = record.github?.deploymentId
      if (id === undefined) return
      const state =
        outcome === 'promoted' ? 'success' : outcome === 'paused' ? 'in_progress' : 'failure'
      await reporter.deploymentStatus(id, state, text)
      const replaced = record.github?.replacesDeploymentId
      if (outcome === 'promoted' && replaced !== undefined) {
        await reporter.deploymentStatus(
          replaced,
          'inactive',
          `replaced by ${record.candidate.image ?? record.candidate.color}`
        )
      }
    },
    async failed(message) {
      if (!current) return
      const text = describeOutcome('failed', facts(current, message))
      await reporter.status(ref(current), 'failed', text)
      const id = current.github?.deploymentId
      if (id !== undefined) await reporter.deploymentStatus(id, 'failure', text)
    }
  }
}
