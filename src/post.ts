/**
 * Entry point of the post step. Most post steps have nothing to do (the main step finished, or
 * stopped before it could take the lock): that is read from the step's state before cleanup.ts,
 * and with it the Kubernetes client, is loaded.
 */
import * as core from '@actions/core'
import { postMayHaveWork } from './state.js'

if (postMayHaveWork((name) => core.getState(name))) {
  const { cleanup } = await import('./cleanup.js')
  await cleanup()
}
