/**
 * The sandbox's control API: what a test or a person changes at run time to
 * stage a scenario (a broken image, more traffic, a flaky API server, missing
 * permissions). Loopback only, no auth: it is a test bed, not a product.
 *
 *   POST /images   {"image": "...", "errorRate"?, "p99Ms"?, "ready"?, "notReadyReason"?, "startupMs"?, "gauges"?}
 *   POST /traffic  {"rps": 50, "noise"?: "none" | "poisson", "seed"?: 7}
 *   POST /faults   {"rules": [FaultRule...]} or a single FaultRule
 *   POST /denials  {"rules": [DenyRule...]} or a single DenyRule
 *   POST /reset    behaviours, faults, denials and traffic back to their start values
 *   POST /mesh/probe {"namespace": "demo", "service": "reviews", "headers"?: {"x-canary": "true"},
 *                   "path"?: "/", "method"?: "GET", "count": 20, "via"?: "mesh" | "gateway"}
 *                  sends those requests now and answers which route took them and which workloads
 *                  served them
 *   GET  /state    mesh state (traffic settings, flows, counts) plus behaviours, faults and denials
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  DEFAULT_BEHAVIOUR,
  type BehaviourRegistry,
  type DenyRule,
  type FaultRule,
  type ImageBehaviour
} from './types.js'
import {
  DEFAULT_SEED,
  isNoiseMode,
  NOISE_MODES,
  type MeshState,
  type ProbeRequest,
  type ProbeResult,
  type TrafficSettings
} from './mesh/simulator.js'

/** The API server's fault switches (ApiServer satisfies this). */
export interface FaultTarget {
  setFaults(rules: FaultRule[]): void
  setDenials(rules: DenyRule[]): void
}

/** The mesh's traffic knobs (Mesh satisfies this). */
export interface TrafficTarget {
  readonly traffic: TrafficSettings
  setTraffic(t: TrafficSettings): void
  state(): MeshState
  probe(p: ProbeRequest): ProbeResult
}

export interface ControlOptions {
  behaviours: BehaviourRegistry
  mesh: TrafficTarget
  api: FaultTarget
  port?: number
}

export interface ControlServer {
  url: string
  close(): Promise<void>
}

export interface ControlState extends MeshState {
  behaviours: Record<string, ImageBehaviour>
  defaultBehaviour: ImageBehaviour
  faults: FaultRule[]
  denials: DenyRule[]
}

/** A request the control API refuses, with the reason for the caller. */
export class BadRequest extends Error {
  override name = 'BadRequest'
}

const MAX_RPS = 10_000
const MAX_BODY = 1 << 20
const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']

export async function startControlServer(o: ControlOptions): Promise<ControlServer> {
  const initialTraffic = o.mesh.traffic
  let faults: FaultRule[] = []
  let denials: DenyRule[] = []

  const handle = async (method: string, path: string, body: unknown): Promise<unknown> => {
    switch (`${method} ${path}`) {
      case 'GET /state':
        return state()
      case 'POST /images': {
        const { image, patch } = parseImage(body)
        return { image, behaviour: o.behaviours.set(image, patch) }
      }
      case 'POST /traffic': {
        const traffic = parseTraffic(body)
        o.mesh.setTraffic(traffic)
        return traffic
      }
      case 'POST /mesh/probe': {
        const probe = parseProbe(body)
        try {
          return o.mesh.probe(probe)
        } catch (err) {
          if (err instanceof RangeError) throw new BadRequest(err.message)
          throw err
        }
      }
      case 'POST /faults':
        faults = parseRules(body, parseFaultRule)
        o.api.setFaults(faults)
        return { faults }
      case 'POST /denials':
        denials = parseRules(body, parseDenyRule)
        o.api.setDenials(denials)
        return { denials }
      case 'POST /reset':
        for (const image of Object.keys(o.behaviours.all()))
          o.behaviours.set(image, DEFAULT_BEHAVIOUR)
        faults = []
        denials = []
        o.api.setFaults([])
        o.api.setDenials([])
        o.mesh.setTraffic(initialTraffic)
        return state()
      default:
        throw new HttpError(
          [
            '/state',
            '/images',
            '/traffic',
            '/mesh/probe',
            '/faults',
            '/denials',
            '/reset'
          ].includes(path)
            ? 405
            : 404,
          `${method} ${path} is not part of the control API`
        )
    }
  }

  const state = (): ControlState => ({
    ...o.mesh.state(),
    behaviours: o.behaviours.all(),
    defaultBehaviour: { ...DEFAULT_BEHAVIOUR },
    faults,
    denials
  })

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const method = req.method ?? 'GET'
    readBody(req)
      .then((raw) => handle(method, path, method === 'POST' ? parseJson(raw) : undefined))
      .then(
        (result) => send(res, 200, result),
        (err: unknown) => {
          if (err instanceof HttpError) send(res, err.status, { error: err.message })
          else if (err instanceof BadRequest) send(res, 400, { error: err.message })
          else send(res, 500, { error: err instanceof Error ? err.message : String(err) })
        }
      )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  let closed: Promise<void> | undefined
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closed
    }
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message)
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res
    .writeHead(status, { 'content-type': 'application/json' })
    .end(JSON.stringify(body, null, 2) + '\n')
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'request body too large'))
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function parseJson(raw: string): unknown {
  if (raw.trim() === '') return {}
  try {
    return JSON.parse(raw) as unknown
  } catch (err) {
    throw new BadRequest(
      `body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`
    )
  }
}

function object(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new BadRequest(`${what} must be a JSON object`)
  }
  return v as Record<string, unknown>
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], what: string): void {
  const extra = Object.keys(o).filter((k) => !allowed.includes(k))
  if (extra.length > 0) {
    throw new BadRequest(
      `${what}: unknown field(s) ${extra.join(', ')}; allowed: ${allowed.join(', ')}`
    )
  }
}

function share(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
    throw new BadRequest(`${field} must be a number from 0 to 1, got ${JSON.stringify(v)}`)
  }
  return v
}

function nonNegative(v: unknown, field: string, positive = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (positive && v === 0)) {
    throw new BadRequest(
      `${field} must be a ${positive ? 'positive' : 'non-negative'} number, got ${JSON.stringify(v)}`
    )
  }
  return v
}

function nonEmptyString(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.trim() === '') {
    throw new BadRequest(`${field} must be a non-empty string, got ${JSON.stringify(v)}`)
  }
  return v
}

/** Validates a POST /images body. */
export function parseImage(body: unknown): { image: string; patch: Partial<ImageBehaviour> } {
  const b = object(body, 'body')
  onlyKeys(
    b,
    ['image', 'errorRate', 'p99Ms', 'ready', 'notReadyReason', 'startupMs', 'gauges'],
    'POST /images'
  )
  const image = nonEmptyString(b['image'], 'image')
  const patch: Partial<ImageBehaviour> = {}
  if (b['errorRate'] !== undefined) patch.errorRate = share(b['errorRate'], 'errorRate')
  if (b['p99Ms'] !== undefined) patch.p99Ms = nonNegative(b['p99Ms'], 'p99Ms', true)
  if (b['ready'] !== undefined) {
    if (typeof b['ready'] !== 'boolean')
      throw new BadRequest(`ready must be true or false, got ${JSON.stringify(b['ready'])}`)
    patch.ready = b['ready']
  }
  if (b['notReadyReason'] !== undefined)
    patch.notReadyReason = nonEmptyString(b['notReadyReason'], 'notReadyReason')
  if (b['startupMs'] !== undefined) patch.startupMs = nonNegative(b['startupMs'], 'startupMs')
  if (b['gauges'] !== undefined) {
    const g = object(b['gauges'], 'gauges')
    const gauges: Record<string, number> = {}
    for (const [name, value] of Object.entries(g)) {
      if (
        !/^[a-z_][a-z0-9_]*$/.test(name) ||
        typeof value !== 'number' ||
        !Number.isFinite(value)
      ) {
        throw new BadRequest(
          `gauges must map lower-case names ([a-z_][a-z0-9_]*) to finite numbers, got ${JSON.stringify(name)}: ${JSON.stringify(value)}`
        )
      }
      gauges[name] = value
    }
    patch.gauges = gauges
  }
  return { image, patch }
}

/**
 * Validates a POST /traffic body: the whole traffic setting, so an omitted `noise` is "none" and
 * an omitted `seed` is DEFAULT_SEED whatever was set before.
 */
export function parseTraffic(body: unknown): TrafficSettings {
  const b = object(body, 'body')
  onlyKeys(b, ['rps', 'noise', 'seed'], 'POST /traffic')
  const rps = nonNegative(b['rps'], 'rps')
  if (rps > MAX_RPS) throw new BadRequest(`rps must be at most ${MAX_RPS}, got ${rps}`)
  const noise = b['noise'] === undefined ? 'none' : b['noise']
  if (!isNoiseMode(noise)) {
    throw new BadRequest(
      `noise must be one of ${NOISE_MODES.map((m) => JSON.stringify(m)).join(', ')}, got ${JSON.stringify(noise)}`
    )
  }
  const seed = b['seed'] === undefined ? DEFAULT_SEED : b['seed']
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new BadRequest(
      `seed must be a non-negative integer (at most 2^53 - 1), got ${JSON.stringify(seed)}`
    )
  }
  return { rps, noise, seed }
}

const MAX_PROBE = 10_000

/** Validates a POST /mesh/probe body. */
export function parseProbe(body: unknown): ProbeRequest {
  const b = object(body, 'body')
  onlyKeys(
    b,
    ['namespace', 'service', 'headers', 'path', 'method', 'count', 'via'],
    'POST /mesh/probe'
  )
  const count = b['count']
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_PROBE) {
    throw new BadRequest(
      `count must be an integer from 1 to ${MAX_PROBE}, got ${JSON.stringify(count)}`
    )
  }
  const probe: ProbeRequest = {
    namespace: nonEmptyString(b['namespace'], 'namespace'),
    service: nonEmptyString(b['service'], 'service'),
    count
  }
  if (b['headers'] !== undefined) {
    const h = object(b['headers'], 'headers')
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(h)) {
      if (!/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(name) || typeof value !== 'string') {
        throw new BadRequest(
          `headers must map header names (RFC 7230 tokens) to strings, got ${JSON.stringify(name)}: ${JSON.stringify(value)}`
        )
      }
      headers[name] = value
    }
    probe.headers = headers
  }
  if (b['path'] !== undefined) {
    const path = nonEmptyString(b['path'], 'path')
    if (!path.startsWith('/'))
      throw new BadRequest(`path must start with "/", got ${JSON.stringify(path)}`)
    probe.path = path
  }
  if (b['method'] !== undefined) probe.method = nonEmptyString(b['method'], 'method')
  if (b['via'] !== undefined) {
    if (b['via'] !== 'mesh' && b['via'] !== 'gateway')
      throw new BadRequest(`via must be "mesh" or "gateway", got ${JSON.stringify(b['via'])}`)
    probe.via = b['via']
  }
  return probe
}

/** Accepts {"rules": [...]}, a bare array, or a single rule object. */
export function parseRules<T>(body: unknown, parse: (v: unknown, where: string) => T): T[] {
  if (Array.isArray(body)) return body.map((r, i) => parse(r, `rules[${i}]`))
  const b = object(body, 'body')
  if ('rules' in b) {
    onlyKeys(b, ['rules'], 'body')
    if (!Array.isArray(b['rules'])) throw new BadRequest('rules must be an array')
    return b['rules'].map((r, i) => parse(r, `rules[${i}]`))
  }
  return [parse(b, 'rule')]
}

export function parseFaultRule(v: unknown, where: string): FaultRule {
  const r = object(v, where)
  onlyKeys(r, ['latencyMs', 'errorRate', 'conflictRate', 'dropRate', 'verbs', 'resources'], where)
  const rule: FaultRule = {}
  if (r['latencyMs'] !== undefined)
    rule.latencyMs = nonNegative(r['latencyMs'], `${where}.latencyMs`)
  for (const k of ['errorRate', 'conflictRate', 'dropRate'] as const) {
    if (r[k] !== undefined) rule[k] = share(r[k], `${where}.${k}`)
  }
  if (r['verbs'] !== undefined) {
    const verbs = stringList(r['verbs'], `${where}.verbs`)
    const bad = verbs.filter((x) => !VERBS.includes(x))
    if (bad.length > 0)
      throw new BadRequest(
        `${where}.verbs: unknown verb(s) ${bad.join(', ')}; known: ${VERBS.join(', ')}`
      )
    rule.verbs = verbs
  }
  if (r['resources'] !== undefined)
    rule.resources = stringList(r['resources'], `${where}.resources`)
  if (Object.keys(rule).filter((k) => k !== 'verbs' && k !== 'resources').length === 0) {
    throw new BadRequest(
      `${where} must set at least one of latencyMs, errorRate, conflictRate, dropRate`
    )
  }
  return rule
}

export function parseDenyRule(v: unknown, where: string): DenyRule {
  const r = object(v, where)
  onlyKeys(r, ['verb', 'resource', 'namespace'], where)
  const rule: DenyRule = {
    verb: nonEmptyString(r['verb'], `${where}.verb`),
    resource: nonEmptyString(r['resource'], `${where}.resource`)
  }
  if (r['namespace'] !== undefined)
    rule.namespace = nonEmptyString(r['namespace'], `${where}.namespace`)
  return rule
}

function stringList(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '')) {
    throw new BadRequest(`${field} must be an array of non-empty strings`)
  }
  return v as string[]
}
