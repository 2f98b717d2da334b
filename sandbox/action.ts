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

export const ROOT = path.resolve(import.meta.dirname, '..')
const NODE = path.join(ROOT, 'node_modules/.bin/node')
const ACTION = path.join(ROOT, 'dist/index.js')

export interface ActionRun {
  code: number
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

export async function runAction(
  inputs: Record<string, string>,
  env: Record<string, string> = {},
  options: { timeoutMs?: number; onLine?: (line: string) => void } = {}
): Promise<ActionRun> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ibg-run-'))
  const outputFile = path.join(dir, 'output')
  const summaryFile = path.join(dir, 'summary')
  await writeFile(outputFile, '')
  await writeFile(summaryFile, '')
  const inputEnv = Object.fromEntries(
    Object.entries(inputs).map(([k, v]) => [`INPUT_${k.replace(/ /g, '_').toUpperCase()}`, v])
  )
  const child = spawn(NODE, [ACTION], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      GITHUB_ACTIONS: 'true',
      RUNNER_TEMP: dir,
      ...inputEnv,
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let log = ''
  const collect = (chunk: Buffer): void => {
    const text = chunk.toString()
    log += text
    if (options.onLine) for (const line of text.split('\n')) if (line) options.onLine(line)
  }
  child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000)
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)))
  clearTimeout(timer)
  return {
    code,
    log,
    outputs: parseOutputFile(await readFile(outputFile, 'utf8')),
    summary: await readFile(summaryFile, 'utf8')
  }
}

/** POST JSON to the sandbox control API; throws on a non-2xx answer. */
export async function control(sb: Sandbox, route: string, body: unknown): Promise<unknown> {
  const r = await fetch(`${sb.controlUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body)
  })
  const text = await r.text()
  if (!r.ok) throw new Error(`control ${route}: ${r.status} ${text}`)
  return text ? JSON.parse(text) : undefined
}
