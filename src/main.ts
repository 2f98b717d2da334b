/**
 * The action's main step: settings, then the command, then outputs and the job summary. The one
 * place that marks the step failed.
 */
import * as core from '@actions/core'
import { hostname } from 'node:os'
import { readSettings, type Settings } from './inputs.js'
import { Kube, loadKubeConfig } from './adapters/kube.js'
import { Prometheus } from './adapters/prometheus.js'
import { LeaseStore } from './adapters/lease.js'
import { deploy } from './deploy.js'
import { outputsOf, summaryMarkdown } from './report.js'
import type { Owner } from './core/record.js'
import { systemClock, type Log } from './log.js'

const actionsLog: Log = {
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  group: (name, fn) => core.group(name, fn)
}

/** Mask the kubeconfig and every credential in it before anything can print them. */
function maskSecrets(settings: Readonly<Settings>): void {
  if (!settings.kubeconfig) return
  core.setSecret(settings.kubeconfig)
  for (const line of settings.kubeconfig.split('\n')) {
    const m =
      /^\s*(token|client-key-data|client-certificate-data|password|id-token|refresh-token)\s*:\s*["']?([^"'\s]+)/.exec(
        line
      )
    if (m?.[2]) core.setSecret(m[2])
  }
}

function ownerFromEnv(): { owner: Owner; runId: string } {
  const env = process.env
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com'
  const repository = env.GITHUB_REPOSITORY
  const runId = env.GITHUB_RUN_ID
  const runUrl = repository && runId ? `${server}/${repository}/actions/runs/${runId}` : undefined
  const id = runId
    ? `${repository ?? 'run'}#${runId}.${env.GITHUB_RUN_ATTEMPT ?? '1'}`
    : `${hostname()}:${process.pid}:${Date.now()}`
  return {
    owner: { repository, runId, runUrl, actor: env.GITHUB_ACTOR, sha: env.GITHUB_SHA },
    runId: id
  }
}

/** Entry point of the action. */
export async function run(): Promise<void> {
  try {
    const settings = readSettings((name) => core.getInput(name))
    maskSecrets(settings)
    const config = loadKubeConfig(settings)
    const kube = new Kube(config)
    const namespace = settings.namespace ?? kube.contextNamespace() ?? 'default'
    const { owner, runId } = ownerFromEnv()
    const leases = new LeaseStore(kube, namespace, settings.service, runId)
    const prometheus = new Prometheus(settings.prometheusUrl)
    const outcome = await deploy({
      settings,
      kube,
      prometheus,
      leases,
      namespace,
      owner,
      runId,
      log: actionsLog,
      clock: systemClock
    })

    const outputs = outputsOf(outcome.record)
    for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value)
    await core.summary.addRaw(summaryMarkdown(outcome.record, settings)).write()
    if (outcome.result === 'rolled-back') {
      if (settings.failOnRollback)
        core.setFailed(`rolled back: ${outcome.reason ?? 'no reason recorded'}`)
      else core.warning(`rolled back: ${outcome.reason ?? 'no reason recorded'}`)
    } else core.info(`promoted: ${outputs.weights}`)
  } catch (error) {
    core.setFailed(error instanceof Error ? error.message : String(error))
  }
}
