/**
 * `npm run build:if-stale`: rebuilds dist/ when src/ (or what compiles it) changed after the last
 * build, and says so; silent when dist/ is current. Run before the end-to-end tests, which drive
 * the built action.
 */
import path from 'node:path'
import { buildIfStale } from './dist.js'

const root = path.resolve(import.meta.dirname, '..')
const started = Date.now()
try {
  const decision = buildIfStale(root)
  if (decision.build) {
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    console.log(`dist/ rebuilt (${decision.reason}) in ${seconds}s`)
  }
} catch (error) {
  console.error((error as Error).message)
  process.exitCode = 1
}
