/**
 * The kubeconfig input end to end on the sandbox: its content with a chosen context, the
 * namespace from the context, and its token masked by the runner. Manifests, adoption, custom
 * object and route names, reporter, thresholds, previous-color and fail-on-rollback run
 * in-process (__tests__/inprocess/inputs.test.ts).
 */
import { jest } from '@jest/globals'
import { readFile } from 'node:fs/promises'
import yaml from 'js-yaml'
import type { Sandbox } from '../../sandbox/index.js'
import { expectExit, fastInputs, runAction, sandbox } from './harness.js'

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
