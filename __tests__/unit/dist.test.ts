/** When the end-to-end tests rebuild dist/ first (scripts/dist.ts): a table of stamps. */
import { mkdtemp, mkdir, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from '@jest/globals'
import { buildDecision, stamps, type Stamp } from '../../scripts/dist.js'

const at = (p: string, mtimeMs: number | undefined): Stamp => ({ path: p, mtimeMs })
const bundles = (index: number | undefined, post: number | undefined): Stamp[] => [
  at('dist/index.js', index),
  at('dist/post.js', post)
]

describe('buildDecision', () => {
  it.each([
    ['every input older than both bundles', [at('src/a.ts', 10)], bundles(20, 30), undefined],
    ['an input as old as the bundles', [at('src/a.ts', 20)], bundles(20, 20), undefined],
    [
      'an input newer than the older bundle',
      [at('src/a.ts', 10), at('src/b.ts', 25)],
      bundles(20, 30),
      'src/b.ts changed after dist/ was built'
    ],
    [
      'several newer inputs',
      [at('src/a.ts', 40), at('package-lock.json', 50), at('tsconfig.json', 5)],
      bundles(20, 30),
      'src/a.ts and 1 more changed after dist/ was built'
    ],
    [
      'a missing bundle',
      [at('src/a.ts', 10)],
      bundles(20, undefined),
      'dist/post.js does not exist'
    ],
    [
      'a missing input (no tsconfig.json, say)',
      [at('tsconfig.json', undefined)],
      bundles(20, 20),
      undefined
    ]
  ])('%s', (_, inputs, outputs, reason) => {
    expect(buildDecision(inputs, outputs)).toEqual(
      reason === undefined ? { build: false } : { build: true, reason }
    )
  })
})

describe('stamps', () => {
  let root = ''
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true })
  })

  it('lists every file under a folder, and a missing path as having no time', async () => {
    root = await mkdtemp(path.join(tmpdir(), 'ibg-dist-'))
    await mkdir(path.join(root, 'src/core'), { recursive: true })
    await writeFile(path.join(root, 'src/index.ts'), '')
    await writeFile(path.join(root, 'src/core/a.ts'), '')
    await utimes(path.join(root, 'src/core/a.ts'), 1, 1)
    const found = stamps(root, ['src', 'package.json'])
    expect(found.map((s) => s.path).sort()).toEqual(
      [path.join('src', 'core', 'a.ts'), path.join('src', 'index.ts'), 'package.json'].sort()
    )
    expect(found.find((s) => s.path === 'package.json')?.mtimeMs).toBeUndefined()
    expect(found.find((s) => s.path.endsWith('a.ts'))?.mtimeMs).toBe(1000)
  })
})
