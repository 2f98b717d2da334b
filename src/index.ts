/**
 * Entry point of the main step: run() from main.ts, loaded once the inputs are known to be valid.
 * main.ts brings the Kubernetes and GitHub clients, most of the bundle and of the start-up time, so
 * a run with a wrong input fails about as fast as Node starts, with the message run() would give.
 * run() reads and checks the inputs again itself (reading them is pure and cheap): it stays the
 * one place where a run's settings come from.
 */
import * as core from '@actions/core'
import { readSettings } from './inputs.js'
import { maskInputSecrets } from './secrets.js'
import { STATE } from './state.js'

const read = (name: string): string => core.getInput(name)
let invalid: string | undefined
try {
  readSettings(read)
} catch (error) {
  invalid = error instanceof Error ? error.message : String(error)
}
if (invalid === undefined) {
  const { run } = await import('./main.js')
  await run()
} else {
  // As run() reports it: the inputs' secrets masked before the message can quote one, and
  // nothing left for the post step.
  maskInputSecrets(read)
  core.saveState(STATE.finished, 'true')
  core.setFailed(invalid)
}
