/**
 * Drift end to end: mid-rollout, a person changes the VirtualService weights with the real
 * `kubectl patch` behind the built action's back; the action names kubectl's field manager and
 * rolls back (on-drift: rollback). Pausing on drift, promoting after it, other writers and the
 * Gateway API router run in-process (__tests__/inprocess/drift.test.ts, gateway-api.test.ts).
 */
import { jest } from '@jest/globals'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import type { Sandbox } from '../../sandbox/index.js'
import {
  apiRequest,
  deploymentState,
  expectExit,
  fastInputs,
  kubeEnv,
  meshFailures,
  readLease,
  recordVirtualServiceWrites,
  runAction,
  sandbox,
  virtualService,
  waitFor,
  weightsOf
} from './harness.js'

jest.setTimeout(240_000)

const IMAGE = 'example.com/reviews:2.0.0'
const VS_PATH = '/apis/networking.istio.io/v1/namespaces/demo/virtualservices/reviews'
const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p))
/** The weights the person sets: route `primary` is [blue, green] once the rollout started. */
const DRIFT = [
  { op: 'replace', path: '/spec/http/0/route/0/weight', value: 60 },
  { op: 'replace', path: '/spec/http/0/route/1/weight', value: 40 }
]

/** `kubectl patch` with the real kubectl when installed (manager kubectl-patch), else the same over HTTP. */
async function patchWithKubectl(sb: Sandbox): Promise<void> {
  if (!KUBECTL) {
    const r = await apiRequest(
      sb,
      'PATCH',
      `${VS_PATH}?fieldManager=kubectl-patch`,
      DRIFT,
      'application/json-patch+json'
    )
    if (r.status !== 200) throw new Error(`drift patch: ${r.status} ${JSON.stringify(r.body)}`)
    return
  }
  await promisify(execFile)(KUBECTL, [
    '--kubeconfig',
    sb.kubeconfigPath,
    '-n',
    'demo',
    'patch',
    'virtualservice',
    'reviews',
    '--type=json',
    '-p',
    JSON.stringify(DRIFT)
  ])
}

/** Run `drift` once, as soon as the action's second weight write (75/25) lands. */
function driftAfterSecondStep(sb: Sandbox, drift: (sb: Sandbox) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let fired = false
    sb.api.store.onChange((e) => {
      if (fired || e.resource !== 'virtualservices') return
      const w = weightsOf(e.object)[0]
      if (w?.blue !== 75 || w.green !== 25) return
      fired = true
      drift(sb).then(resolve, reject)
    })
  })
}

describe('drift: weights changed behind the rollout', () => {
  let sb: Sandbox
  beforeEach(async () => {
    sb = await sandbox()
  })
  afterEach(async () => {
    await sb.stop()
  })

  it(`on-drift: rollback puts the stable color back at once, naming ${KUBECTL ? 'kubectl' : 'the'} patch`, async () => {
    const { writes } = recordVirtualServiceWrites(sb)
    const drifted = driftAfterSecondStep(sb, patchWithKubectl)
    const run = await runAction(
      fastInputs(sb, { image: IMAGE, 'step-duration': '6s', 'on-drift': 'rollback' }),
      kubeEnv(sb)
    )
    await drifted
    expectExit(run, 'failure')
    expect(run.outputs).toMatchObject({
      result: 'rolled-back',
      phase: 'rolled-back',
      weights: 'blue=100,green=0'
    })
    expect(run.log).toMatch(
      /::warning::drift: the weights of VirtualService reviews are blue=60,green=40, not blue=75,green=25 as this rollout last wrote them; last changed by kubectl-patch \(Update at [^)]+\)/
    )
    expect(run.outputs.reason).toMatch(/kubectl-patch .*\(on-drift: rollback\)$/)
    // One write after the drift: the stable color back to 100%.
    expect(writes.map((w) => w.weights)).toEqual([
      'blue=90,green=10',
      'blue=75,green=25',
      'blue=60,green=40',
      'blue=100,green=0'
    ])
    expect(weightsOf(virtualService(sb))).toEqual([
      { route: 'primary', blue: 100, green: 0, other: 0 }
    ])
    await waitFor(
      'reviews-green scaled to 0',
      () => deploymentState(sb, 'reviews-green')?.replicas === 0
    )
    const lease = readLease(sb)
    expect(lease?.holder).toBeUndefined()
    expect(lease?.record).toMatchObject({ phase: 'rolled-back', weights: { blue: 100, green: 0 } })
    expect(meshFailures(sb)).toEqual({})
  })
})
