// What in a guest kernel log fails a run.
const PROBLEM = /Kernel panic|\bBUG\b|WARNING:|\bOops\b|general protection|refcount_t|UBSAN|KASAN|kernel BUG|Call Trace:/;
// Where a kernel report on the serial console starts.
const REPORT_START = /Kernel panic|\bOops\b|\bBUG\b|Call Trace:|WARNING:|general protection|refcount_t|UBSAN|KASAN|watchdog: |rcu: INFO|INFO: task .* blocked/;
// A line the kernel printed on the serial console (its time stamp first).
const KERNEL_LINE = /^\[\s*\d+\.\d+\] /;

// A user-space fault of perftest, which the kernel logs as "traps: ib_write_lat[pid]
// general protection fault ... in librdmacm". Not the kernel's: Debian 12's
// perftest (4.5-0.17) reuses freed rdma_cm ids when its client retries a
// rejected connection (fixed upstream in perftest 3d9d8d0; see
// bench/verbs/perftest.mjs). The bench records every such death in its
// results ("run again: ... client killed by SIGSEGV") and starts a new pair.
// Faults of any other process (node's included) still count.
const PERFTEST_FAULT = /\btraps: ib_(?:write|read|send|atomic)_(?:lat|bw)\[\d+\] /;
const problem = (line) => PROBLEM.test(line) && !PERFTEST_FAULT.test(line);

/** Lines of a dmesg dump that show a kernel bug, warning or oops. */
export function guestKernelProblems(log) {
  return log.split('\n').filter(problem);
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
  return serial.split('\n').filter((line) => KERNEL_LINE.test(line) && problem(line));
}

const TASK_LINE = /task:(\S+)\s+state:(\S).*?\bpid:\s*(\d+).*?\bppid:\s*(\d+)/;
const STRIP_STAMP = /^\[\s*\d+\.\d+\] ?/;

/**
 * What a sysrq dump (keys w, l and t) on a serial log says about a guest that
 * outlived its time limit: each CPU's backtrace, and the state and first stack
 * lines of every user task and of every task blocked in D state (kernel
 * threads that sleep as they should are left out). Up to `maxLines` lines.
 */
export function taskDumpSummary(dump, { stackLines = 10, maxLines = 200 } = {}) {
  const lines = dump.split('\n').map((l) => l.replace(STRIP_STAMP, ''));
  const out = [];
  for (let i = 0; i < lines.length && out.length < maxLines; i++) {
    const task = TASK_LINE.exec(lines[i]);
    const cpu = /^NMI backtrace for cpu \d+/.test(lines[i]);
    if (!cpu && !task) continue;
    if (task) {
      const [, , state, pid, ppid] = task;
      const kernelThread = pid === '2' || ppid === '2';
      if (kernelThread && state !== 'D') continue;
    }
    out.push(lines[i]);
    for (let j = i + 1; j < lines.length && j <= i + stackLines && out.length < maxLines; j++) {
      if (TASK_LINE.test(lines[j]) || /^NMI backtrace for cpu/.test(lines[j]) || lines[j].trim() === '') break;
      out.push(`  ${lines[j].trim()}`);
    }
  }
  return out;
}
