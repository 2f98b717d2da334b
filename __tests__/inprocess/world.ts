/**
 * One in-process world: the sandbox's cluster (object store, request pipeline, deployment
 * controller), its mesh simulator and a Prometheus over it, all on one virtual clock, seeded as
 * the end-to-end sandbox is (sandbox/seed.ts). `start` runs a command as the action's main step
 * does (settings from the same input map, owner from the same GITHUB_* variables, runCommand, then
 * the step's outputs, summary and failure from stepReport), with MemoryKube, the real LeaseStore
 * and Prometheus adapter on virtual time, a recording Log and a recording Notifier. Several
 * commands may run at once in one world (a live deploy and a person's abort); time moves only
 * from timer to timer, so every run is deterministic.
 */
import { readSettings, type Settings } from '../../src/inputs.js'
import type { KubeApi } from '../../src/ports.js'
import type { Clock } from '../../src/log.js'
import { type CommandResult, type Notifier, runCommand } from '../../src/commands.js'
import { LockLostError, LeaseStore } from '../../src/adapters/lease.js'
import { Prometheus, PrometheusMetrics } from '../../src/adapters/prometheus.js'
import { ownerFromEnv, type StepReport, stepReport } from '../../src/step.js'
import type { RolloutEnd } from '../../src/rollout.js'
import type { RolloutRecord } from '../../src/core/record.js'
import { SandboxApi } from '../../sandbox/apiserver/api.js'
import { startDeploymentController } from '../../sandbox/apiserver/controller.js'
import { MemoryStore } from '../../sandbox/apiserver/store.js'
import { isReady } from '../../sandbox/mesh/routing.js'
import {
  MeshSimulator,
  type NoiseMode,
  type ProbeRequest,
  type ProbeResult
} from '../../sandbox/mesh/simulator.js'
import {
  seed,
  SEED_NAMESPACE,
  SEED_REPLICAS,
  SEED_SERVICE,
  type SeedOptions
} from '../../sandbox/seed.js'
import { BehaviourRegistry, type ImageBehaviour } from '../../sandbox/types.js'
import { Random } from '../../sandbox/mesh/random.js'
import { RecordingLog } from '../fakes/clock.js'
import { MemoryKube } from './memory-kube.js'
import { InProcessPrometheus } from './mesh-prometheus.js'
import { VirtualTime } from './virtual-time.js'

/** The prometheus-url in-process runs are given; every URL reaches the in-process Prometheus. */
export const PROMETHEUS_URL = 'http://prometheus.monitoring:9090'

export interface WorldOptions {
  /** How the seed routes `reviews` and its data plane (default: VirtualService, sidecars). */
  seed?: SeedOptions | false
  /** Requests per second per flow once the seed serves (default 50, as the e2e sandbox). */
  rps?: number
  noise?: NoiseMode
  /** Seed of the noisy traffic and of every other draw (Math.random included); default 1. */
  randomSeed?: number
  /** The deployment controller's reaction time (default 300 ms, as the e2e sandbox). */
  controllerDelayMs?: number
  /** Share of a pod's grace period it stays Terminating (default 1: real time, 30 s). */
  terminationGraceScale?: number
  /** Traffic served before the world is handed over, so Prometheus has a history (default 2m). */
  warmupMs?: number
}

/** What a Notifier was told, one line per call. */
export class RecordingNotifier implements Notifier {
  readonly calls: string[] = []
  async started(record: RolloutRecord): Promise<RolloutRecord> {
    this.calls.push(`started ${record.phase} ${record.candidate.color}`)
    return record
  }
  async finished(outcome: RolloutEnd): Promise<void> {
    this.calls.push(`finished ${outcome.result}`)
  }
  async failed(message: string): Promise<void> {
    this.calls.push(`failed ${message}`)
  }
}

/** A RecordingLog that tells its listeners of every line it keeps, as it keeps it. */
class RunLog extends RecordingLog {
  readonly listeners: Array<(line: string) => void> = []
  private told(): void {
    const line = this.lines.at(-1) as string
    for (const listener of this.listeners) listener(line)
  }
  override info(message: string): void {
    super.info(message)
    this.told()
  }
  override warning(message: string): void {
    super.warning(message)
    this.told()
  }
  override group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.lines.push(`group: ${name}`)
    this.told()
    return fn()
  }
}

/**
 * What a run does I/O through, with its power switch: once killed, a call or sleep in flight
 * never returns and no new one starts, as for a runner killed with SIGKILL (a write that reached
 * the API server stays written; nothing after it happens).
 */
class RunProcess {
  killed = false
  private readonly hang = <T>(): Promise<T> => new Promise<T>(() => undefined)

  /** `fn`, unless the process is dead by the time it is called or by the time it returns. */
  guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.killed) return this.hang()
    return fn().then(
      (value) => (this.killed ? this.hang<T>() : value),
      (error: unknown) => (this.killed ? this.hang<T>() : Promise.reject(error))
    )
  }

  kube(inner: KubeApi): KubeApi {
    return {
      get: (...a) => this.guard(() => inner.get(...a)),
      list: (...a) => this.guard(() => inner.list(...a)),
      create: (...a) => this.guard(() => inner.create(...a)),
      replace: (...a) => this.guard(() => inner.replace(...a)),
      patch: (...a) => this.guard(() => inner.patch(...a)),
      nextChange: (...a) => this.guard(() => inner.nextChange(...a)),
      canI: (...a) => this.guard(() => inner.canI(...a)),
      servedVersions: (...a) => this.guard(() => inner.servedVersions(...a))
    }
  }

  clock(time: VirtualTime): Clock {
    return {
      now: () => time.now(),
      sleep: (ms: number, signal?: AbortSignal) => this.guard(() => time.sleep(ms, signal))
    }
  }
}

/** How a command ended, as the runner would show it. */
export interface RunResult {
  /** The step's exit: success, or failure with `failure` as its ::error:: message. */
  ok: boolean
  failure?: string
  outputs: Record<string, string>
  summary: string
  /** The JSON report file's content, when the step writes one. */
  report?: unknown
  /** Every log line: `info: …`, `warning: …`, `group: …`. */
  lines: string[]
  /** The lines joined, for `toContain`. */
  log: string
  result?: CommandResult
  error?: unknown
  runId: string
  notifier: string[]
  /** Killed (`Run.kill`) before it ended: nothing else here is its doing. */
  killed: boolean
  /** Virtual ms from its start to its end (or its death). */
  ms: number
}

export interface Run {
  readonly runId: string
  readonly log: RecordingLog
  readonly done: Promise<RunResult>
  /** SIGKILL: the run stops at its next request, sleep or timer, and `done` says killed. */
  kill(): void
  /** Kill the run as soon as it logs a line that matches. */
  killWhen(match: (line: string) => boolean): void
  /** Call `listener` with every line the run logs, as it logs it (a cue for another command). */
  onLine(listener: (line: string) => void): void
}

let worlds = 0

export class World {
  readonly time: VirtualTime
  readonly store: MemoryStore
  readonly api: SandboxApi
  readonly behaviours = new BehaviourRegistry()
  readonly mesh: MeshSimulator
  readonly prometheus: InProcessPrometheus
  readonly kube: MemoryKube
  private readonly stopController: () => void
  private readonly random: () => number
  private readonly realRandom = Math.random
  private runs = 0

  private constructor(options: WorldOptions) {
    const seedNumber = options.randomSeed ?? 1
    const draws = new Random(seedNumber)
    this.random = () => draws.uniform()
    // Retry jitter, fault dice, generated names: every draw in the run comes from the seed.
    Math.random = this.random
    this.time = new VirtualTime()
    this.store = new MemoryStore(1000, () => this.time.now())
    this.api = new SandboxApi({
      store: this.store,
      sleep: (ms) => this.time.sleep(ms),
      random: this.random
    })
    const controller = startDeploymentController({
      store: this.store,
      behaviours: this.behaviours,
      delayMs: options.controllerDelayMs ?? 300,
      terminationGraceScale: options.terminationGraceScale ?? 1,
      timers: this.time
    })
    this.stopController = () => controller.stop()
    if (options.seed !== false) seed(this.store, options.seed)
    this.mesh = new MeshSimulator({
      store: this.store,
      behaviours: this.behaviours,
      rps: 0,
      clock: this.time,
      ...(options.noise ? { noise: options.noise, seed: seedNumber } : {})
    })
    this.prometheus = new InProcessPrometheus(this.mesh, this.time)
    // Traffic between the last instant and this one went by the routing in force meanwhile.
    this.time.onAdvance(() => this.mesh.tick())
    this.kube = new MemoryKube({ api: this.api, clock: this.time })
    worlds++
  }

  /**
   * A world seeded as the e2e sandbox: the seeded pods ready, then traffic at `rps` for
   * `warmupMs`, so the stable workload has a history in Prometheus when the first command runs.
   */
  static async create(options: WorldOptions = {}): Promise<World> {
    const world = new World(options)
    if (options.seed !== false) {
      await world.until('the seeded pods to be ready', () => {
        const ready = world.store
          .list('pods', SEED_NAMESPACE)
          .filter((p) => p.metadata.labels?.app === SEED_SERVICE && isReady(p)).length
        return ready >= SEED_REPLICAS
      })
    }
    world.mesh.setRps(options.rps ?? 50)
    await world.time.advance(options.warmupMs ?? 120_000)
    return world
  }

  /** Stop the controller and the mesh; Math.random is the real one again. */
  close(): void {
    this.prometheus.stop()
    this.stopController()
    this.mesh.close()
    Math.random = this.realRandom
  }

  /** How an image behaves from now on (as the control API's POST /images). */
  image(image: string, behaviour: Partial<ImageBehaviour>): void {
    this.behaviours.set(image, behaviour)
  }

  /** Shaped requests through the mesh now, after the traffic owed so far (POST /mesh/probe). */
  probe(request: ProbeRequest): ProbeResult {
    this.mesh.tick()
    return this.mesh.probe(request)
  }

  /** Run virtual time until `predicate` holds, looking every 100 ms of it. */
  async until(what: string, predicate: () => boolean, limitMs = 3_600_000): Promise<void> {
    const deadline = this.time.now() + limitMs
    await this.time.run(
      (async () => {
        while (!predicate()) {
          if (this.time.now() > deadline) {
            throw new Error(`waited ${limitMs / 1000}s of virtual time for ${what}`)
          }
          await this.time.sleep(100)
        }
      })()
    )
  }

  /**
   * Start a command with the action's inputs (as the workflow gives them) and GITHUB_* variables;
   * it runs while virtual time is driven (`finish`, `until`, another run's `finish`).
   */
  start(inputs: Readonly<Record<string, string>>, env: Readonly<Record<string, string>> = {}): Run {
    const n = ++this.runs
    const log = new RunLog()
    const notifier = new RecordingNotifier()
    const proc = new RunProcess()
    const kube = proc.kube(this.kube)
    const clock = proc.clock(this.time)
    const startedAt = this.time.now()
    let killed: (result: RunResult) => void = () => undefined
    const death = new Promise<RunResult>((resolve) => (killed = resolve))
    let settings: Readonly<Settings> | undefined
    let runId = `runner-${worlds}-${n}`
    const finish = (
      partial: Partial<RunResult> & Pick<RunResult, 'ok' | 'outputs' | 'summary'>
    ): RunResult => ({
      ...partial,
      lines: log.lines,
      log: log.lines.join('\n'),
      runId,
      notifier: notifier.calls,
      killed: proc.killed,
      ms: this.time.now() - startedAt
    })
    const kill = (): void => {
      if (proc.killed) return
      proc.killed = true
      killed(finish({ ok: false, outputs: {}, summary: '' }))
    }
    const work = (async (): Promise<RunResult> => {
      let result: CommandResult | undefined
      try {
        settings = readSettings((name) => inputs[name] ?? '')
        const who = ownerFromEnv(env, settings.sha, () => runId)
        runId = who.runId
        const namespace = settings.namespace ?? SEED_NAMESPACE
        const records = new LeaseStore(kube, namespace, settings.service, runId, {
          durationSeconds: settings.leaseDurationMs / 1000,
          now: () => this.time.now(),
          repeat: (ms, fn) => this.time.every(ms, () => (proc.killed ? undefined : fn()))
        })
        result = await runCommand({
          settings,
          kube,
          namespace,
          owner: who.owner,
          runId,
          records,
          metricsAt: (url) =>
            new PrometheusMetrics(
              new Prometheus(url, {
                timeoutMs: settings?.prometheusTimeoutMs,
                transport: (form) => proc.guard(() => this.prometheus.transport(form))
              })
            ),
          log,
          clock,
          notifier
        })
        const step: StepReport = stepReport(settings, result, `/tmp/report-${runId}.json`)
        for (const note of step.notes) {
          if (note.level === 'warning') log.warning(note.message)
          else log.info(note.message)
        }
        return finish({
          ok: step.failure === undefined,
          ...(step.failure === undefined ? {} : { failure: step.failure }),
          outputs: step.outputs,
          summary: step.summary,
          ...(step.file === undefined ? {} : { report: step.file }),
          result
        })
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        if (!(error instanceof LockLostError)) await notifier.failed(message)
        return finish({ ok: false, failure: message, outputs: {}, summary: '', error })
      }
    })()
    return {
      get runId() {
        return runId
      },
      log,
      done: Promise.race([work, death]),
      kill,
      killWhen: (match) => {
        log.listeners.push((line) => {
          if (match(line)) kill()
        })
      },
      onLine: (listener) => {
        log.listeners.push(listener)
      }
    }
  }

  /** Drive virtual time until the run ends; its result. */
  finish(run: Run): Promise<RunResult> {
    return this.time.run(run.done)
  }

  /** Start a command and drive it to its end. */
  run(
    inputs: Readonly<Record<string, string>>,
    env: Readonly<Record<string, string>> = {}
  ): Promise<RunResult> {
    return this.finish(this.start(inputs, env))
  }
}

/**
 * The inputs of a release on the in-process world: the end-to-end tests' fastInputs at realistic
 * durations (the defaults: 1m steps, a check every 10s, a 1m analysis window, 5m to be ready),
 * which cost nothing in virtual time.
 */
export function release(extra: Record<string, string> = {}): Record<string, string> {
  return {
    service: 'reviews',
    namespace: 'demo',
    'prometheus-url': PROMETHEUS_URL,
    steps: '10,25,50,100',
    // As in fastInputs: the healthy images answer 0.1% 5xx, too few bad events in four minutes at
    // 50 rps to show the candidate less than 3× the stable; below 20% is safe enough here.
    'negligible-rate': '20%',
    ...extra
  }
}

/** Assert how the step ended, showing the run's log when it differs. */
export function expectRun(run: RunResult, expected: 'success' | 'failure'): void {
  if (run.ok !== (expected === 'success')) {
    throw new Error(
      `expected the run to end in ${expected}, it ended ${run.ok ? 'in success' : `in failure: ${run.failure}`}:\n${run.log}`
    )
  }
}
