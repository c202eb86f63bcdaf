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
 * A failure reported by the kernel, libibverbs or librdmacm.
 *
 * `code` is the errno name ('ENOMEM'), `errno` its number and `syscall` the
 * call that failed ('ibv_reg_mr'). Completion errors use `code` 'ECOMM' and
 * carry the work completion status name in `status`.
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
