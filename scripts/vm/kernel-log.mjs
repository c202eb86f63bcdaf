// What in a guest kernel log fails a run.
const PROBLEM = /\bBUG\b|WARNING:|\bOops\b|general protection|refcount_t|UBSAN|KASAN|kernel BUG|Call Trace:/;

/** Lines of a dmesg dump that show a kernel bug, warning or oops. */
export function guestKernelProblems(log) {
  return log.split('\n').filter((line) => PROBLEM.test(line));
}
