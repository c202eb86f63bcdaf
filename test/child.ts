// Child processes for the tests, always asynchronous: a test that waits
// synchronously (spawnSync) for more than about a minute stops its worker
// answering vitest, and the run dies with "Timeout calling onTaskUpdate"
// (seen in the VM group when the machine was loaded).
import { spawn } from 'node:child_process';

/** How a child ended and what it printed. `ms`: its wall time. */
export interface ChildRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface ChildOptions {
  /** Killed with SIGKILL after this long (default 240 s). */
  timeoutMs?: number;
  /** Added to this process's environment. */
  env?: Record<string, string>;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Killed (SIGKILL) as soon as this is true of its output so far. */
  until?: (stdout: string) => boolean;
}

/** Runs `cmd args` to its end. Never rejects: a child that cannot start ends with status null and the reason in stderr. */
export function runChild(cmd: string, args: string[], options: ChildOptions = {}): Promise<ChildRun> {
  const { timeoutMs = 240_000, env, cwd, uid, gid, until } = options;
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd, uid, gid, env: env ? { ...process.env, ...env } : process.env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (until?.(stdout)) child.kill('SIGKILL');
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    let failed: Error | undefined;
    child.on('error', (err) => (failed = err));
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr: failed ? `${stderr}${failed.message}` : stderr, ms: Date.now() - started });
    });
  });
}

/** The JSON lines of a child's output (one object per rank, per step...). */
export function jsonLines(out: string): Record<string, unknown>[] {
  return out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}
