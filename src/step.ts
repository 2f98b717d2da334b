/**
 * What the main step makes of a command's result, as data: the outputs, the JSON report file's
 * content, the job summary, the lines for the log, and the failure message when the step fails;
 * and who runs it, from the runner's GITHUB_* variables. No I/O: main.ts writes all of it, and
 * the in-process tests compare it with what the end-to-end tests read from the runner's files.
 */
import type { CommandResult } from './commands.js'
import type { Owner } from './core/record.js'
import type { Settings } from './inputs.js'
import { outputsOf, reportJson, summaryMarkdown } from './report.js'

/** The runner's variables that say who runs the action (GITHUB_REPOSITORY, GITHUB_RUN_ID, …). */
export type RunnerEnv = Readonly<Record<string, string | undefined>>

/**
 * The owner of a run and its lock identity: `repository#run.attempt` on GitHub; elsewhere
 * `localId()` (the host, the process and the time in main.ts).
 */
export function ownerFromEnv(
  env: RunnerEnv,
  sha: string | undefined,
  localId: () => string
): { owner: Owner; runId: string } {
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com'
  const repository = env.GITHUB_REPOSITORY
  const runId = env.GITHUB_RUN_ID
  const runUrl = repository && runId ? `${server}/${repository}/actions/runs/${runId}` : undefined
  const id = runId ? `${repository ?? 'run'}#${runId}.${env.GITHUB_RUN_ATTEMPT ?? '1'}` : localId()
  return {
    owner: { repository, runId, runUrl, actor: env.GITHUB_ACTOR, sha: sha ?? env.GITHUB_SHA },
    runId: id
  }
}

/** One line for the step's log. */
export interface StepNote {
  level: 'info' | 'warning'
  message: string
}

/** Everything the step reports about a command's result. */
export interface StepReport {
  outputs: Record<string, string>
  /** The report file's content, when the step writes one (to `outputs.report`). */
  file?: unknown
  summary: string
  notes: StepNote[]
  /** Set when the step fails: its error message. */
  failure?: string
}

/** The step's report of `result`; `file` is where the JSON report goes. */
export function stepReport(
  settings: Readonly<Settings>,
  result: CommandResult,
  file: string
): StepReport {
  if (result.kind === 'rollout') {
    const { record, result: what, reason } = result.outcome
    const outputs = { ...outputsOf(record), result: what, phase: record.phase, report: file }
    const json = reportJson(record, {
      thresholds: record.config,
      outputs,
      command: settings.command
    })
    const summary = summaryMarkdown(record, record.config)
    const report = { outputs, file: json, summary }
    if (result.outcome.alert) return { ...report, notes: [], failure: result.outcome.alert }
    if (what === 'rolled-back' && !record.stoppedBy) {
      const message = `rolled back: ${reason ?? 'no reason recorded'}`
      if (settings.failOnRollback) return { ...report, notes: [], failure: message }
      return { ...report, notes: [{ level: 'warning', message }] }
    }
    return { ...report, notes: [{ level: 'info', message: `${what}: ${outputs.weights}` }] }
  }
  if (result.kind === 'status') {
    const outputs: Record<string, string> = { result: result.phase, phase: result.phase }
    if (result.weights) outputs.weights = result.weights
    let json: unknown
    if (result.record) {
      const o = outputsOf(result.record)
      outputs['stable-color'] = o['stable-color']
      outputs['candidate-color'] = o['candidate-color']
      outputs.reason = o.reason
      json = { command: 'status', outputs: { ...outputs }, record: result.record }
      outputs.report = file
    }
    return {
      outputs,
      ...(json === undefined ? {} : { file: json }),
      summary: `## ${settings.service}: ${result.phase}\n\n\`\`\`\n${result.text}\n\`\`\`\n`,
      notes: [{ level: 'info', message: result.text }]
    }
  }
  return {
    outputs: {
      result: 'planned',
      'stable-color': result.stable,
      'candidate-color': result.candidate
    },
    summary: `## ${settings.service}: plan\n\n${result.text}\n`,
    notes: []
  }
}
