/**
 * `npm run bench`: measures the action on the sandbox with a 1 s scrape interval.
 *  1. reaction time: from the moment a candidate starts failing (20% 5xx) to the moment its weight
 *     is back to 0, and the failed requests it served in between;
 *  2. the action's own overhead for a 4-step rollout beyond the configured bake time;
 *  3. the size of dist/ and the cold start of dist/index.js beside a floor action, with peak
 *     memory (scripts/bench/cold-start.ts).
 * Prints a markdown table (for the README) and the machine it ran on.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import path from 'node:path'
import { startSandbox, type Sandbox } from '../sandbox/index.js'
import { runAction } from '../sandbox/action.js'
import type { KubeObject } from '../sandbox/types.js'
import { footprint, footprintRows } from './bench/cold-start.js'

const REPEAT = Number(process.env.BENCH_REPEAT ?? 3)

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

function greenWeight(vs: KubeObject | undefined): number {
  const http = (vs?.spec?.http ?? []) as Array<{
    route?: Array<{ destination: { subset?: string }; weight?: number }>
  }>
  return http[0]?.route?.find((d) => d.destination.subset === 'green')?.weight ?? 0
}

interface MeshCounts {
  workloads?: Record<string, { requests: number; errors: number }>
}

async function greenErrors(sb: Sandbox): Promise<number> {
  const state = (await (await fetch(`${sb.controlUrl}/state`)).json()) as MeshCounts
  return state.workloads?.['demo/reviews-green']?.errors ?? 0
}

const inputs = (sb: Sandbox, image: string): Record<string, string> => ({
  service: 'reviews',
  namespace: 'demo',
  image,
  'prometheus-url': sb.prometheusUrl ?? '',
  steps: '10,25,50,100',
  'step-duration': '10s',
  'check-interval': '1s',
  'analysis-window': '5s',
  // The sandbox's images answer 0.1% 5xx: a few seconds hold too few to compare colors.
  'negligible-rate': '20%'
})

/** Candidate turns bad while at 25%: time until its weight is 0 again, and 5xx it served. */
async function reaction(): Promise<{ ms: number; failed: number }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ibg-bench-'))
  const sb = await startSandbox({ dir, rps: 100 })
  try {
    const image = 'example.com/reviews:2.0.0-turns-bad'
    let failingSince = 0
    let backAtZero = 0
    let errorsAtStart = 0
    const done = new Promise<void>((resolve) => {
      sb.api.store.onChange((e) => {
        if (e.resource !== 'virtualservices') return
        const w = greenWeight(e.object)
        if (!failingSince && w === 25) {
          failingSince = performance.now()
          void greenErrors(sb).then((n) => (errorsAtStart = n))
          sb.behaviours.set(image, { errorRate: 0.2 })
        } else if (failingSince && !backAtZero && w === 0) {
          backAtZero = performance.now()
          resolve()
        }
      })
    })
    const run = await runAction(inputs(sb, image), { KUBECONFIG: sb.kubeconfigPath })
    await done
    if (run.outputs.result !== 'rolled-back')
      throw new Error(`expected a roll back, got:\n${run.log}`)
    // The simulator counts the candidate's requests as they are served; after weight 0 it gets none.
    const failed = (await greenErrors(sb)) - errorsAtStart
    return { ms: backAtZero - failingSince, failed }
  } finally {
    await sb.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

/** A healthy 4-step rollout: wall time minus the configured bake time. */
async function overhead(): Promise<{ totalMs: number; overheadMs: number }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ibg-bench-'))
  const sb = await startSandbox({ dir, rps: 100 })
  try {
    const started = performance.now()
    const run = await runAction(inputs(sb, 'example.com/reviews:2.0.0'), {
      KUBECONFIG: sb.kubeconfigPath
    })
    const totalMs = performance.now() - started
    if (run.outputs.result !== 'promoted') throw new Error(`expected a promotion, got:\n${run.log}`)
    return { totalMs, overheadMs: totalMs - 4 * 10_000 }
  } finally {
    await sb.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`

const reactions = []
const overheads = []
for (let i = 0; i < REPEAT; i++) {
  reactions.push(await reaction())
  overheads.push(await overhead())
}
const feet = await footprint()
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`
)
console.log(`runs: ${REPEAT} each (median; min–max)\n`)
console.log('| measure | median | min – max |')
console.log('|---|---:|---:|')
const row = (name: string, xs: number[], f: (x: number) => string): void =>
  console.log(`| ${name} | ${f(median(xs))} | ${f(Math.min(...xs))} – ${f(Math.max(...xs))} |`)
row(
  'candidate starts failing → its weight back to 0',
  reactions.map((r) => r.ms),
  s
)
row(
  'failed requests served by the candidate meanwhile (100 rps, 25%)',
  reactions.map((r) => r.failed),
  (x) => `${Math.round(x)}`
)
row(
  '4-step rollout, wall time (4 × 10 s bake)',
  overheads.map((o) => o.totalMs),
  s
)
row(
  'action overhead beyond the bake time',
  overheads.map((o) => o.overheadMs),
  s
)
console.log('\n| measure | figure | goal |')
console.log('|---|---:|---|')
for (const line of footprintRows(feet)) console.log(line)
