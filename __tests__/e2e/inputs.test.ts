/**
 * Inputs that shape where and what the action deploys, end to end on the sandbox: the kubeconfig
 * content with a chosen context, the namespace from the context, and its token masked by the
 * runner; adoption of a hand-made service with a custom color label, paused half-way and
 * promoted; manifests and container, custom object and route names, reporter and previous-color
 * in one release, and the instant rollback that previous-color scale-down rules out. Each also
 * runs in-process, with thresholds and fail-on-rollback (__tests__/inprocess/inputs.test.ts).
 */
import { jest } from '@jest/globals'
import { readFile } from 'node:fs/promises'
import yaml from 'js-yaml'
import type { Sandbox } from '../../sandbox/index.js'
import {
  expectExit,
  fastInputs,
  kubeEnv,
  meshFailures,
  readLease,
  runAction,
  sandbox,
  waitForSeries,
  withSandbox
} from './harness.js'
import {
  expectAdoptedAndPromoted,
  expectCustomNamesPromoted,
  expectGreenFromTemplate,
  makeUncolored,
  replicasOf,
  templateManifests,
  useCustomNames
} from '../fixtures/releases.js'

jest.setTimeout(180_000)

describe('input kubeconfig', () => {
  let sb: Sandbox
  beforeEach(async () => {
    sb = await sandbox()
  })
  afterEach(async () => {
    await sb.stop()
  })

  it('kubeconfig content with a chosen context, namespace from the context; the token is masked', async () => {
    const sandboxConfig = yaml.load(await readFile(sb.kubeconfigPath, 'utf8')) as {
      clusters: Array<{ name: string; cluster: Record<string, unknown> }>
      users: Array<{ name: string; user: { token: string } }>
      contexts: Array<{ name: string; context: Record<string, string> }>
    }
    const token = sandboxConfig.users[0]?.user.token as string
    const config = {
      ...sandboxConfig,
      clusters: [
        ...sandboxConfig.clusters,
        { name: 'prod', cluster: { server: 'https://127.0.0.1:1' } }
      ],
      contexts: [
        ...sandboxConfig.contexts,
        { name: 'prod', context: { cluster: 'prod', user: sandboxConfig.users[0]?.name as string } }
      ],
      'current-context': 'prod'
    }
    const inputs = fastInputs(sb, {
      image: 'example.com/reviews:2.0.0',
      kubeconfig: yaml.dump(config),
      context: sandboxConfig.contexts[0]?.name as string,
      steps: '50,100'
    })
    delete inputs.namespace
    const run = await runAction(inputs, {})
    expectExit(run, 'success')
    expect(run.outputs.result).toBe('promoted')
    expect(token.length).toBeGreaterThan(10)
    // The runner swallows ::add-mask:: commands; everything else it prints must not hold the token.
    const printed = run.log.split('\n').filter((l) => !l.startsWith('::add-mask::'))
    expect(printed.join('\n')).not.toContain(token)
    expect(run.log).toContain(`::add-mask::${token}`)
  })
})

/** Requests the mesh could not route so far, all flags together. */
const failures = (sb: Sandbox): number => Object.values(meshFailures(sb)).reduce((a, b) => a + b, 0)

/** The hand-made service (makeUncolored), once Prometheus has its new workload's requests. */
async function uncolored(sb: Sandbox): Promise<void> {
  makeUncolored(sb)
  await waitForSeries(sb, 'sum(increase(istio_requests_total{destination_workload="reviews"}[5s]))')
}

describe('inputs that shape the release', () => {
  it.concurrent(
    'adopts a hand-made service with color-label track, paused half-way and promoted later, dropping no request',
    () =>
      withSandbox(sandbox, async (sb) => {
        await uncolored(sb)
        const failuresBefore = failures(sb)
        const inputs = fastInputs(sb, {
          image: 'example.com/reviews:2.0.0',
          'color-label': 'track',
          steps: '50,100',
          'pause-at': '50'
        })
        const paused = await runAction(inputs, kubeEnv(sb))
        expectExit(paused, 'success')
        expect(paused.outputs.result).toBe('paused')
        expect(replicasOf(sb, 'reviews')).toBe(2)
        expect(paused.log).toContain(
          'Deployment reviews keeps its replicas for now: the release through it is paused'
        )
        expect(readLease(sb)?.record?.adopted).toEqual({ deployment: 'reviews' })

        const promoted = await runAction(
          { ...inputs, command: 'promote', 'pause-at': '' },
          kubeEnv(sb)
        )
        expectExit(promoted, 'success')
        expect(promoted.outputs).toMatchObject({
          result: 'promoted',
          'stable-color': 'green',
          weights: 'blue=0,green=100'
        })
        expectAdoptedAndPromoted(sb, 'track')
        // No request went unrouted, from the hand-made route to the colors and on.
        expect(failures(sb)).toBe(failuresBefore)
        // The release has ended: the original is scaled to 0, kept, and the user is told.
        expect(replicasOf(sb, 'reviews')).toBe(0)
        expect(promoted.log).toContain(
          'scaled Deployment reviews to 0 (from 2): it was adopted as reviews-blue, which now serves the service; it is kept, not deleted'
        )
        expect(promoted.summary).toContain(
          '**Adopted:** Deployment `reviews` was copied into `reviews-blue`'
        )
        expect(readLease(sb)?.record?.adopted).toEqual({
          deployment: 'reviews',
          scaledDownAt: expect.any(String)
        })
      })
  )

  it.concurrent(
    'manifests and container, custom object and route names, reporter source and previous-color scale-down in one release; then no instant rollback',
    () =>
      withSandbox(sandbox, async (sb) => {
        const names = useCustomNames(sb)
        const inputs = fastInputs(sb, {
          manifests: await templateManifests(),
          container: 'reviews',
          image: 'example.com/reviews:3.0.0',
          ...names,
          reporter: 'source',
          'previous-color': 'scale-down',
          steps: '50,100'
        })
        const run = await runAction(inputs, kubeEnv(sb))
        expectExit(run, 'success')
        expect(run.outputs.result).toBe('promoted')
        expect(run.log).toContain('reporter="source"')
        expectGreenFromTemplate(sb, 'example.com/reviews:3.0.0')
        expectCustomNamesPromoted(sb)
        expect(replicasOf(sb, 'reviews-blue')).toBe(0)

        // previous-color scale-down leaves nothing to switch back to instantly.
        const rb = await runAction({ ...inputs, command: 'rollback' }, kubeEnv(sb))
        expectExit(rb, 'failure')
        expect(rb.log).toMatch(
          /::error::rollback refused: the previous color blue is not running \(.*\), so there is nothing to switch back to instantly; deploy its image \(example.com\/reviews:1.0.0\) again instead/
        )
      })
  )
})
