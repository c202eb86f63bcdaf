/** Lines of a dmesg dump that show a kernel bug, warning or oops. */
export function guestKernelProblems(log: string): string[];
