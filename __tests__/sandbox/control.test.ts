import { setTraffic } from '../../sandbox/action.js'
import { startControlServer, type ControlServer, type ControlState } from '../../sandbox/control.js'
import { startMesh, type Mesh } from '../../sandbox/mesh/server.js'
import { seed } from '../../sandbox/seed.js'
import {
  BehaviourRegistry,
  DEFAULT_BEHAVIOUR,
  type DenyRule,
  type FaultRule
} from '../../sandbox/types.js'
import { MemoryStore } from './memoryStore.js'

/** Records what the control API asks of the API server. */
class RecordingApi {
  faults: FaultRule[][] = []
  denials: DenyRule[][] = []
  setFaults(rules: FaultRule[]): void {
    this.faults.push(rules)
  }
  setDenials(rules: DenyRule[]): void {
    this.denials.push(rules)
  }
}

let behaviours: BehaviourRegistry
let api: RecordingApi
let mesh: Mesh
let control: ControlServer

beforeAll(async () => {
  const store = new MemoryStore()
  seed(store)
  behaviours = new BehaviourRegistry()
  api = new RecordingApi()
  mesh = await startMesh({ store, behaviours, rps: 20 })
  control = await startControlServer({ behaviours, mesh, api })
})

afterAll(async () => {
  await control.close()
  await mesh.close()
})

async function post(
  path: string,
  body: unknown
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${control.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

describe('control API', () => {
  it('sets image behaviour, keeping unspecified fields', async () => {
    const res = await post('/images', {
      image: 'example.com/reviews:2.0.0',
      errorRate: 0.2,
      p99Ms: 900
    })
    expect(res.status).toBe(200)
    expect(behaviours.get('example.com/reviews:2.0.0')).toEqual({
      ...DEFAULT_BEHAVIOUR,
      errorRate: 0.2,
      p99Ms: 900
    })
    await post('/images', {
      image: 'example.com/reviews:2.0.0',
      ready: false,
      notReadyReason: 'ImagePullBackOff',
      startupMs: 0
    })
    expect(behaviours.get('example.com/reviews:2.0.0')).toMatchObject({
      errorRate: 0.2,
      ready: false,
      notReadyReason: 'ImagePullBackOff',
      startupMs: 0
    })
  })

  it.each([
    ['/images', '{not json', /not valid JSON/],
    ['/images', [], /must be a JSON object/],
    ['/images', { errorRate: 0.1 }, /image must be a non-empty string/],
    ['/images', { image: 'x', errorRate: 1.5 }, /errorRate must be a number from 0 to 1/],
    ['/images', { image: 'x', errorRate: '0.1' }, /errorRate/],
    ['/images', { image: 'x', p99Ms: 0 }, /p99Ms must be a positive number/],
    ['/images', { image: 'x', ready: 'yes' }, /ready must be true or false/],
    ['/images', { image: 'x', startupMs: -1 }, /startupMs must be a non-negative number/],
    ['/images', { image: 'x', errorrate: 0.1 }, /unknown field\(s\) errorrate/],
    ['/traffic', { rps: -5 }, /rps must be a non-negative number/],
    ['/traffic', { rps: 1e9 }, /rps must be at most/],
    ['/traffic', {}, /rps must be/],
    [
      '/traffic',
      { rps: 5, nosie: 'poisson' },
      /unknown field\(s\) nosie; allowed: rps, noise, seed/
    ],
    ['/traffic', { rps: 5, noise: 'gaussian' }, /noise must be one of "none", "poisson"/],
    ['/traffic', { rps: 5, noise: null }, /noise must be one of/],
    ['/traffic', { rps: 5, noise: 'poisson', seed: -1 }, /seed must be a non-negative integer/],
    ['/traffic', { rps: 5, noise: 'poisson', seed: 1.5 }, /seed must be a non-negative integer/],
    ['/traffic', { rps: 5, noise: 'poisson', seed: '7' }, /seed must be a non-negative integer/],
    ['/traffic', { rps: 5, seed: 2 ** 53 }, /seed must be a non-negative integer/],
    [
      '/faults',
      { rules: [{ errorRate: 2 }] },
      /rules\[0\]\.errorRate must be a number from 0 to 1/
    ],
    ['/faults', { rules: [{ verbs: ['get'] }] }, /must set at least one of/],
    ['/faults', { rules: [{ errorRate: 0.5, verbs: ['fetch'] }] }, /unknown verb\(s\) fetch/],
    ['/faults', { rules: {} }, /rules must be an array/],
    ['/denials', { rules: [{ verb: 'patch' }] }, /rules\[0\]\.resource must be a non-empty string/]
  ])('POST %s %j answers 400', async (path, body, message) => {
    const res = await post(path, body)
    expect(res.status).toBe(400)
    expect(String(res.body['error'])).toMatch(message)
  })

  it('answers 404 for unknown paths and 405 for wrong methods', async () => {
    expect((await post('/nope', {})).status).toBe(404)
    expect((await fetch(`${control.url}/images`)).status).toBe(405)
  })

  it('changes the request rate', async () => {
    expect((await post('/traffic', { rps: 50 })).body).toEqual({ rps: 50, noise: 'none', seed: 1 })
    expect(mesh.rps).toBe(50)
  })

  it('passes fault and denial rules to the API server, a single rule or a list', async () => {
    const rule: FaultRule = { errorRate: 0.5, verbs: ['patch'], resources: ['virtualservices'] }
    expect((await post('/faults', rule)).status).toBe(200)
    expect(api.faults.at(-1)).toEqual([rule])
    await post('/faults', { rules: [{ latencyMs: 200 }, { dropRate: 0.1 }] })
    expect(api.faults.at(-1)).toEqual([{ latencyMs: 200 }, { dropRate: 0.1 }])
    await post('/denials', {
      rules: [{ verb: 'patch', resource: 'virtualservices', namespace: 'demo' }]
    })
    expect(api.denials.at(-1)).toEqual([
      { verb: 'patch', resource: 'virtualservices', namespace: 'demo' }
    ])
  })

  it('reports state with mesh flows, behaviours, faults and denials, and resets', async () => {
    const state = (await (await fetch(`${control.url}/state`)).json()) as ControlState
    expect(Object.keys(state).sort()).toEqual(
      [
        'behaviours',
        'defaultBehaviour',
        'denials',
        'faults',
        'flows',
        'noise',
        'rps',
        'seed',
        'workloads'
      ].sort()
    )
    expect(state.rps).toBe(50)
    expect(state.flows).toHaveLength(1)
    expect(state.flows[0]).toMatchObject({
      id: 'demo/reviews',
      config: { kind: 'VirtualService', namespace: 'demo', name: 'reviews' },
      client: 'mesh',
      route: { index: 0, name: 'primary' },
      destinations: [
        { host: 'reviews', subset: 'blue', weight: 100, share: 1, failure: 'UH', endpoints: [] }
      ]
    })
    expect(state.flows[0]?.config.resourceVersion).toMatch(/^\d+$/)
    expect(state.behaviours['example.com/reviews:2.0.0']?.errorRate).toBe(0.2)
    expect(state.faults).toEqual([{ latencyMs: 200 }, { dropRate: 0.1 }])
    expect(state.denials).toHaveLength(1)

    const reset = (await post('/reset', {})).body as unknown as ControlState
    expect(reset.faults).toEqual([])
    expect(reset.denials).toEqual([])
    expect(reset.rps).toBe(20)
    expect(behaviours.get('example.com/reviews:2.0.0')).toEqual(DEFAULT_BEHAVIOUR)
    expect(api.faults.at(-1)).toEqual([])
    expect(api.denials.at(-1)).toEqual([])
  })

  it('turns on seeded Poisson noise, shows it in state, and resets it', async () => {
    const noisy = { rps: 30, noise: 'poisson', seed: 7 }
    expect(await post('/traffic', noisy)).toEqual({ status: 200, body: noisy })
    expect(mesh.traffic).toEqual(noisy)
    const state = (await (await fetch(`${control.url}/state`)).json()) as ControlState
    expect(state).toMatchObject(noisy)
    // Every POST /traffic is the whole setting: what it leaves out takes the default.
    expect((await post('/traffic', { rps: 30 })).body).toEqual({ rps: 30, noise: 'none', seed: 1 })
    await post('/traffic', noisy)
    expect((await post('/reset', {})).body).toMatchObject({ rps: 20, noise: 'none', seed: 1 })
    expect(mesh.traffic).toEqual({ rps: 20, noise: 'none', seed: 1 })
  })

  it('is driven by the e2e helper setTraffic, which throws on a refused setting', async () => {
    const sb = { controlUrl: control.url }
    expect(await setTraffic(sb, { rps: 40, noise: 'poisson', seed: 3 })).toEqual({
      rps: 40,
      noise: 'poisson',
      seed: 3
    })
    expect(mesh.traffic).toEqual({ rps: 40, noise: 'poisson', seed: 3 })
    await expect(setTraffic(sb, { rps: 40, seed: -3 })).rejects.toThrow(
      /control \/traffic: 400 .*seed must be a non-negative integer/s
    )
    expect(await setTraffic(sb, { rps: 20 })).toEqual({ rps: 20, noise: 'none', seed: 1 })
  })
})
