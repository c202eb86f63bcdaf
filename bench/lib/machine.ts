/** The machine a report was measured on, named in every report. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  hostKernel: string;
  node: string;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAverage: number;
  /** Other qemu guests running when the run started (they share the cores). */
  otherGuests: number;
  commit: string;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux: fall through
  }
  return cpus()[0]?.model ?? 'unknown';
}

function countGuests(): number {
  try {
    return Number(execFileSync('pgrep', ['-c', '-f', '^qemu-system'], { encoding: 'utf8' }).trim());
  } catch {
    return 0; // pgrep exits 1 when nothing matches
  }
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function machine(): Machine {
  return {
    cpu: cpuModel(),
    cores: cpus().length,
    hostKernel: release(),
    node: process.version,
    loadAverage: loadavg()[0]!,
    otherGuests: countGuests(),
    commit: commit(),
  };
}
