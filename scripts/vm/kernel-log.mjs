// What in a guest kernel log fails a run.
const PROBLEM = /Kernel panic|\bBUG\b|WARNING:|\bOops\b|general protection|refcount_t|UBSAN|KASAN|kernel BUG|Call Trace:/;
// Where a kernel report on the serial console starts.
const REPORT_START = /Kernel panic|\bOops\b|\bBUG\b|Call Trace:|WARNING:|general protection|refcount_t|UBSAN|KASAN|watchdog: |rcu: INFO|INFO: task .* blocked/;
// A line the kernel printed on the serial console (its time stamp first).
const KERNEL_LINE = /^\[\s*\d+\.\d+\] /;

/** Lines of a dmesg dump that show a kernel bug, warning or oops. */
export function guestKernelProblems(log) {
  return log.split('\n').filter((line) => PROBLEM.test(line));
}

/**
 * The kernel's report in a serial log (a panic's oops and call trace): from
 * the first line that starts a report, up to the end of the panic message or
 * `maxLines` lines. Without such a line, the last `tailLines` lines.
 */
export function kernelReport(serial, maxLines = 120, tailLines = 30) {
  const lines = serial.split('\n');
  const first = lines.findIndex((l) => KERNEL_LINE.test(l) && REPORT_START.test(l));
  if (first < 0) return { found: false, lines: lines.slice(-tailLines) };
  const start = Math.max(0, first - 2);
  const endPanic = lines.findIndex((l, i) => i >= first && /---\[ end Kernel panic/.test(l));
  const end = endPanic >= 0 ? Math.min(endPanic + 1, start + maxLines) : Math.min(lines.length, start + maxLines);
  return { found: true, lines: lines.slice(start, end) };
}

/** Kernel lines of a serial log (time-stamped) that show a kernel bug, warning or oops. */
export function serialKernelProblems(serial) {
  return serial.split('\n').filter((line) => KERNEL_LINE.test(line) && PROBLEM.test(line));
}
