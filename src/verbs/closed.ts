/**
 * The error every verbs object throws when used after `close()`: a plain
 * `Error` whose `code` is `'ERR_CLOSED'` (not an RdmaError: no kernel call failed).
 * Operations still in flight when their queue pair closes reject with it too.
 */
export interface ClosedError extends Error {
  code: 'ERR_CLOSED';
}

/** Builds the ERR_CLOSED error for `what` ('ProtectionDomain', ...). */
export function closedError(what: string, detail = 'is closed'): ClosedError {
  const err = new Error(`${what} ${detail}`) as ClosedError;
  err.code = 'ERR_CLOSED';
  return err;
}
