/**
 * An in-memory TrafficRouter: named objects, each with routes and a version, written the way a
 * real router writes them (one guarded write per object, in order). It records every write, can
 * fail a chosen write, and lets a test play a person who edits an object behind the rollout.
 */
import type { Color, ColorWeights } from '../../src/core/color.js'
import { weightsFor } from '../../src/core/color.js'
import type { TestHeader } from '../../src/core/test-route.js'
import type {
  RouterInspection,
  RouterObjectState,
  TrafficRouter,
  WeightWrite,
  WeightWriteOptions
} from '../../src/ports.js'

interface FakeObject {
  version: number
  routes: Record<string, ColorWeights>
  /** The route still sends to the service without naming a color (a first release). */
  bare: boolean
  writer?: string
  fence?: string
  /** The test route in it: which header sends to which color. */
  testRoute?: { header: TestHeader; candidate: Color }
}

/** One write of a test route: added (`header`) or removed (none). */
export interface FakeTestRouteWrite {
  object: string
  candidate: Color
  header?: TestHeader
  fence?: string
}

export interface FakeWrite {
  object: string
  weights: ColorWeights
  fence?: string
}

export class FakeRouter implements TrafficRouter {
  readonly description: string
  readonly permissions = [
    { group: 'fake.example', resource: 'routes', verbs: ['get', 'patch'], why: 'tests' }
  ]
  private readonly store = new Map<string, FakeObject>()
  readonly writes: FakeWrite[] = []
  /** Colors made addressable so far (ensureColors). */
  addressable = false
  /** Called after each object's write: a test's hook to act between writes. */
  afterWrite?: (write: FakeWrite) => void
  /** Throw on the nth write from now (1 = the next one), once: a failure between two writes. */
  failWrite?: { after: number; error: Error }
  /** Every test-route write that changed an object, in order (none for an object already as asked). */
  readonly testRouteWrites: FakeTestRouteWrite[] = []
  /**
   * Called before each test-route write (`landed: false`) and after it (`landed: true`); a throw
   * stops the write there (before it: nothing changed).
   */
  onTestRouteWrite?: (write: FakeTestRouteWrite, landed: boolean) => void

  constructor(
    readonly objects: readonly string[],
    stable: Color = 'blue',
    routes: readonly string[] = ['primary'],
    options: { bare?: boolean } = {}
  ) {
    this.description = `fake route${objects.length > 1 ? 's' : ''} ${objects.join(', ')}`
    for (const name of objects) {
      this.store.set(name, {
        version: 1,
        routes: Object.fromEntries(
          routes.map((r) => [r, weightsFor(stable === 'blue' ? 'green' : 'blue', 0)])
        ),
        bare: options.bare ?? false
      })
    }
  }

  /** Weights of every route of every object, `object/route` → weights. */
  weights(): Record<string, ColorWeights> {
    const out: Record<string, ColorWeights> = {}
    for (const [name, o] of this.store) {
      for (const [route, w] of Object.entries(o.routes)) out[`${name}/${route}`] = { ...w }
    }
    return out
  }

  /** A person or a tool writes `weights` on every route of `object`. */
  edit(object: string, weights: ColorWeights, writer = 'kubectl-edit (Update at t)'): void {
    const o = this.get(object)
    for (const route of Object.keys(o.routes)) o.routes[route] = { ...weights }
    o.version++
    o.writer = writer
  }

  /** Put every object at `weights` as this rollout would have (a write nobody recorded). */
  place(weights: ColorWeights): void {
    for (const o of this.store.values()) {
      for (const route of Object.keys(o.routes)) o.routes[route] = { ...weights }
      o.version++
    }
  }

  /** The test route of every object that has one, object → `header-name: value → color`. */
  testRoutes(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const [name, o] of this.store) {
      if (o.testRoute) {
        const { header, candidate } = o.testRoute
        out[name] = `${header.name}: ${header.value} → ${candidate}`
      }
    }
    return out
  }

  remove(object: string): void {
    this.store.delete(object)
  }

  private get(object: string): FakeObject {
    const o = this.store.get(object)
    if (!o) throw new Error(`fake route ${object} does not exist`)
    return o
  }

  async read(bareColor: Color): Promise<RouterObjectState[]> {
    return this.objects.map((object): RouterObjectState => {
      const o = this.store.get(object)
      const what = `fake route ${object}`
      if (!o) return { object, what, found: false }
      return {
        object,
        what,
        found: true,
        resourceVersion: String(o.version),
        routes: Object.entries(o.routes).map(([name, w]) => ({
          name,
          weights: o.bare ? weightsFor(bareColor === 'blue' ? 'green' : 'blue', 0) : { ...w }
        })),
        bare: o.bare,
        testRoute: o.testRoute !== undefined,
        ...(o.writer ? { writer: o.writer } : {}),
        ...(o.fence ? { fence: o.fence } : {})
      }
    })
  }

  async setWeights(
    candidate: Color,
    percent: number,
    options: WeightWriteOptions = {}
  ): Promise<WeightWrite> {
    const weights = weightsFor(candidate, percent)
    const versions: Record<string, string> = {}
    for (const object of this.objects) {
      const o = this.get(object)
      await options.beforeWrite?.()
      if (this.failWrite && --this.failWrite.after === 0) {
        const { error } = this.failWrite
        this.failWrite = undefined
        throw error
      }
      for (const route of Object.keys(o.routes)) o.routes[route] = { ...weights }
      o.bare = false
      o.version++
      delete o.writer
      if (options.fence) o.fence = options.fence
      const write = { object, weights, ...(options.fence ? { fence: options.fence } : {}) }
      this.writes.push(write)
      versions[object] = String(o.version)
      this.afterWrite?.(write)
    }
    return { weights, versions }
  }

  async setTestRoute(
    candidate: Color,
    header: TestHeader | undefined,
    options: WeightWriteOptions = {}
  ): Promise<{ versions: Record<string, string> }> {
    const versions: Record<string, string> = {}
    for (const object of this.objects) {
      const o = this.get(object)
      const now = o.testRoute
      const same = header
        ? now?.candidate === candidate &&
          now.header.name === header.name &&
          now.header.value === header.value
        : now === undefined
      if (!same) {
        await options.beforeWrite?.()
        const write: FakeTestRouteWrite = {
          object,
          candidate,
          ...(header ? { header } : {}),
          ...(options.fence ? { fence: options.fence } : {})
        }
        this.onTestRouteWrite?.(write, false)
        if (header) o.testRoute = { header, candidate }
        else delete o.testRoute
        o.version++
        delete o.writer
        if (options.fence) o.fence = options.fence
        this.testRouteWrites.push(write)
        this.onTestRouteWrite?.(write, true)
      }
      versions[object] = String(o.version)
    }
    return { versions }
  }

  async ensureColors(): Promise<string[]> {
    if (this.addressable) return []
    this.addressable = true
    return [`made blue and green addressable for ${this.description}`]
  }

  async inspect(): Promise<RouterInspection> {
    const states = await this.read('blue')
    const missing = states.find((s) => !s.found)
    if (missing) return { ok: false, message: `${missing.what} not found` }
    return {
      ok: true,
      routes: states.flatMap((s) =>
        s.found && !('error' in s.routes)
          ? s.routes.map((r) => ({ ...r, name: `${s.object}/${r.name}` }))
          : []
      ),
      bare: states.some((s) => s.found && s.bare)
    }
  }
}
