/**
 * Runs the built action (dist/index.js) as GitHub's runner does: inputs as INPUT_* variables,
 * outputs and the job summary through the GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files. Used by the
 * end-to-end tests, the demo and the benchmarks.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Sandbox } from './index.js'
import type { ProbeRequest, ProbeResult, TrafficSettings } from './mesh/simulator.js'

export const ROOT = path.resolve(import.meta.dirname, '..')
const NODE = path.join(ROOT, 'node_modules/.bin/node')
const ACTION = path.join(ROOT, 'dist/index.js')
const POST = path.join(ROOT, 'dist/post.js')

export interface ActionRun {
  code: number
  /** Whether killWhen killed it. */
  killed: boolean
  /** What the step saved for its post step (core.saveState). */
  state: Record<string, string>
  /** Everything the action printed (stdout and stderr, interleaved as they came). */
  log: string
  outputs: Record<string, string>
  summary: string
}

/** Parse the GITHUB_OUTPUT file (`name<<delimiter` blocks, as @actions/core writes them). */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i] as string)
    if (!m) continue
    const [, name, delimiter] = m
    const value: string[] = []
    for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] as string)
    outputs[name as string] = value.join('\n')
  }
  return outputs
}

export interface RunOptions {
  timeoutMs?: number
  onLine?: (line: string) => void
  /** Kill the process with SIGKILL as soon as a line it prints matches (a runner dying). */
  killWhen?: (line: string) => boolean
  /**
   * Called once the process has started, with a function that kills it with SIGKILL: a runner
   * dying at a moment the test picks that no log line marks (from a store change, say).
   */
  killSwitch?: (kill: () => void) => void
  /** Which entry point: the main step, or the post step GitHub runs after it (post-if: always()). */
  entry?: 'main' | 'post'
  /** What the main step saved with core.saveState, given to the post step as STATE_* variables. */
  state?: Record<string, string>
}

export async function runAction(
  inputs: Record<string, string>,
  env: Record<string, string> = {},
  options: RunOptions = {}
): Promise<ActionRun> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ibg-run-'))
  const files = Object.fromEntries(
    ['output', 'summary', 'state'].map((name) => [name, path.join(dir, name)])
  ) as Record<'output' | 'summary' | 'state', string>
  for (const file of Object.values(files)) await writeFile(file, '')
  const inputEnv = Object.fromEntries(
    Object.entries(inputs).map(([k, v]) => [`INPUT_${k.replace(/ /g, '_').toUpperCase()}`, v])
  )
  const stateEnv = Object.fromEntries(
    Object.entries(options.state ?? {}).map(([k, v]) => [`STATE_${k}`, v])
  )
  const entry = options.entry === 'post' ? POST : ACTION
  const child = spawn(NODE, [entry], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      GITHUB_OUTPUT: files.output,
      GITHUB_STEP_SUMMARY: files.summary,
      GITHUB_STATE: files.state,
      GITHUB_ACTIONS: 'true',
      RUNNER_TEMP: dir,
      ...inputEnv,
      ...stateEnv,
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let log = ''
  let killed = false
  const collect = (chunk: Buffer): void => {
    const text = chunk.toString()
    log += text
    for (const line of text.split('\n')) {
      if (!line) continue
      options.onLine?.(line)
      if (!killed && options.killWhen?.(line)) {
        killed = true
        child.kill('SIGKILL')
      }
    }
  }
  child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  options.killSwitch?.(() => {
    if (killed) return
    killed = true
    child.kill('SIGKILL')
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000)
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)))
  clearTimeout(timer)
  return {
    code,
    killed,
    log,
    outputs: parseOutputFile(await readFile(files.output, 'utf8')),
    state: parseOutputFile(await readFile(files.state, 'utf8')),
    summary: await readFile(files.summary, 'utf8')
  }
}

/** POST JSON to the sandbox control API; throws on a non-2xx answer. */
export async function control(
  sb: Pick<Sandbox, 'controlUrl'>,
  route: string,
  body: unknown
): Promise<unknown> {
  const r = await fetch(`${sb.controlUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body)
  })
  const text = await r.text()
  if (!r.ok) throw new Error(`control ${route}: ${r.status} ${text}`)
  return text ? JSON.parse(text) : undefined
}

/**
 * Sets the mesh's traffic (POST /traffic) and returns the setting applied. `noise` defaults to
 * "none" (exact counts) and `seed` to 1, whatever was set before; e.g.
 * `setTraffic(sb, { rps: 100, noise: 'poisson', seed: 7 })` for reproducible noisy traffic.
 */
export async function setTraffic(
  sb: Pick<Sandbox, 'controlUrl'>,
  traffic: Pick<TrafficSettings, 'rps'> & Partial<TrafficSettings>
): Promise<TrafficSettings> {
  return (await control(sb, '/traffic', traffic)) as TrafficSettings
}

/**
 * Sends shaped requests through the mesh now (POST /mesh/probe) and returns which route took
 * them and which workloads served them; e.g.
 * `probe(sb, { namespace: 'demo', service: 'reviews', headers: { 'x-canary': 'true' }, count: 20 })`.
 */
export async function probe(
  sb: Pick<Sandbox, 'controlUrl'>,
  request: ProbeRequest
): Promise<ProbeResult> {
  return (await control(sb, '/mesh/probe', request)) as ProbeResult
}
