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
import { ownerFromEnv, stepReport } from './step.js'
import { GitHubReporter, githubTargetFrom } from './adapters/github.js'
import { githubNotifier } from './notify.js'
import { STATE } from './cleanup.js'
import { systemClock, type Log } from './log.js'

const actionsLog: Log = {
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  group: (name, fn) => core.group(name, fn)
}

/** Write outputs, the report file and the summary, and log; return the failure message, if any. */
async function report(
  settings: Readonly<Settings>,
  result: CommandResult,
  runId: string
): Promise<string | undefined> {
  const file = path.join(
    process.env.RUNNER_TEMP ?? tmpdir(),
    `istio-bluegreen-${settings.service}-${runId.replace(/[^\w.-]+/g, '_')}.json`
  )
  const step = stepReport(settings, result, file)
  for (const note of step.notes) {
    if (note.level === 'warning') core.warning(note.message)
    else core.info(note.message)
  }
  if (step.file !== undefined) await writeFile(file, JSON.stringify(step.file, null, 2))
  for (const [name, value] of Object.entries(step.outputs)) core.setOutput(name, value)
  await core.summary.addRaw(step.summary).write()
  return step.failure
}

/** Entry point of the action. */
export async function run(): Promise<void> {
  let notifier: Notifier = silentNotifier
  try {
    const read = (name: string): string => core.getInput(name)
    // Before validation: an error message may quote an input.
    maskInputSecrets(read)
    const settings = readSettings(read)
    const { owner, runId } = ownerFromEnv(
      process.env,
      settings.sha,
      () => `${hostname()}:${process.pid}:${Date.now()}`
    )
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
