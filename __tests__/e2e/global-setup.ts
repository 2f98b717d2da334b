/**
 * Jest's global setup for the end-to-end project: its tests drive the built dist/index.js, so a
 * source change must reach dist/ first. `npm run build:if-stale` rebuilds only when src/ changed
 * after the last build. (A global setup is loaded outside Jest's module mapping, hence processes
 * rather than imports of scripts/dist.ts and sandbox/prometheus-pool.ts.)
 *
 * It then starts one Prometheus pool for the whole run (sandbox/prometheus-pool-cli.ts) and hands
 * its URL to the test workers as SANDBOX_PROMETHEUS_POOL: each sandbox takes a Prometheus that is
 * already running instead of waiting ~5 s for a fresh one's first scrape. global-teardown.ts
 * stops it; if Jest dies first, the pool sees its standard input close and stops by itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Config } from '@jest/types'

export const POOL_PROCESS = Symbol.for('istio-bluegreen.e2e.prometheus-pool')

export default async function globalSetup(
  globalConfig: Config.GlobalConfig,
  project: Config.ProjectConfig
): Promise<void> {
  // SANDBOX_PROMETHEUS_POOL=off gives every sandbox a Prometheus of its own, as before the pool.
  // The pool starts first, so its Prometheus servers warm up while dist/ builds.
  const pool =
    process.env['SANDBOX_PROMETHEUS_POOL'] === 'off' ? undefined : startPool(globalConfig, project)
  delete process.env['SANDBOX_PROMETHEUS_POOL']
  const run = spawnSync('npm', ['run', '--silent', 'build:if-stale'], {
    cwd: project.rootDir,
    stdio: 'inherit'
  })
  if (run.error) throw new Error(`npm run build:if-stale could not start: ${run.error.message}`)
  if (run.status !== 0) throw new Error(`npm run build:if-stale failed (exit ${run.status})`)

  if (pool) {
    const { child, url } = await pool
    process.env['SANDBOX_PROMETHEUS_POOL'] = url
    ;(globalThis as Record<symbol, ChildProcess>)[POOL_PROCESS] = child
  }
}

async function startPool(
  globalConfig: Config.GlobalConfig,
  project: Config.ProjectConfig
): Promise<{ child: ChildProcess; url: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ibg-prometheus-pool-'))
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(project.rootDir, 'sandbox/prometheus-pool-cli.ts'),
      '--dir',
      dir,
      // One Prometheus per worker starts now, while the first test files load.
      '--warm',
      String(globalConfig.maxWorkers)
    ],
    { cwd: project.rootDir, stdio: ['pipe', 'pipe', 'inherit'] }
  )
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8')
      const m = /^pool (\S+)$/m.exec(out)
      if (m) resolve(m[1] as string)
    })
    child.once('error', (err) =>
      reject(new Error(`the Prometheus pool could not start: ${err.message}`))
    )
    child.once('exit', (code) =>
      reject(new Error(`the Prometheus pool exited (${code}) before it listened:\n${out}`))
    )
  })
  return { child, url }
}
