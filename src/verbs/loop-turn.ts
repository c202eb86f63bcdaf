/**
 * How long the process has gone without an event-loop turn while completions
 * were settled synchronously (reaped right after a post). Such settling runs
 * on microtasks alone: a program awaiting one operation after another would
 * starve its timers and I/O. So after LOOP_TURN_MS without a turn, the reap
 * after a post is skipped and the 'poll' engine yields before it spins, until
 * a turn comes.
 */
const LOOP_TURN_MS = 1;

/** performance.now() of the first synchronous settling since the last turn; -1: none since. */
let since = -1;

const turned = (): void => {
  since = -1;
};

/**
 * Marks a synchronous settling; false when the event loop is overdue for a
 * turn. `t`: performance.now(), when the caller has just read it.
 */
export function maySettleWithoutTurn(t = performance.now()): boolean {
  if (since < 0) {
    since = t;
    // Runs in the check phase of the next turn, after that turn's timers and I/O.
    setImmediate(turned).unref();
    return true;
  }
  return t - since <= LOOP_TURN_MS;
}

/** True when synchronous settling has gone on for LOOP_TURN_MS without a turn. `t` as above. */
export function loopTurnOverdue(t = performance.now()): boolean {
  return since >= 0 && t - since > LOOP_TURN_MS;
}
