/**
 * The action's main step: settings, then the command, then outputs, the report file and the job
 * summary. The one place that marks the step failed.
 */
import * as core from '@actions/core'
import { writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import path from 'node:path'
import { readSettings, type Settings } from './inputs.js'
import { maskInputSecrets } from './secrets.js'
import { connect, metricsAt } from './adapters/factory.js'
import { LockLostError } from './adapters/lease.js'
import { type CommandResult, type Notifier, runCommand, silentNotifier } from './commands.js'
import { outputsOf, reportJson, summaryMarkdown } from './report.js'
import { GitHubReporter, githubTargetFrom } from './adapters/github.js'
import { githubNotifier } from './notify.js'
import { STATE } from './cleanup.js'
import type { Owner } from './core/record.js'
import { systemClock, type Log } from './log.js'

const actionsLog: Log = {
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  group: (name, fn) => core.group(name, fn)
}

function ownerFromEnv(sha: string | undefined): { owner: Owner; runId: string } {
  const env = process.env
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com'
  const repository = env.GITHUB_REPOSITORY
  const runId = env.GITHUB_RUN_ID
  const runUrl = repository && runId ? `${server}/${repository}/actions/runs/${runId}` : undefined
  const id = runId
    ? `${repository ?? 'run'}#${runId}.${env.GITHUB_RUN_ATTEMPT ?? '1'}`
    : `${hostname()}:${process.pid}:${Date.now()}`
  return {
    owner: { repository, runId, runUrl, actor: env.GITHUB_ACTOR, sha: sha ?? env.GITHUB_SHA },
    runId: id
  }
}

/** Write outputs, the report file and the summary; return the failure message, if any. */
async function report(
  settings: Readonly<Settings>,
  result: CommandResult,
  runId: string
): Promise<string | undefined> {
  const file = path.join(
    process.env.RUNNER_TEMP ?? tmpdir(),
    `istio-bluegreen-${settings.service}-${runId.replace(/[^\w.-]+/g, '_')}.json`
  )
  if (result.kind === 'rollout') {
    const { record, result: what, reason } = result.outcome
    const outputs = { ...outputsOf(record), result: what, phase: record.phase, report: file }
    for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value)
    const json = reportJson(record, {
      thresholds: record.config,
      outputs,
      command: settings.command
    })
    await writeFile(file, JSON.stringify(json, null, 2))
    await core.summary.addRaw(summaryMarkdown(record, record.config)).write()
    if (result.outcome.alert) return result.outcome.alert
    if (what === 'rolled-back' && !record.stoppedBy) {
      const message = `rolled back: ${reason ?? 'no reason recorded'}`
      if (settings.failOnRollback) return message
      core.warning(message)
    } else core.info(`${what}: ${outputs.weights}`)
    return undefined
  }
  if (result.kind === 'status') {
    core.info(result.text)
    const outputs: Record<string, string> = { result: result.phase, phase: result.phase }
    if (result.weights) outputs.weights = result.weights
    if (result.record) {
      const o = outputsOf(result.record)
      outputs['stable-color'] = o['stable-color']
      outputs['candidate-color'] = o['candidate-color']
      outputs.reason = o.reason
      await writeFile(
        file,
        JSON.stringify({ command: 'status', outputs, record: result.record }, null, 2)
      )
      outputs.report = file
    }
    for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value)
    await core.summary
      .addRaw(`## ${settings.service}: ${result.phase}\n\n\`\`\`\n${result.text}\n\`\`\`\n`)
      .write()
    return undefined
  }
  core.setOutput('result', 'planned')
  core.setOutput('stable-color', result.stable)
  core.setOutput('candidate-color', result.candidate)
  await core.summary.addRaw(`## ${settings.service}: plan\n\n${result.text}\n`).write()
  return undefined
}

/** Entry point of the action. */
export async function run(): Promise<void> {
  let notifier: Notifier = silentNotifier
  try {
    const read = (name: string): string => core.getInput(name)
    // Before validation: an error message may quote an input.
    maskInputSecrets(read)
    const settings = readSettings(read)
    const { owner, runId } = ownerFromEnv(settings.sha)
    const { kube, namespace, records } = connect(settings, runId, (w) => core.warning(w))
    // The post step needs this run's identity to recognise its own lock if this step dies.
    core.saveState(STATE.runId, runId)
    const target = githubTargetFrom(process.env, {
      token: settings.githubToken,
      sha: settings.sha,
      environment: settings.environment
    })
    if ('skip' in target) core.debug(`no commit status or deployment: ${target.skip}`)
    notifier =
      'skip' in target ? silentNotifier : githubNotifier(new GitHubReporter(target, actionsLog))
    const result = await runCommand({
      settings,
      kube,
      namespace,
      owner,
      runId,
      records,
      metricsAt: metricsAt(settings),
      log: actionsLog,
      clock: systemClock,
      notifier
    })
    const failure = await report(settings, result, runId)
    core.saveState(STATE.finished, 'true')
    if (failure) core.setFailed(failure)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    // The error was handled here (traffic restored or the record says what to do), or the
    // rollout was taken over and is no longer this run's: nothing is left for the post step.
    core.saveState(STATE.finished, 'true')
    // Taken over: the rollout and its GitHub deployment are the other run's to report now.
    if (!(error instanceof LockLostError)) await notifier.failed(message)
    core.setFailed(message)
  }
}
