/**
 * `npm run build`: the main and post steps as one esbuild bundle, minified, split into the two
 * small entry files action.yml names and the chunks they share. What an entry imports with
 * `await import()` lands in its own chunk, parsed only when it is loaded: the main step checks its
 * inputs before it loads the Kubernetes and GitHub clients (src/index.ts), so a wrong input fails in
 * about the time Node takes to start.
 *
 * Why esbuild and not ncc: ncc (webpack) kept every module that client-node's index re-exports,
 * 20 MB per entry and two entries; esbuild drops the modules nothing uses (client-node's generated
 * API classes and models but the few the action calls, most of them) and shares one copy of the rest
 * between the entries. Measured with the metafile this script can write (`--metafile FILE`).
 *
 * `npm run build -- --outdir DIR` builds elsewhere (check-dist compares that with dist/). The
 * build is reproducible: the same source and lockfile give the same bytes.
 */
import { build, type Metafile } from 'esbuild'
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'

const ROOT = path.resolve(import.meta.dirname, '..')

/** The bundles' entries: output name (relative to the out dir, no extension) → source. */
export const ENTRIES: Record<string, string> = {
  index: 'src/index.ts',
  post: 'src/post.ts'
}

/** Options shared by the action's bundle and the bench's floor action, so they compare fairly. */
export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  minify: true,
  // The CommonJS packages inside (undici, tunnel, ...) call require() for Node's own modules,
  // which an ES module does not have: give every output file one, for its own location.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
  },
  legalComments: 'none',
  logLevel: 'warning'
} as const

/** The license text of a package folder, if it ships one. */
async function licenseText(dir: string): Promise<string | undefined> {
  const names = await readdir(dir).catch(() => [] as string[])
  const file = names.find((n) => /^(license|licence|copying)(\.|$)/i.test(n))
  return file ? (await readFile(path.join(dir, file), 'utf8')).trim() : undefined
}

/** The folder of the package a bundled file belongs to (its innermost node_modules entry). */
function packageDir(input: string): string | undefined {
  const parts = input.split('/')
  const at = parts.lastIndexOf('node_modules')
  if (at < 0) return undefined
  const scoped = parts[at + 1]?.startsWith('@')
  return parts.slice(0, at + (scoped ? 3 : 2)).join('/')
}

/**
 * licenses.txt: name, version, license and license text of every package with code in the
 * bundle, sorted by name, as ncc's --license wrote it before.
 */
export async function licenses(metafile: Metafile): Promise<string> {
  const dirs = new Set<string>()
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const dir = bytesInOutput > 0 ? packageDir(input) : undefined
      if (dir) dirs.add(dir)
    }
  }
  const entries = new Map<string, string>()
  for (const dir of dirs) {
    const pkg = JSON.parse(await readFile(path.join(ROOT, dir, 'package.json'), 'utf8')) as {
      name: string
      version: string
      license?: string
    }
    const text = await licenseText(path.join(ROOT, dir))
    const key = `${pkg.name}@${pkg.version}`
    entries.set(key, `${pkg.name}\n${pkg.version}\n${pkg.license ?? ''}\n${text ?? ''}\n`)
  }
  return [...entries.keys()]
    .sort()
    .map((k) => entries.get(k))
    .join('\n')
}

/** Builds the action into `outdir` (emptied first); returns esbuild's metafile. */
export async function buildAction(outdir: string): Promise<Metafile> {
  await rm(outdir, { recursive: true, force: true })
  const result = await build({
    ...BUNDLE_OPTIONS,
    absWorkingDir: ROOT,
    entryPoints: Object.entries(ENTRIES).map(([out, src]) => ({ in: src, out })),
    outdir,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    metafile: true
  })
  await writeFile(path.join(outdir, 'licenses.txt'), await licenses(result.metafile))
  // The bundles are ES modules wherever the action is copied without the repository's package.json.
  await writeFile(path.join(outdir, 'package.json'), '{ "type": "module" }\n')
  return result.metafile
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { outdir: { type: 'string' }, metafile: { type: 'string' } }
  })
  const outdir = path.resolve(ROOT, values.outdir ?? 'dist')
  const metafile = await buildAction(outdir)
  if (values.metafile) {
    await mkdir(path.dirname(path.resolve(values.metafile)), { recursive: true })
    await writeFile(values.metafile, JSON.stringify(metafile))
  }
}
