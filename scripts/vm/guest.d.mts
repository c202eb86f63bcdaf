export interface VmOptions {
  hosts: 1 | 2;
  kernel: string;
  timeout: number;
  memory: string;
  cpu: string;
  accel: string;
  smp: string;
  /** A Slurm cluster on the two hosts (--slurm). */
  slurm?: boolean;
}
/** The harness's command line: its options, then the command (words joined with spaces); or a message for the user. */
export function parseVmArgs(argv: string[], env?: Record<string, string | undefined>): { options: VmOptions; command: string; error?: undefined } | { error: string; options?: undefined; command?: undefined };
/** `export NAME='value'` lines for the caller's environment, less what only makes sense on the host. */
export function guestExports(env?: Record<string, string | undefined>): string;
