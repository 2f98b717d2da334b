/**
 * Keeps dist/ in step with src/ for what runs the built action (the end-to-end tests): when a
 * build input changed after the bundles were written, `npm run build` rebuilds them. The build is
 * reproducible, so over an unchanged source it rewrites dist/ byte for byte and
 * `npm run check-dist` (dist/ is what src/ builds) still holds.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import path from 'node:path'

/** What the bundles are built from: the source, and what decides how it is compiled. */
export const BUILD_INPUTS = [
  'src',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'scripts/build.ts'
]
/** The bundles `npm run build` writes. */
export const BUILD_OUTPUTS = ['dist/index.js', 'dist/post.js']

export interface Stamp {
  /** Relative to the repository root. */
  path: string
  /** Last modification, ms since the epoch; undefined when the file does not exist. */
  mtimeMs: number | undefined
}

export type BuildDecision = { build: false } | { build: true; reason: string }

/** Whether dist/ must be rebuilt: a bundle is missing, or an input is newer than the oldest one. */
export function buildDecision(inputs: readonly Stamp[], outputs: readonly Stamp[]): BuildDecision {
  const missing = outputs.find((o) => o.mtimeMs === undefined)
  if (missing) return { build: true, reason: `${missing.path} does not exist` }
  const oldest = Math.min(...outputs.map((o) => o.mtimeMs ?? 0))
  const newer = inputs.filter((i) => i.mtimeMs !== undefined && i.mtimeMs > oldest)
  const first = newer[0]
  if (first === undefined) return { build: false }
  const more = newer.length > 1 ? ` and ${newer.length - 1} more` : ''
  return { build: true, reason: `${first.path}${more} changed after dist/ was built` }
}

/** Every file under `paths` (files or folders), relative to `root`, with its modification time. */
export function stamps(root: string, paths: readonly string[]): Stamp[] {
  return paths.flatMap((relative) => {
    const full = path.join(root, relative)
    let stat
    try {
      stat = statSync(full)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return [{ path: relative, mtimeMs: undefined }]
      }
      throw error
    }
    if (!stat.isDirectory()) return [{ path: relative, mtimeMs: stat.mtimeMs }]
    const children = readdirSync(full).map((name) => path.join(relative, name))
    return stamps(root, children)
  })
}

/**
 * Rebuilds dist/ with `npm run build` when buildDecision says so; throws with the build's output
 * when the build fails. Returns what it decided.
 */
export function buildIfStale(root: string): BuildDecision {
  const decision = buildDecision(stamps(root, BUILD_INPUTS), stamps(root, BUILD_OUTPUTS))
  if (!decision.build) return decision
  const build = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8' })
  if (build.error) throw new Error(`npm run build could not start: ${build.error.message}`)
  if (build.status !== 0) {
    throw new Error(`npm run build failed (exit ${build.status}):\n${build.stdout}${build.stderr}`)
  }
  return decision
}
