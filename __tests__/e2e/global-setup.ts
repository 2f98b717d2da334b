/**
 * Jest's global setup for the end-to-end project: its tests drive the built dist/index.js, so a
 * source change must reach dist/ first. `npm run build:if-stale` rebuilds only when src/ changed
 * after the last build. (A global setup is loaded outside Jest's module mapping, hence a process
 * rather than an import of scripts/dist.ts.)
 */
import { spawnSync } from 'node:child_process'
import type { Config } from '@jest/types'

export default function globalSetup(_: Config.GlobalConfig, project: Config.ProjectConfig): void {
  const run = spawnSync('npm', ['run', '--silent', 'build:if-stale'], {
    cwd: project.rootDir,
    stdio: 'inherit'
  })
  if (run.error) throw new Error(`npm run build:if-stale could not start: ${run.error.message}`)
  if (run.status !== 0) throw new Error(`npm run build:if-stale failed (exit ${run.status})`)
}
