/**
 * `npm run bench`: measures the built action on the sandbox (1 s scrape interval, 100 requests/s,
 * check-interval 1s, analysis-window 5s, 4 steps of 10 s), each figure beside its goal:
 *  1. reaction: from the moment a candidate starts failing (20% 5xx at 25%) to the moment its
 *     weight is back to 0, and the failed requests it served in between (goal: at most 2 s);
 *  2. the action's own overhead in a healthy 4-step rollout: its wall time less the bake time and
 *     the candidate's pods' own startup, which the sandbox's Deployment controller times (from the
 *     Deployment's creation to its status saying every replica is available) (goal: at most 1 s);
 *  3. the API requests of each rollout by kind of object, from the sandbox's audit, and the
 *     writes around each weight write and while the steps bake, from the store's changes timed
 *     against the action's log (goals: at most 3 writes per step, the record's two included; at
 *     most one record write per check interval while baking);
 *  4. the size of dist/ and the cold start of dist/index.js beside a floor action, with peak
 *     memory (scripts/bench/cold-start.ts).
 * Prints markdown tables (for the README), the machine and its load, and exits non-zero when a
 * goal is missed.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import path from 'node:path'
import { startSandbox, type Sandbox } from '../sandbox/index.js'
import { runAction } from '../sandbox/action.js'
import type { KubeObject } from '../sandbox/types.js'
import { footprint, footprintMet, footprintRows } from './bench/cold-start.js'

const REPEAT = Number(process.env.BENCH_REPEAT ?? 3)
const STEPS = [10, 25, 50, 100]
const STEP_MS = 10_000
const CHECK_MS = 1000

const GOALS = {
  reactionMs: 2000,
  overheadMs: 1000,
  writesPerStep: 3,
  recordWritesPerCheck: 1
} as const

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
  steps: STEPS.join(','),
  'step-duration': `${STEP_MS / 1000}s`,
  'check-interval': `${CHECK_MS / 1000}s`,
  'analysis-window': '5s',
  // The sandbox's images answer 0.1% 5xx: a few seconds hold too few to compare colors.
  'negligible-rate': '20%'
})

/** Requests by kind of object: reads (get, list, watch) and writes (create, update, patch). */
type Requests = Record<string, { reads: number; writes: number }>

const KINDS: Record<string, string> = {
  selfsubjectaccessreviews: 'SelfSubjectAccessReview (preflight)',
  services: 'Service',
  pods: 'Pods',
  deployments: 'Deployment',
  destinationrules: 'DestinationRule',
  virtualservices: 'VirtualService',
  leases: 'Lease (lock and record)'
}

function requests(sb: Sandbox): Requests {
  const out: Requests = {}
  for (const e of sb.api.audit()) {
    const kind = KINDS[e.resource] ?? e.resource
    const r = (out[kind] ??= { reads: 0, writes: 0 })
    if (['get', 'list', 'watch'].includes(e.verb)) r.reads++
    else r.writes++
  }
  return out
}

/** One run of the action, timed: its log lines and the store's changes, on one clock. */
interface Timeline {
  lines: Array<{ at: number; line: string }>
  /** Writes the action made (Lease, VirtualService, DestinationRule, Deployment spec). */
  writes: Array<{ at: number; resource: string }>
  /** When the candidate's Deployment was created, and when its status first said available. */
  podsFrom?: number
  podsReady?: number
}

function watchRun(sb: Sandbox): Timeline {
  const t: Timeline = { lines: [], writes: [] }
  const generations = new Map<string, number>()
  sb.api.store.onChange((e) => {
    const at = performance.now()
    const o = e.object
    if (e.resource === 'leases' || e.resource === 'virtualservices') {
      t.writes.push({ at, resource: e.resource })
    }
    if (e.resource !== 'deployments' || o.metadata.name !== 'reviews-green') return
    // A spec write bumps the generation; the controller's status writes do not.
    const generation = o.metadata.generation ?? 0
    if (generation !== generations.get(o.metadata.name))
      t.writes.push({ at, resource: 'deployments' })
    generations.set(o.metadata.name, generation)
    if (e.type === 'ADDED') t.podsFrom ??= at
    const status = (o.status ?? {}) as {
      availableReplicas?: number
      updatedReplicas?: number
      observedGeneration?: number
    }
    const replicas = ((o.spec ?? {}) as { replicas?: number }).replicas ?? 1
    const available =
      replicas > 0 &&
      (status.observedGeneration ?? 0) >= generation &&
      (status.updatedReplicas ?? 0) >= replicas &&
      (status.availableReplicas ?? 0) >= replicas
    if (available && t.podsFrom !== undefined) t.podsReady ??= at
  })
  return t
}

/** Writes per step (up to its weights line) and record writes while each step bakes. */
function stepWrites(t: Timeline): { perStep: number[]; bakeRecords: number[] } {
  const perStep: number[] = []
  const bakeRecords: number[] = []
  const at = (test: (line: string) => boolean, after = 0): number =>
    t.lines.find((l) => l.at >= after && test(l.line))?.at ?? Infinity
  for (let i = 0; i < STEPS.length; i++) {
    const start = at((l) => l.startsWith(`::group::Step ${i + 1}/${STEPS.length}`))
    const weights = at((l) => l.startsWith('weights '), start)
    const end = at((l) => l === '::endgroup::', weights)
    if (!Number.isFinite(end)) break
    perStep.push(t.writes.filter((w) => w.at >= start && w.at <= weights).length)
    bakeRecords.push(
      t.writes.filter((w) => w.resource === 'leases' && w.at > weights && w.at <= end).length
    )
  }
  return { perStep, bakeRecords }
}

interface Reaction {
  ms: number
  failed: number
  requests: Requests
}

/** Candidate turns bad while at 25%: time until its weight is 0 again, and 5xx it served. */
async function reaction(): Promise<Reaction> {
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
    return { ms: backAtZero - failingSince, failed, requests: requests(sb) }
  } finally {
    await sb.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * Where the overhead goes, from the action's log lines (ms): each phase's time, less the pods'
 * startup in the deploy and the bake time in the steps; they add up to the overhead.
 */
function phases(
  t: Timeline,
  totalMs: number,
  started: number,
  podsMs: number
): Record<string, number> {
  const lines = t.lines
  const at = (test: (line: string) => boolean, after = 0): number => {
    const found = lines.find((l) => l.at >= after && test(l.line))
    if (!found) throw new Error('a phase of the rollout is missing from its log')
    return found.at
  }
  const group = (name: string, after = 0): [number, number] => {
    const start = at((l) => l.startsWith(`::group::${name}`), after)
    return [start, at((l) => l === '::endgroup::', start)]
  }
  const first = lines[0]?.at ?? started
  const [preflight, preflightEnd] = group('Preflight')
  const [deploy, deployEnd] = group('Deploy ', preflightEnd)
  const [routing, routingEnd] = group('Prepare routing', deployEnd)
  let gaps = routing - deployEnd
  let writes = 0
  let bake = 0
  let last = routingEnd
  for (let i = 0; i < STEPS.length; i++) {
    const [start, end] = group(`Step ${i + 1}/`, last)
    const weights = at((l) => l.startsWith('weights '), start)
    gaps += start - last
    writes += weights - start
    bake += end - weights - STEP_MS
    last = end
  }
  const [promote, promoteEnd] = group('Promote', last)
  gaps += promote - last
  return {
    'process start to its first line (Node, the bundle, the inputs)': first - started,
    'first line to preflight (the clients, the lock read)': preflight - first,
    preflight: preflightEnd - preflight,
    'lock and record taken, up to the candidate written': deploy - preflightEnd,
    "deploy less the pods' startup (readiness noticed, pods listed)": deployEnd - deploy - podsMs,
    'prepare routing (subsets)': routingEnd - routing,
    'the 4 steps up to their weights (drift read, record, patch, record)': writes,
    'the 4 bakes beyond their 10 s (the last check, at the deadline, and the look)': bake,
    'promote (record written and lock released in one write)': promoteEnd - promote,
    'between the groups': gaps,
    'promotion to exit (outputs, report, summary)': started + totalMs - promoteEnd
  }
}

interface Overhead {
  totalMs: number
  podsMs: number
  overheadMs: number
  perStep: number[]
  bakeRecords: number[]
  requests: Requests
  phases: Record<string, number>
}

/** A healthy 4-step rollout: wall time less the bake time and the pods' own startup. */
async function overhead(): Promise<Overhead> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ibg-bench-'))
  const sb = await startSandbox({ dir, rps: 100 })
  try {
    const t = watchRun(sb)
    const started = performance.now()
    const run = await runAction(
      inputs(sb, 'example.com/reviews:2.0.0'),
      { KUBECONFIG: sb.kubeconfigPath },
      { onLine: (line) => t.lines.push({ at: performance.now(), line }) }
    )
    const totalMs = performance.now() - started
    if (run.outputs.result !== 'promoted') throw new Error(`expected a promotion, got:\n${run.log}`)
    if (t.podsFrom === undefined || t.podsReady === undefined) {
      throw new Error('the sandbox never showed the candidate Deployment available')
    }
    const podsMs = t.podsReady - t.podsFrom
    const { perStep, bakeRecords } = stepWrites(t)
    if (perStep.length !== STEPS.length) throw new Error(`steps not found in the log:\n${run.log}`)
    return {
      totalMs,
      podsMs,
      overheadMs: totalMs - STEPS.length * STEP_MS - podsMs,
      perStep,
      bakeRecords,
      requests: requests(sb),
      phases: phases(t, totalMs, started, podsMs)
    }
  } finally {
    await sb.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
const mark = (ok: boolean): string => (ok ? 'met' : 'MISSED')
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(', ')

const loadBefore = load()
const reactions: Reaction[] = []
const overheads: Overhead[] = []
for (let i = 0; i < REPEAT; i++) {
  reactions.push(await reaction())
  overheads.push(await overhead())
}
const feet = await footprint()
const missed: string[] = []

console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; load average (1, 5, 15 min) ${loadBefore} at the start, ${load()} at the end`
)
console.log(`runs: ${REPEAT} each (median; min–max)\n`)
console.log('| measure | median | min – max | goal |')
console.log('|---|---:|---:|---|')
const row = (
  name: string,
  xs: number[],
  f: (x: number) => string,
  goal?: { text: string; met: (x: number) => boolean }
): void => {
  const m = median(xs)
  const ok = goal ? goal.met(m) && xs.every(goal.met) : true
  if (!ok) missed.push(`${name}: ${f(m)} (${f(Math.min(...xs))} – ${f(Math.max(...xs))})`)
  console.log(
    `| ${name} | ${f(m)} | ${f(Math.min(...xs))} – ${f(Math.max(...xs))} | ${goal ? `${goal.text}: ${mark(ok)}` : ''} |`
  )
}
row(
  'candidate starts failing (20% 5xx at 25% weight) → its weight back to 0',
  reactions.map((r) => r.ms),
  s,
  { text: `≤ ${GOALS.reactionMs / 1000} s`, met: (x) => x <= GOALS.reactionMs }
)
row(
  'failed requests the candidate served meanwhile',
  reactions.map((r) => r.failed),
  (x) => `${Math.round(x)}`
)
row(
  `4-step rollout, wall time (4 × ${STEP_MS / 1000} s bake)`,
  overheads.map((o) => o.totalMs),
  s
)
row(
  "the candidate's pods' own startup (the sandbox's Deployment controller)",
  overheads.map((o) => o.podsMs),
  s
)
row(
  "the action's overhead beyond the bake time and the pods' startup",
  overheads.map((o) => o.overheadMs),
  s,
  { text: `≤ ${GOALS.overheadMs / 1000} s`, met: (x) => x <= GOALS.overheadMs }
)
row(
  'writes per step up to its weights, record writes included (most of the 4 steps)',
  overheads.map((o) => Math.max(...o.perStep)),
  (x) => `${x}`,
  { text: `≤ ${GOALS.writesPerStep}`, met: (x) => x <= GOALS.writesPerStep }
)
const intervals = (STEPS.length * STEP_MS) / CHECK_MS
row(
  `record writes while the steps bake, per check interval (of ${intervals}; heartbeats included)`,
  overheads.map((o) => o.bakeRecords.reduce((a, b) => a + b, 0) / intervals),
  (x) => x.toFixed(2),
  {
    text: `≤ ${GOALS.recordWritesPerCheck}`,
    met: (x) => x <= GOALS.recordWritesPerCheck
  }
)

console.log("\nWhere the overhead goes (the action's log, timed as it prints; medians, ms):\n")
console.log('| phase | ms |')
console.log('|---|---:|')
for (const name of Object.keys(overheads[0]?.phases ?? {})) {
  console.log(`| ${name} | ${Math.round(median(overheads.map((o) => o.phases[name] ?? 0)))} |`)
}

// Requests per rollout by kind of object: medians over the runs, promoted / rolled back.
const kinds = [
  ...new Set([...overheads, ...reactions].flatMap((r) => Object.keys(r.requests)))
].sort((a, b) => Object.values(KINDS).indexOf(a) - Object.values(KINDS).indexOf(b))
const per = (runs: Array<{ requests: Requests }>, kind: string, key: 'reads' | 'writes'): number =>
  median(runs.map((r) => r.requests[kind]?.[key] ?? 0))
const total = (runs: Array<{ requests: Requests }>, key: 'reads' | 'writes'): number =>
  median(runs.map((r) => Object.values(r.requests).reduce((a, x) => a + x[key], 0)))
console.log('\nAPI requests of one rollout (the sandbox audit; medians; promoted / rolled back):\n')
console.log('| object | reads (get, list, watch) | writes (create, update, patch) |')
console.log('|---|---:|---:|')
for (const kind of kinds) {
  console.log(
    `| ${kind} | ${per(overheads, kind, 'reads')} / ${per(reactions, kind, 'reads')} | ${per(overheads, kind, 'writes')} / ${per(reactions, kind, 'writes')} |`
  )
}
console.log(
  `| **all** | **${total(overheads, 'reads')} / ${total(reactions, 'reads')}** | **${total(overheads, 'writes')} / ${total(reactions, 'writes')}** |`
)

console.log('\n| measure | figure | goal |')
console.log('|---|---:|---|')
for (const line of footprintRows(feet)) console.log(line)
if (!footprintMet(feet)) missed.push('dist size or cold start (see above)')

if (missed.length > 0) {
  console.log(`\nGoals missed:\n- ${missed.join('\n- ')}`)
  process.exitCode = 1
}
