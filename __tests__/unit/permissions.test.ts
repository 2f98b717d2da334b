/** The Role in the README is the one preflight checks: both come from src/permissions.ts. */
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import yaml from 'js-yaml'
import {
  ACCESS_REVIEW_PERMISSION,
  REQUIRED_PERMISSIONS,
  rbacManifests
} from '../../src/permissions.js'

const README = path.resolve(import.meta.dirname, '../../README.md')

it('the README Role and ClusterRole are exactly rbacManifests()', async () => {
  const markdown = await readFile(README, 'utf8')
  const block = /### Permissions[\s\S]*?```yaml\n([\s\S]*?)```/.exec(markdown)?.[1]
  expect(block).toBeDefined()
  const docs = yaml.loadAll(block as string) as Array<{ metadata: { namespace?: string } }>
  expect(docs).toEqual(rbacManifests(docs[0]?.metadata.namespace as string))
})

it("the README's gateway-api Role is exactly rbacManifests(namespace, 'gateway-api')", async () => {
  const markdown = await readFile(README, 'utf8')
  const block = /### Gateway API[\s\S]*?```yaml\n([\s\S]*?)```/.exec(markdown)?.[1]
  expect(block).toBeDefined()
  const docs = yaml.loadAll(block as string) as Array<{ metadata: { namespace?: string } }>
  expect(docs).toEqual([rbacManifests(docs[0]?.metadata.namespace as string, 'gateway-api')[0]])
})

it('asks for no verb twice, only namespace-scoped resources in the Role, and no delete', () => {
  const keys = REQUIRED_PERMISSIONS.flatMap((p) =>
    p.verbs.map((v) => `${p.group}/${p.resource}/${v}`)
  )
  expect(new Set(keys).size).toBe(keys.length)
  expect(REQUIRED_PERMISSIONS.map((p) => p.resource)).not.toContain('namespaces')
  expect(REQUIRED_PERMISSIONS.map((p) => p.resource)).not.toContain(
    ACCESS_REVIEW_PERMISSION.resource
  )
  expect(keys.filter((k) => /\/(delete|deletecollection|\*)$/.test(k))).toEqual([])
})
