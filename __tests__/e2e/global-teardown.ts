/** Stops the Prometheus pool that global-setup.ts started, and waits for it to exit. */
import type { ChildProcess } from 'node:child_process'

const POOL_PROCESS = Symbol.for('istio-bluegreen.e2e.prometheus-pool')

export default async function globalTeardown(): Promise<void> {
  const child = (globalThis as Record<symbol, ChildProcess | undefined>)[POOL_PROCESS]
  if (!child || child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(killer)
}
