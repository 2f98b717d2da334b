/** The Role in the README is the one preflight checks: both come from REQUIRED_PERMISSIONS. */
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import yaml from 'js-yaml'
import { REQUIRED_PERMISSIONS, roleManifest } from '../../src/permissions.js'

const README = path.resolve(import.meta.dirname, '../../README.md')

it('the README Role is exactly roleManifest()', async () => {
  const markdown = await readFile(README, 'utf8')
  const block = /### Permissions[\s\S]*?```yaml\n([\s\S]*?)```/.exec(markdown)?.[1]
  expect(block).toBeDefined()
  const role = yaml.load(block as string) as { metadata: { namespace: string } }
  expect(role).toEqual(roleManifest(role.metadata.namespace))
})

it('asks for no verb twice and only namespace-scoped resources', () => {
  const keys = REQUIRED_PERMISSIONS.flatMap((p) =>
    p.verbs.map((v) => `${p.group}/${p.resource}/${v}`)
  )
  expect(new Set(keys).size).toBe(keys.length)
  expect(REQUIRED_PERMISSIONS.map((p) => p.resource)).not.toContain('namespaces')
})
