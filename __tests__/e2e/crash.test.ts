/**
 * Crash safety: a 4-step rollout killed with SIGKILL at every phase boundary and in the middle of
 * every step (a runner dying), then recovered in each of the ways the action offers: its post
 * step (on-interrupt rollback, or pause then a rollback), a later deploy that finds the rollout
 * (on-interrupt rollback or pause), resume once the dead run's lock expired, or a person's
 * rollback right away (it takes the lock over without waiting for it to expire). After
 * each recovery the cluster must be safe and the record must agree with it. The table of kill
 * point → recovery → outcome is written to .sandbox/fault-report.md (untracked: each run makes a
 * new one) and printed with its path.
 *
 * The cases run four at a time (each with its own sandbox) to keep the suite within a few minutes;
 * KILL_SUITE_LANES changes that.
 */
import { jest } from '@jest/globals'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import * as prettier from 'prettier'
import { ROOT } from '../../sandbox/action.js'
import type { Sandbox } from '../../sandbox/index.js'
import type { FaultRule } from '../../sandbox/types.js'
import type { RolloutRecord } from '../../src/core/record.js'
import {
  type ActionRun,
  control,
  deploymentState,
  expectExit,
  fastInputs,
  formatWeights,
  kubeEnv,
  type LeaseView,
  lockExpiresAt,
  meshFailures,
  readLease,
  runAction,
  sandbox,
  virtualService,
  waitFor,
  versions,
  waitForLockExpiry,
  weightsOf
} from './harness.js'

jest.setTimeout(15 * 60_000)

const IMAGE = 'example.com/reviews:2.0.0'
const NEXT_IMAGE = 'example.com/reviews:3.0.0'
const STEPS = [10, 25, 50, 100]
const LANES = Number(process.env.KILL_SUITE_LANES ?? 4)
const REPORT = path.join(ROOT, '.sandbox', 'fault-report.md')

/** A line matcher that may keep state (e.g. "the first endgroup after the Preflight group"). */
type KillPoint = { name: string; make: () => (line: string) => boolean }

function startsWith(name: string, prefix: string): KillPoint {
  return { name, make: () => (line) => line.startsWith(prefix) }
}

const KILL_POINTS: Record<string, KillPoint> = {
  'preflight done': {
    name: 'preflight done (its ::endgroup::)',
    make: () => {
      let inPreflight = false
      return (line) => {
        if (line.startsWith('::group::Preflight')) inPreflight = true
        return inPreflight && line === '::endgroup::'
      }
    }
  },
  deploy: startsWith('::group::Deploy reviews-green', '::group::Deploy reviews-green'),
  created: startsWith('created Deployment', 'created Deployment reviews-green'),
  routing: startsWith('::group::Prepare routing', '::group::Prepare routing'),
  ...Object.fromEntries(
    STEPS.flatMap((w, i) => [
      [`step ${i + 1}`, startsWith(`::group::Step ${i + 1}/4`, `::group::Step ${i + 1}/4`)],
      [
        `step ${i + 1} mid`,
        startsWith(`check 2 · green ${w}% (step ${i + 1})`, `check 2 · green ${w}% ·`)
      ]
    ])
  ),
  promote: startsWith('::group::Promote', '::group::Promote')
}

/**
 * a: post step, on-interrupt rollback. b: post step, on-interrupt pause, then rollback.
 * c: after expiry, deploy with on-interrupt rollback. d: after expiry, deploy with on-interrupt
 * pause, then resume (d-resume) or rollback (d-rollback). e: after expiry, resume.
 * f: rollback at once, the dead run's lock still live (a person's rollback takes it over).
 */
type Recovery = 'a' | 'b' | 'c' | 'd-resume' | 'd-rollback' | 'e' | 'f'

const RECOVERY_TEXT: Record<Recovery, string> = {
  a: '(a) post, on-interrupt: rollback',
  b: '(b) post, on-interrupt: pause → rollback',
  c: '(c) expiry → deploy, on-interrupt: rollback',
  'd-resume': '(d) expiry → deploy, on-interrupt: pause → resume',
  'd-rollback': '(d) expiry → deploy, on-interrupt: pause → rollback',
  e: '(e) expiry → resume',
  f: '(f) rollback at once (lock still live)'
}

const CASES: Array<[string, Recovery]> = [
  ['preflight done', 'a'],
  ['deploy', 'e'],
  ['deploy', 'd-resume'],
  ['created', 'c'],
  ['routing', 'd-resume'],
  ['step 1', 'b'],
  ['step 1 mid', 'f'],
  ['step 2', 'a'],
  ['step 2 mid', 'e'],
  ['step 3', 'd-rollback'],
  ['step 3 mid', 'c'],
  ['step 4', 'f'],
  ['step 4 mid', 'b'],
  ['promote', 'a'],
  ['promote', 'e']
]

/** Recoveries of the run killed after its weight write landed but before its record said so. */
const WINDOW_CASES: Recovery[] = ['a', 'b', 'e']

interface Row {
  n: number
  kill: string
  recovery: Recovery
  atKill: string
  steps: string[]
  phase: string
  weights: string
  /** Requests the mesh could not route during the case (no subset, no ready endpoint). */
  failed: string
  seconds: number
  verdict: string
}

const rows: Row[] = []

/** At most LANES cases run at once; each waits its turn here, and a finished one hands its slot on. */
let running = 0
const queue: Array<() => void> = []
async function lane<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= LANES) await new Promise<void>((resolve) => queue.push(resolve))
  else running++
  try {
    return await fn()
  } finally {
    const next = queue.shift()
    if (next) next()
    else running--
  }
}

function describeLease(lease: LeaseView | undefined): string {
  const r = lease?.record
  if (!r) return 'no record'
  const step = r.step < 0 ? 'no step yet' : `step ${r.step + 1}/${r.steps.length}`
  return `${r.phase}, ${step}, ${formatWeights(r.weights)}${lease?.holder ? ', locked' : ''}`
}

function inFlight(record: RolloutRecord | undefined): boolean {
  return record?.phase === 'deploying' || record?.phase === 'shifting'
}

/** What one recovery command did, for the table. */
function summarize(label: string, run: ActionRun): string {
  const refused = /::error::(\w+ refused)/.exec(run.log)?.[1]
  return `${label}: exit ${run.code}${run.outputs.result ? `, ${run.outputs.result}` : ''}${refused ? ` (${refused})` : ''}`
}

/**
 * The cluster is safe and the record says so: every selected route's colors share 100%; what
 * takes traffic is ready; every Deployment ever created is still there; the record's weights
 * are the VirtualService's, its phase final or paused and consistent with them; the lock free.
 */
async function expectSafe(
  sb: Sandbox,
  created: Set<string>,
  options: { lockFree: boolean }
): Promise<void> {
  const routes = weightsOf(virtualService(sb))
  expect(routes.length).toBeGreaterThan(0)
  for (const r of routes) expect(r.blue + r.green + r.other).toBe(100)
  expect(routes.every((r) => r.other === 0)).toBe(true)
  const first = routes[0] as { blue: number; green: number }
  // Every route carries the same color split (one write per step covers them all).
  for (const r of routes) expect(formatWeights(r)).toBe(formatWeights(first))
  for (const color of ['blue', 'green'] as const) {
    if (first[color] === 0) continue
    // Traffic on a color: its pods are ready (the status may lag a write by a controller tick).
    const ready = await waitFor(
      `reviews-${color} to be ready`,
      () => {
        const d = deploymentState(sb, `reviews-${color}`)
        return d && d.current && d.replicas > 0 && d.ready === d.replicas ? d : undefined
      },
      10_000
    ).catch(() => deploymentState(sb, `reviews-${color}`))
    expect({ color, ...ready }).toMatchObject({ color, current: true, ready: ready?.replicas })
    expect(ready?.replicas).toBeGreaterThan(0)
  }
  expect(deploymentState(sb, 'reviews-blue')).toBeDefined()
  for (const name of created)
    expect({ name, present: !!deploymentState(sb, name) }).toEqual({
      name,
      present: true
    })

  const lease = readLease(sb)
  const record = lease?.record
  // No request ever went to a subset without a definition or without ready pods.
  expect(meshFailures(sb)).toEqual({})

  if (!record) {
    // Nothing was ever recorded: the cluster must be as seeded.
    expect(formatWeights(first)).toBe('blue=100,green=0')
    expect(lease?.holder).toBeUndefined()
    return
  }
  expect({ phase: record.phase, weights: formatWeights(record.weights) }).toEqual({
    phase: record.phase,
    weights: formatWeights(first)
  })
  expect(['promoted', 'rolled-back', 'paused']).toContain(record.phase)
  const candidate = record.weights[record.candidate.color]
  if (record.phase === 'rolled-back') expect(candidate).toBe(0)
  if (record.phase === 'promoted') expect(candidate).toBe(100)
  if (record.phase === 'paused') {
    expect([0, ...record.steps.slice(0, Math.max(0, record.step) + 1)]).toContain(candidate)
  }
  if (options.lockFree) expect(lease?.holder).toBeUndefined()
  // Whatever happened, the lock is not held by a live run once the commands are done.
  else expect(Date.now()).toBeGreaterThan(lockExpiresAt(lease))
}

afterAll(async () => {
  rows.sort((a, b) => a.n - b.n)
  const lines = [
    '# Crash-safety report',
    '',
    `Generated by \`__tests__/e2e/crash.test.ts\` on ${new Date().toISOString()}: a rollout with`,
    '`steps: 10,25,50,100`, `step-duration: 4s`, `check-interval: 1s`, `lease-duration: 6s`,',
    'killed with SIGKILL when the action printed the line of the kill point, then recovered.',
    '"At kill" is the record (Lease `istio-bluegreen-reviews`) right after the kill; "final" is the',
    'VirtualService\'s weights and the record\'s phase after the recovery. "Unroutable requests" counts',
    'requests the mesh could not route (to a subset without definition or ready pods) during the case;',
    '"invariants" is `hold` when every assertion of the case passed, `FAILED` otherwise (see the test output).',
    '',
    '| # | kill point | recovery | at kill | recovery commands | final phase | final weights | unroutable requests | s | invariants |',
    '|---:|---|---|---|---|---|---|---|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.n} | ${r.kill} | ${RECOVERY_TEXT[r.recovery]} | ${r.atKill} | ${r.steps.join('; ')} | ${r.phase} | ${r.weights} | ${r.failed} | ${r.seconds} | ${r.verdict} |`
    ),
    ''
  ]
  // Prettier aligns the table's columns, so the file reads well as plain text too.
  const text = await prettier.format(lines.join('\n'), {
    ...(await prettier.resolveConfig(REPORT)),
    filepath: REPORT
  })
  // A run filtered with -t would overwrite the whole table with a few rows: print those only.
  if (rows.length === CASES.length + WINDOW_CASES.length) {
    await mkdir(path.dirname(REPORT), { recursive: true })
    await writeFile(REPORT, text)
    console.log(`${text}\nCrash-safety report written to ${REPORT}`)
  } else {
    console.log(`${text}\nA filtered run: ${REPORT} was left as it was`)
  }
})

interface Case {
  n: number
  kill: string
  recovery: Recovery
  /** Staging before the run, e.g. faults that open a window; returns the kill matcher. */
  killWhen: (sb: Sandbox) => (line: string) => boolean
}

/** One case: a fresh sandbox, the killed run, the recovery, the invariants, a row in the table. */
async function killAndRecover(c: Case): Promise<void> {
  const row: Row = {
    n: c.n,
    kill: c.kill,
    recovery: c.recovery,
    atKill: '',
    steps: [],
    phase: '',
    weights: '',
    failed: '',
    seconds: 0,
    verdict: 'FAILED'
  }
  rows.push(row)
  const started = Date.now()
  const sb = await sandbox()
  try {
    // Deployments created at any time, to check none disappears.
    const created = new Set<string>()
    sb.api.store.onChange((e) => {
      if (e.resource === 'deployments' && e.type === 'ADDED') created.add(e.object.metadata.name)
    })
    const inputs = fastInputs(sb, {
      image: IMAGE,
      steps: STEPS.join(','),
      'step-duration': '4s',
      'check-interval': '1s',
      'lease-duration': '6s'
    })
    const env = (runId: string): Record<string, string> => ({
      ...kubeEnv(sb),
      GITHUB_REPOSITORY: 'acme/shop',
      GITHUB_RUN_ID: runId,
      GITHUB_ACTOR: 'octocat'
    })
    const killed = await runAction(inputs, env('100'), { killWhen: c.killWhen(sb) })
    const killedAt = Date.now()
    sb.api.setFaults([])
    expect({ killed: killed.killed, log: killed.killed ? '' : killed.log }).toEqual({
      killed: true,
      log: ''
    })
    const atKill = readLease(sb)
    const vsAtKill = weightsOf(virtualService(sb))[0]
    row.atKill =
      describeLease(atKill) +
      (vsAtKill &&
      atKill?.record &&
      formatWeights(vsAtKill) !== formatWeights(atKill.record.weights)
        ? ` (VirtualService: ${formatWeights(vsAtKill)})`
        : '') +
      (created.has('reviews-green') ? '' : ', reviews-green not created')
    const wasInFlight = inFlight(atKill?.record)
    const wasPromoted = atKill?.record?.phase === 'promoted'
    const step = async (
      label: string,
      run: Promise<ActionRun>,
      expected?: 'success' | 'failure'
    ): Promise<ActionRun> => {
      const done = await run
      row.steps.push(summarize(label, done))
      if (expected) expectExit(done, expected)
      return done
    }
    const command = (name: string, runId: string, extra: Record<string, string> = {}) =>
      runAction({ ...inputs, command: name, ...extra }, env(runId))
    let lockFree = true

    switch (c.recovery) {
      case 'a':
      case 'b': {
        // GitHub runs the post step right after the main step died, with the same inputs.
        const post = await step(
          'post',
          runAction(
            { ...inputs, 'on-interrupt': c.recovery === 'a' ? 'rollback' : 'pause' },
            env('100'),
            { entry: 'post', state: killed.state }
          ),
          'success'
        )
        if (wasInFlight) {
          expect(post.log).toContain('the main step did not finish while the rollout was')
          expect(readLease(sb)?.record?.phase).toBe(c.recovery === 'a' ? 'rolled-back' : 'paused')
        }
        if (c.recovery === 'b') {
          await expectSafe(sb, created, { lockFree: true })
          const rb = await step(
            'rollback',
            command('rollback', '101'),
            wasInFlight || wasPromoted ? 'success' : 'failure'
          )
          if (wasInFlight || wasPromoted) expect(rb.outputs.result).toBe('rolled-back')
        }
        break
      }
      case 'c': {
        await waitForLockExpiry(sb)
        const next = await step(
          'deploy',
          command('deploy', '101', { image: NEXT_IMAGE, 'on-interrupt': 'rollback' }),
          'success'
        )
        expect(next.outputs.result).toBe('promoted')
        if (wasInFlight) {
          expect(next.log).toContain('found a rollout whose run stopped renewing its lock')
          expect(next.log).toContain('interrupted rollout rolled back before a new release')
        }
        const stable = next.outputs['stable-color'] as string
        expect(deploymentState(sb, `reviews-${stable}`)?.image).toBe(NEXT_IMAGE)
        break
      }
      case 'd-resume':
      case 'd-rollback': {
        await waitForLockExpiry(sb)
        const next = await step(
          'deploy',
          command('deploy', '101', { image: NEXT_IMAGE, 'on-interrupt': 'pause' }),
          wasInFlight ? 'failure' : 'success'
        )
        if (!wasInFlight) break
        expect(next.log).toContain('(on-interrupt: pause); promote or roll it back')
        expect(readLease(sb)?.record).toMatchObject({
          phase: 'paused',
          candidate: { image: IMAGE }
        })
        await expectSafe(sb, created, { lockFree: true })
        if (c.recovery === 'd-resume') {
          const resumed = await step('resume', command('resume', '102'), 'success')
          expect(resumed.outputs.result).toBe('promoted')
        } else {
          const rb = await step('rollback', command('rollback', '102'), 'success')
          expect(rb.outputs.result).toBe('rolled-back')
        }
        break
      }
      case 'e': {
        // While the dead run's lock still counts, resume refuses, naming it, saying when it
        // expires and that wait-for-lock waits (tried only when the lock has clearly not
        // expired yet: the command needs about a second to start).
        if (wasInFlight && Date.now() < lockExpiresAt(readLease(sb)) - 3000) {
          const early = await step('resume before expiry', command('resume', '101'), 'failure')
          expect(early.log).toContain(
            '::error::resume refused: acme/shop#100.1 (https://github.com/acme/shop/actions/runs/100) is running a rollout of this service right now (it last renewed the lock at '
          )
          expect(early.log).toMatch(/if that run died, the lock expires at [\dT:.Z-]+\); wait/)
          expect(early.log).toContain('wait-for-lock')
        }
        await waitForLockExpiry(sb)
        const done = await step(
          'resume',
          command('resume', '102'),
          wasInFlight ? 'success' : 'failure'
        )
        if (wasInFlight) {
          expect(done.outputs.result).toBe('promoted')
          expect(done.log).toContain('resuming a rollout interrupted')
        } else lockFree = false
        break
      }
      case 'f': {
        // A person's rollback right after the kill: no waiting for the dead run's lock to expire.
        const ok = wasInFlight || wasPromoted
        const live = Date.now() < lockExpiresAt(readLease(sb))
        const done = await step(
          'rollback at once',
          command('rollback', '102'),
          ok ? 'success' : 'failure'
        )
        if (ok) {
          expect(done.outputs.result).toBe('rolled-back')
          const seconds = (Date.now() - killedAt) / 1000
          row.steps.push(`stable at 100% ${seconds.toFixed(1)} s after the kill`)
          if (live) {
            expect(done.log).toContain('took over the rollout lock from acme/shop#100.1')
            // Well within the 6 s lease: it did not wait for the lock to expire.
            expect(seconds).toBeLessThan(6)
          }
        } else lockFree = false
        break
      }
    }

    await expectSafe(sb, created, { lockFree })
    row.verdict = 'hold'
  } finally {
    const final = weightsOf(virtualService(sb))[0]
    row.phase = readLease(sb)?.record?.phase ?? 'no record'
    row.weights = final ? formatWeights(final) : '?'
    row.failed =
      Object.entries(meshFailures(sb))
        .map(([flag, n]) => `${n} ${flag}`)
        .join(', ') || '0'
    row.seconds = Math.round((Date.now() - started) / 1000)
    await sb.stop()
  }
}

/**
 * The narrowest window: the weight write of step 2 reached the API server, then the runner died
 * before the record said so. To stage it, every later write of the run is dropped from the moment
 * 75% / 25% lands; the run is killed when it notices (its record update failed), before its own
 * rollback could write anything. The record then says 90/10 at step 2, the VirtualService 75/25.
 */
const WINDOW = 'step 2 weights written, record not'

function killInTheWindow(sb: Sandbox): (line: string) => boolean {
  let armed = true
  sb.api.store.onChange((e) => {
    if (!armed || e.resource !== 'virtualservices') return
    if (formatWeights(weightsOf(e.object)[0] ?? { blue: 0, green: 0 }) !== 'blue=75,green=25')
      return
    armed = false
    sb.api.setFaults([
      { dropRate: 1, verbs: ['update', 'patch'], resources: ['leases', 'virtualservices'] }
    ])
  })
  return (line) => line.includes('::warning::the rollout stopped on an error')
}

/** A change of the Lease or of the VirtualService, in the order the store made them. */
type Event =
  | { kind: 'lease'; holder?: string; recordId?: string; at: number }
  | { kind: 'vs'; weights: string; fence?: string; at: number }

const FENCE = 'istio-bluegreen.io/taken-over-by'
const PERSON = 'acme/shop#201.1'
const PERSON_URL = 'https://github.com/acme/shop/actions/runs/201'

function recordEvents(sb: Sandbox): Event[] {
  const events: Event[] = []
  sb.api.store.onChange((e) => {
    if (e.resource === 'leases') {
      const spec = (e.object.spec ?? {}) as { holderIdentity?: string | null }
      const raw = e.object.metadata.annotations?.['istio-bluegreen.io/record']
      events.push({
        kind: 'lease',
        holder: spec.holderIdentity ?? undefined,
        recordId: raw ? (JSON.parse(raw) as RolloutRecord).id : undefined,
        at: Date.now()
      })
    }
    if (e.resource === 'virtualservices' && e.object.metadata.name === 'reviews') {
      const first = weightsOf(e.object)[0]
      events.push({
        kind: 'vs',
        weights: first ? formatWeights(first) : '',
        fence: e.object.metadata.annotations?.[FENCE],
        at: Date.now()
      })
    }
  })
  return events
}

interface OverrideCase {
  command: 'abort' | 'rollback'
  /** When to give the command: a log line of the live run. */
  when: (line: string) => boolean
  /** Faults injected from that moment until the command is done. */
  faults: FaultRule[]
  /** Faults from before the live run starts until the command is done. */
  faultsFromStart?: FaultRule[]
}

/**
 * A live deploy (run 200, default 60 s lease), then a person's abort or rollback (run 201): the
 * stable color is back at 100% within seconds, the live run exits non-zero naming the run that
 * took over, no VirtualService write follows the person's, every Lease write after the takeover
 * carries the person's record, and the live run's post step does nothing.
 */
async function overrideLive(c: OverrideCase): Promise<void> {
  const sb = await sandbox()
  try {
    const events = recordEvents(sb)
    const inputs = fastInputs(sb, {
      image: IMAGE,
      steps: STEPS.join(','),
      'step-duration': '6s',
      'check-interval': '1s'
    })
    const env = (runId: string, actor: string): Record<string, string> => ({
      ...kubeEnv(sb),
      GITHUB_REPOSITORY: 'acme/shop',
      GITHUB_RUN_ID: runId,
      GITHUB_ACTOR: actor
    })
    if (c.faultsFromStart) await control(sb, '/faults', { rules: c.faultsFromStart })
    let cue: () => void = () => undefined
    const cued = new Promise<void>((resolve) => (cue = resolve))
    const live = runAction(inputs, env('200', 'release-bot'), {
      onLine: (line) => {
        if (c.when(line)) cue()
      }
    })
    await Promise.race([cued, live.then(() => undefined)])
    if (c.faults.length > 0) await control(sb, '/faults', { rules: c.faults })
    const started = Date.now()
    const person = await runAction({ ...inputs, command: c.command }, env('201', 'octocat'))
    await control(sb, '/faults', { rules: [] })
    const old = await live

    expectExit(person, 'success')
    expect(person.outputs).toMatchObject({ result: 'rolled-back', weights: 'blue=100,green=0' })
    const takeover = events.findIndex((e) => e.kind === 'lease' && e.holder === PERSON)
    expect(takeover).toBeGreaterThanOrEqual(0)
    const personWrite = events.findIndex((e) => e.kind === 'vs' && e.fence === PERSON)
    expect(personWrite).toBeGreaterThan(takeover)
    const stableAt = events[personWrite] as Event
    expect((stableAt as { weights: string }).weights).toBe('blue=100,green=0')
    const seconds = (stableAt.at - started) / 1000
    // The person's own weight write waits out the latency fault too, when there is one.
    expect(seconds).toBeLessThan(10)

    // The old run: stopped with an error naming the run that took over, wrote no weights after.
    expectExit(old, 'failure')
    expect(old.log).toContain(
      `::error::the rollout was taken over by \`${c.command}\` by @octocat (${PERSON_URL}) at `
    )
    expect(old.log).not.toContain('::group::Roll back')
    // Nothing follows the person's weight write; between the takeover and it, at most the one
    // weight write the old run had in flight (confirmed before the takeover, planned on the
    // version before the person's write, which therefore had to wait for it and come after).
    const vsAfter = events.slice(takeover + 1).filter((e) => e.kind === 'vs')
    console.log(
      `${c.command} of a live run${c.faults.length || c.faultsFromStart ? ' under faults' : ''}: lock taken over ${((events[takeover] as Event).at - started) / 1000} s and stable at 100% ${seconds.toFixed(2)} s after the command started; ${vsAfter.length - 1} weight write(s) the old run had in flight landed between the two`
    )
    expect(vsAfter.slice(-1)).toEqual([stableAt])
    expect(vsAfter.length).toBeLessThanOrEqual(2)
    // No blind overwrite, no lost record: every Lease write from the takeover on is the person's.
    const leaseAfter = events.slice(takeover).filter((e) => e.kind === 'lease')
    expect(leaseAfter.every((e) => e.kind === 'lease' && e.recordId === PERSON)).toBe(true)

    const lease = readLease(sb)
    expect(lease?.holder).toBeUndefined()
    expect(lease?.record).toMatchObject({
      id: PERSON,
      phase: 'rolled-back',
      owner: { actor: 'release-bot' },
      weights: { blue: 100, green: 0 },
      stoppedBy: { command: c.command, actor: 'octocat', runUrl: PERSON_URL }
    })
    expect(formatWeights(weightsOf(virtualService(sb))[0] ?? { blue: 0, green: 0 })).toBe(
      'blue=100,green=0'
    )
    expect(deploymentState(sb, 'reviews-green')?.replicas).toBe(0)
    expect(meshFailures(sb)).toEqual({})

    // Its post step does nothing, even as if its main step had been killed after the takeover.
    // What a run writes (the controller keeps moving the drained candidate's pods and status).
    const written = (): unknown => ({
      objects: Object.entries(versions(sb)).filter(([k]) =>
        /^(leases|virtualservices|destinationrules)\//.test(k)
      ),
      replicas: ['reviews-blue', 'reviews-green'].map((n) => deploymentState(sb, n)?.replicas)
    })
    const before = written()
    const post = await runAction(inputs, env('200', 'release-bot'), {
      entry: 'post',
      state: { 'run-id': old.state['run-id'] as string }
    })
    expectExit(post, 'success')
    expect(post.log).toContain(
      `the rollout is ${PERSON}'s now (${PERSON_URL}): nothing to clean up`
    )
    expect(written()).toEqual(before)
  } finally {
    await sb.stop()
  }
}

/**
 * Every case in one block, so that Jest starts them together and the lanes stay full (it runs
 * the concurrent cases of one describe block at once, and the blocks one after the other).
 */
describe('crash safety', () => {
  // SIGKILL at every phase boundary and mid-step, then recovery.
  it.concurrent.each(CASES.map(([kill, recovery], i) => [i + 1, kill, recovery] as const))(
    '#%i killed at %s, recovered by %s',
    (n, kill, recovery) => {
      const point = KILL_POINTS[kill] as KillPoint
      return lane(() =>
        killAndRecover({ n, kill: point.name, recovery, killWhen: () => point.make() })
      )
    }
  )

  // Killed after a weight write landed, before the record was saved.
  it.concurrent.each(WINDOW_CASES.map((recovery, i) => [CASES.length + i + 1, recovery] as const))(
    '#%i killed after a weight write landed, before the record was saved, recovered by %s',
    (n, recovery) =>
      lane(() => killAndRecover({ n, kill: WINDOW, recovery, killWhen: killInTheWindow }))
  )

  // A person's abort or rollback wins at once over a live run, end to end with the live run's
  // post step, over HTTP with real timing. The same moments also run in-process, where their
  // interleavings are deterministic and asserted write by write
  // (__tests__/inprocess/takeover.test.ts).
  it.concurrent.each<[string, OverrideCase]>([
    [
      "a person's abort while a live run bakes step 2 wins at once",
      { command: 'abort', when: (line) => line.startsWith('check 2 · green 25% ·'), faults: [] }
    ],
    [
      "a person's abort while the live run's step 3 weight write is in flight (3 s latency on VirtualService patches) wins at once",
      {
        command: 'abort',
        when: (line) => line.startsWith('::group::Step 3/4'),
        faults: [],
        faultsFromStart: [{ latencyMs: 3000, verbs: ['patch'], resources: ['virtualservices'] }]
      }
    ],
    [
      "a person's rollback under 409 storms and 5xx on the Lease, the VirtualService and Deployments wins at once",
      {
        command: 'rollback',
        when: (line) => line.startsWith('check 2 · green 25% ·'),
        faults: [
          {
            conflictRate: 0.5,
            verbs: ['update', 'patch'],
            resources: ['leases', 'virtualservices']
          },
          { errorRate: 0.2, resources: ['leases', 'virtualservices', 'deployments'] }
        ]
      }
    ]
  ])('%s', (_name, c) => lane(() => overrideLive(c)))
})
