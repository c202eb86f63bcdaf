import { ClosedError } from '../errors.js';

export { ClosedError };

/** Builds the {@link ClosedError} for `what` ('ProtectionDomain', ...): code 'ERR_CLOSED', errno EBADF. */
export function closedError(what: string, detail = 'is closed'): ClosedError {
  return new ClosedError(what, detail);
}
