import { constants } from 'node:os';

const codeByErrno = new Map<number, string>(
  Object.entries(constants.errno).map(([name, value]) => [value, name]),
);
// Linux errnos that node's table leaves out but RDMA reports.
if (process.platform === 'linux' && !codeByErrno.has(70)) codeByErrno.set(70, 'ECOMM');

/** Name of an errno value ('ENOMEM' for 12), or 'E<number>' when the platform has no name for it. */
export function errnoCode(errno: number): string {
  return codeByErrno.get(errno) ?? `E${errno}`;
}

/**
 * The base of every error this library makes itself (wrong arguments are
 * `TypeError`/`RangeError` instead).
 *
 * `code` is the errno name ('ENOMEM'), `errno` its number and `syscall` the
 * call that failed ('ibv_reg_mr'). Completion errors use `code` 'ECOMM' and
 * carry the work completion status name in `status`. Subclasses:
 * {@link ClosedError} (`code` 'ERR_CLOSED', errno EBADF: an object used after
 * its `close()`) and `DrainIncompleteError` (a monitor drain that failed part way).
 */
export class RdmaError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  /** Work completion status name ('IBV_WC_REM_ACCESS_ERR') for failed operations. */
  status?: string;

  constructor(errno: number, syscall: string, detail?: string) {
    const code = errnoCode(errno);
    super(`${syscall} failed: ${code}${detail ? ` (${detail})` : ''}`);
    this.name = 'RdmaError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }
}

/** errno of a {@link ClosedError}: what the kernel says for a closed file descriptor. */
const EBADF = 9;

/**
 * An object used after its `close()` (or `deregister()`), or an operation that
 * was still pending when its object closed: `code` is always 'ERR_CLOSED',
 * `errno` EBADF (9), and `syscall` names the closed object ('ProtectionDomain',
 * 'Endpoint', 'MemoryMonitor', ...). No kernel call failed: nothing to retry on
 * this object; open a new one.
 *
 *     try { await ep.write(buf, remote) } catch (err) {
 *       if (err instanceof ClosedError) reconnect(); else throw err;
 *     }
 */
export class ClosedError extends RdmaError {
  declare readonly code: 'ERR_CLOSED';

  /** `what`: the closed object's class; `detail`: the rest of the message ('is closed'). */
  constructor(what: string, detail = 'is closed') {
    super(EBADF, what);
    this.name = 'ClosedError';
    (this as { code: string }).code = 'ERR_CLOSED';
    this.message = `${what} ${detail}`;
  }
}

/**
 * A failed PMIx call (the job launcher's process-management interface:
 * `mpirun`, `srun --mpi=pmix`). An {@link RdmaError} whose `code` is the PMIx
 * status's name in pmix_common.h ('PMIX_ERR_TIMEOUT', 'PMIX_ERR_UNREACH'),
 * `status` PMIx_Error_string's text for it ('TIMEOUT'), `errno` and
 * `pmixStatus` the PMIx status number (negative; not an errno), and `syscall`
 * the PMIx call that failed ('PMIx_Fence').
 *
 * When PMIx cannot be used at all (the addon was built without pmix.h, or
 * libpmix.so.2 cannot be opened) `code` is 'ERR_PMIX_UNAVAILABLE' and
 * `syscall` 'dlopen'.
 */
export class PmixError extends RdmaError {
  readonly pmixStatus: number;
  declare status: string;

  /**
   * `status`: the PMIx status number; `code`: its name; `detail`: what the call
   * was about; `description`: PMIx_Error_string(status).
   */
  constructor(status: number, call: string, code: string, detail?: string, description?: string) {
    super(status, call, detail);
    this.name = 'PmixError';
    this.pmixStatus = status;
    this.status = description ?? code;
    (this as { code: string }).code = code;
    const more = [description, detail].filter(Boolean).join(': ');
    this.message = `${call} failed: ${code}${more ? ` (${more})` : ''}`;
  }
}
