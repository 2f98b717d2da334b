/**
 * What the main step leaves for the post step (core.saveState), in a module of its own so that
 * both entries can read it before they load the rest of the action.
 */

/** State keys shared by the main and post steps. */
export const STATE = { runId: 'run-id', finished: 'main-finished' } as const

/**
 * Whether the post step may have something to clean up: the main step did not finish, and it got
 * far enough to say who it was (before that it never took the lock).
 */
export function postMayHaveWork(getState: (name: string) => string): boolean {
  return getState(STATE.finished) !== 'true' && getState(STATE.runId) !== ''
}
