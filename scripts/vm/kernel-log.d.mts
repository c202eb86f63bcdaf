/** Lines of a dmesg dump that show a kernel bug, warning or oops. */
export function guestKernelProblems(log: string): string[];
/** The kernel's report (oops, call trace, panic) in a serial log, or its last lines when there is none. */
export function kernelReport(serial: string, maxLines?: number, tailLines?: number): { found: boolean; lines: string[] };
/** Kernel lines of a serial log (time-stamped) that show a kernel bug, warning or oops. */
export function serialKernelProblems(serial: string): string[];
/** Each CPU's backtrace and the user tasks' and blocked tasks' states and stacks, from a sysrq w/l/t dump on a serial log. */
export function taskDumpSummary(dump: string, options?: { stackLines?: number; maxLines?: number }): string[];
