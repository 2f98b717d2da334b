/**
 * Footprint and start-up of the built action, against a floor action (Node 24 and @actions/core
 * alone, scripts/bench/floor.ts, bundled the same way):
 *  - the size of dist/ (goal: at most 5 MB);
 *  - cold start to the first input error, the floor's beside it, and the ratio of the two
 *    (goal: at most 1.5×), taken pair by pair (action, floor, action, floor, ...) so that a
 *    machine whose speed drifts during the runs still gives a fair ratio;
 *  - cold start to the first answer of the Kubernetes API (a local server that forbids every
 *    request, so the run fails at its first call, with no retry), which loads the clients the
 *    input check lets a wrong run skip;
 *  - the peak memory (maximum resident set) of each, read by the process itself at exit through a
 *    preload, in separate runs so that the preload does not weigh on the times.
 * `npm run bench:cold-start` prints these alone; `npm run bench` prints them with the rest.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { build } from 'esbuild'
import { BUNDLE_OPTIONS } from '../build.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const NODE = path.join(ROOT, 'node_modules/.bin/node')

export const GOALS = { distBytes: 5_000_000, coldStartRatio: 1.5 } as const

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/** Bytes of every file under `dir`. */
export async function treeBytes(dir: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    total += entry.isDirectory() ? await treeBytes(full) : (await stat(full)).size
  }
  return total
}

/** A process to start: a script under Node with its environment (nothing inherited but PATH). */
export interface Probe {
  name: string
  script: string
  env: Record<string, string>
}

interface Run {
  ms: number
  code: number | null
  output: string
}

/** Starts the probe and waits for it to exit; with `rssFile`, the preload writes maxRSS there. */
function runOnce(probe: Probe, rssFile?: string): Promise<Run> {
  const args = rssFile ? ['--import', path.join(import.meta.dirname, 'maxrss.mjs')] : []
  const env = {
    PATH: process.env.PATH ?? '',
    ...probe.env,
    ...(rssFile ? { BENCH_MAXRSS_FILE: rssFile } : {})
  }
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(NODE, [...args, probe.script], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ ms: performance.now() - started, code, output }))
  })
}

/** Runs the probe once and checks it ended as expected: its output holds `expect`. */
async function checked(probe: Probe, expect: string, rssFile?: string): Promise<Run> {
  const run = await runOnce(probe, rssFile)
  if (!run.output.includes(expect)) {
    throw new Error(
      `cold start of ${probe.name}: expected its output to hold "${expect}", got (exit ${run.code}):\n${run.output}`
    )
  }
  return run
}

export interface ColdStart {
  /** Median wall time of each probe, ms. */
  medianMs: Record<string, number>
  /** Median of the pairwise ratios probe / floor. */
  ratio: Record<string, number>
  /** Median peak memory of each probe, bytes. */
  peakBytes: Record<string, number>
  runs: number
}

/**
 * Alternates each probe with the floor, `runs` times after one warm-up, and returns the medians.
 * `expects` maps each probe's name to text its output must hold (the error it should end on).
 */
export async function measure(
  floor: Probe,
  probes: readonly Probe[],
  expects: Record<string, string>,
  runs: number
): Promise<ColdStart> {
  const all = [floor, ...probes]
  const times: Record<string, number[]> = Object.fromEntries(all.map((p) => [p.name, []]))
  const ratios: Record<string, number[]> = Object.fromEntries(probes.map((p) => [p.name, []]))
  const expect = (p: Probe): string => expects[p.name] ?? ''
  for (const p of all) await checked(p, expect(p))
  for (let i = 0; i < runs; i++) {
    for (const p of probes) {
      const a = await checked(p, expect(p))
      const b = await checked(floor, expect(floor))
      times[p.name]?.push(a.ms)
      times[floor.name]?.push(b.ms)
      ratios[p.name]?.push(a.ms / b.ms)
    }
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'ibg-rss-'))
  const peaks: Record<string, number[]> = Object.fromEntries(all.map((p) => [p.name, []]))
  try {
    for (let i = 0; i < 3; i++) {
      for (const p of all) {
        const file = path.join(dir, `${p.name.replace(/\W+/g, '_')}-${i}`)
        await checked(p, expect(p), file)
        // maxRSS is in KiB.
        peaks[p.name]?.push(Number(await readFile(file, 'utf8')) * 1024)
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  const map = (o: Record<string, number[]>): Record<string, number> =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, median(v)]))
  return { medianMs: map(times), ratio: map(ratios), peakBytes: map(peaks), runs }
}

/** Builds the floor action into `dir`, with the action's bundle options; returns its path. */
export async function buildFloor(dir: string): Promise<string> {
  await build({
    ...BUNDLE_OPTIONS,
    absWorkingDir: ROOT,
    entryPoints: [path.join(ROOT, 'scripts/bench/floor.ts')],
    outfile: path.join(dir, 'floor.js')
  })
  await writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n')
  return path.join(dir, 'floor.js')
}

/** A kubeconfig for a plain-HTTP API server on loopback, with a token. */
function kubeconfig(server: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: bench, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]`,
    'contexts: [{name: bench, context: {cluster: bench, user: bench, namespace: demo}}]',
    'current-context: bench',
    'users: [{name: bench, user: {token: bench-token}}]',
    ''
  ].join('\n')
}

const FORBIDDEN = 'bench: every request is forbidden'

export interface Footprint {
  distBytes: number
  cold: ColdStart
}

/** Measures dist/ as it is (build it first). */
export async function footprint(
  runs = Number(process.env.BENCH_COLD_RUNS ?? 20)
): Promise<Footprint> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ibg-cold-'))
  // Answers every request 403 with a Status body: not retried, so the run ends at its first call.
  const server = createServer((_, res) => {
    res.writeHead(403, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'Forbidden',
        code: 403,
        message: FORBIDDEN
      })
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const { port } = server.address() as AddressInfo
    const config = path.join(dir, 'kubeconfig')
    await writeFile(config, kubeconfig(`http://127.0.0.1:${port}`))
    const floor: Probe = { name: 'floor', script: await buildFloor(dir), env: {} }
    const action = path.join(ROOT, 'dist/index.js')
    const inputError: Probe = {
      name: 'input error',
      script: action,
      env: { INPUT_SERVICE: 'reviews', INPUT_STEPS: 'x' }
    }
    const apiServer: Probe = {
      name: 'API server',
      script: action,
      env: {
        INPUT_SERVICE: 'reviews',
        INPUT_IMAGE: 'example.com/reviews:2.0.0',
        'INPUT_PROMETHEUS-URL': 'http://127.0.0.1:9',
        KUBECONFIG: config,
        RUNNER_TEMP: dir
      }
    }
    const cold = await measure(
      floor,
      [inputError, apiServer],
      {
        floor: 'Input required and not supplied: service',
        'input error': '::error::input "image"',
        'API server': FORBIDDEN
      },
      runs
    )
    return { distBytes: await treeBytes(path.join(ROOT, 'dist')), cold }
  } finally {
    server.close()
    await rm(dir, { recursive: true, force: true })
  }
}

const sec = (ms: number): string => `${(ms / 1000).toFixed(3)} s`
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`
const mark = (ok: boolean): string => (ok ? 'met' : 'MISSED')

/** Markdown rows (measure | figure | goal) for the README's benchmark table. */
export function footprintRows(f: Footprint): string[] {
  const { cold } = f
  const ratio = (name: string): number => cold.ratio[name] ?? Number.NaN
  const ms = (name: string): number => cold.medianMs[name] ?? Number.NaN
  const peak = (name: string): number => cold.peakBytes[name] ?? Number.NaN
  const r = ratio('input error')
  return [
    `| \`dist/\` size, main and post together | ${(f.distBytes / 1e6).toFixed(2)} MB | ≤ ${GOALS.distBytes / 1e6} MB: ${mark(f.distBytes <= GOALS.distBytes)} |`,
    `| cold start of \`dist/index.js\` to the first input error (median of ${cold.runs}) | ${sec(ms('input error'))} | |`,
    `| cold start of the floor action, Node 24 + \`@actions/core\` alone (median) | ${sec(ms('floor'))} | |`,
    `| cold start to the first input error ÷ the floor's (median of ${cold.runs} pairs) | ${r.toFixed(2)}× | ≤ ${GOALS.coldStartRatio}×: ${mark(r <= GOALS.coldStartRatio)} |`,
    `| cold start of \`dist/index.js\` to the Kubernetes API's first answer (median) | ${sec(ms('API server'))} | |`,
    `| cold start to the Kubernetes API's first answer ÷ the floor's | ${ratio('API server').toFixed(2)}× | (not a goal) |`,
    `| peak memory: input error / API server / floor | ${mib(peak('input error'))} / ${mib(peak('API server'))} / ${mib(peak('floor'))} | |`
  ]
}

/** Whether the footprint meets its goals. */
export function footprintMet(f: Footprint): boolean {
  return (
    f.distBytes <= GOALS.distBytes &&
    (f.cold.ratio['input error'] ?? Infinity) <= GOALS.coldStartRatio
  )
}

if (import.meta.main) {
  const f = await footprint()
  console.log('| measure | figure | goal |')
  console.log('|---|---:|---|')
  for (const row of footprintRows(f)) console.log(row)
  if (!footprintMet(f)) process.exitCode = 1
}
