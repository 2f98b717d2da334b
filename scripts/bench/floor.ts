/**
 * The floor action for `npm run bench`: Node 24 and @actions/core alone, failing on a missing
 * input, as the action does before it does any work. Bundled the same way as the action
 * (scripts/build.ts), so the ratio of the two cold starts is the cost of what the action adds.
 */
import * as core from '@actions/core'

try {
  core.getInput('service', { required: true })
} catch (error) {
  core.setFailed((error as Error).message)
}
