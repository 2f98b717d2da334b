/**
 * `npm run sandbox`: runs the sandbox until Ctrl-C.
 *
 * Prints the env lines (also written to <dir>/env), then `sandbox ready` once
 * Prometheus has scraped the mesh. Progress goes to stderr so stdout carries
 * only the env lines and the ready line.
 *
 * Options: --dir (default: env SANDBOX_DIR, else .sandbox in the repo root),
 * --rps, --scrape-interval, --controller-delay-ms, --termination-grace-scale, --no-seed,
 * --no-prometheus.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { envLines, startSandbox, type Sandbox } from './index.js'

const usage = `usage: npm run sandbox -- [--dir DIR] [--rps N] [--scrape-interval 1s]
                       [--controller-delay-ms N] [--termination-grace-scale 1]
                       [--no-seed] [--no-prometheus]`

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      rps: { type: 'string' },
      'scrape-interval': { type: 'string' },
      'controller-delay-ms': { type: 'string' },
      'termination-grace-scale': { type: 'string' },
      'no-seed': { type: 'boolean' },
      'no-prometheus': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help) {
    console.log(usage)
    return 0
  }
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
  const dir = path.resolve(
    values.dir ?? process.env['SANDBOX_DIR'] ?? path.join(repoRoot, '.sandbox')
  )
  const rps = numberOption(values.rps, '--rps')
  const controllerDelayMs = numberOption(values['controller-delay-ms'], '--controller-delay-ms')
  const terminationGraceScale = numberOption(
    values['termination-grace-scale'],
    '--termination-grace-scale'
  )

  console.error(`sandbox: starting in ${dir}`)
  // Filled once started; the signal handler may run before that.
  const running: { sandbox?: Sandbox } = {}
  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) {
      console.error(`sandbox: ${signal} again, exiting without cleanup`)
      process.exit(1)
    }
    stopping = true
    console.error(`sandbox: ${signal}, stopping`)
    // Still starting: main() stops the sandbox as soon as startSandbox returns.
    if (!running.sandbox) return
    running.sandbox.stop().then(
      () => {
        console.error('sandbox: stopped')
        process.exit(0)
      },
      (err: unknown) => {
        console.error('sandbox: stop failed:', err)
        process.exit(1)
      }
    )
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))

  const sandbox = await startSandbox({
    dir,
    seed: !values['no-seed'],
    prometheus: !values['no-prometheus'],
    ...(rps !== undefined ? { rps } : {}),
    ...(values['scrape-interval'] !== undefined
      ? { scrapeInterval: values['scrape-interval'] }
      : {}),
    ...(controllerDelayMs !== undefined ? { controllerDelayMs } : {}),
    ...(terminationGraceScale !== undefined ? { terminationGraceScale } : {})
  })
  running.sandbox = sandbox
  if (stopping) {
    await sandbox.stop()
    console.error('sandbox: stopped')
    return 0
  }
  console.error(`sandbox: API server    ${sandbox.api.url}`)
  console.error(
    `sandbox: mesh metrics  ${sandbox.mesh.url}/metrics (rps ${sandbox.mesh.rps} per flow)`
  )
  if (sandbox.prometheus) {
    console.error(
      `sandbox: prometheus    ${sandbox.prometheus.url} (pid ${sandbox.prometheus.pid}, log ${sandbox.prometheus.logPath})`
    )
  }
  console.error(`sandbox: control API   ${sandbox.controlUrl}`)
  console.error(
    `sandbox: env file      ${sandbox.envPath} (e.g. \`set -a; . ${sandbox.envPath}; set +a\`)`
  )
  for (const line of envLines(sandbox.env)) console.log(line)
  console.log('sandbox ready')
  return -1
}

function numberOption(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`${name} must be a non-negative number, got ${v}`)
  return n
}

main().then(
  (code) => {
    // -1: running until a signal arrives.
    if (code >= 0) process.exit(code)
  },
  (err: unknown) => {
    console.error('sandbox: failed to start:', err instanceof Error ? err.message : err)
    process.exit(1)
  }
)
