/**
 * How the two-host benchmarks start their programs (inside node1 of
 * `npm run vm -- --hosts 2`): mpirun over both guests, a command on the other
 * guest (through the harness's remote shell, scripts/vm/vm-rsh), and a child
 * process whose JSON lines are read as they come. Everything is spawned
 * asynchronously.
 *
 * The peer can also be 'local' (one guest, `npm run vm -- ...`): every rank
 * and the perftest server then run in this guest, over its own rxe0. It is
 * there to try the benchmarks without the second guest; its figures are not
 * figures across hosts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Hosts {
  /** This guest's name (node1), or 'local'. */
  self: string;
  /** The other guest's name (node2), or 'local'. */
  peer: string;
}

/** True when both ends run in this guest (the one-guest try-out mode). */
export const isLocal = (h: Hosts) => h.peer === 'local';

/** A command prefix that runs a command on the peer (for perftest's server), as ssh would. */
export function onPeer(h: Hosts): string[] {
  return isLocal(h) ? [] : ['scripts/vm/vm-rsh', h.peer];
}

/**
 * Environment for mpirun: what the harness sets on the guests (run as root,
 * the wire's interface, ob1 over shared memory and TCP) is kept; the one-guest
 * mode gets the run-as-root switches and the same PML/BTL choice.
 */
export function mpiEnv(): NodeJS.ProcessEnv {
  return {
    OMPI_ALLOW_RUN_AS_ROOT: '1',
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
    OMPI_MCA_pml: 'ob1',
    OMPI_MCA_btl: 'self,vader,tcp',
    ...process.env,
  };
}

/** mpirun's arguments for `perHost` ranks on each of the two hosts, then `command`. */
export function mpirunArgs(h: Hosts, perHost: number, command: string[], extra: string[] = []): string[] {
  const where = isLocal(h) ? ['--oversubscribe', '--host', `localhost:${2 * perHost}`] : ['--host', `${h.self}:${perHost},${h.peer}:${perHost}`];
  return [...where, '-np', String(2 * perHost), ...extra, ...command];
}

/** A child process whose stdout is read as JSON lines (other lines and stderr are passed through to our stderr). */
export class JsonChild {
  readonly child: ChildProcess;
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every line the child printed on stdout or stderr (for error messages). */
  readonly output: string[] = [];
  private readonly queue: Record<string, unknown>[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;

  constructor(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; stdin?: boolean; timeoutMs: number; echo?: (line: string) => void }) {
    this.child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const echo = opts.echo ?? ((l: string) => process.stderr.write(`  | ${l}\n`));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.output.push(line);
      if (line.startsWith('{')) {
        try {
          this.queue.push(JSON.parse(line) as Record<string, unknown>);
          this.wake();
          return;
        } catch {
          // not JSON after all: shown below
        }
      }
      echo(line);
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => {
      this.output.push(line);
      echo(line);
    });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), opts.timeoutMs);
    this.done = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.output.push(`cannot start ${cmd}: ${err.message}`);
      });
      this.child.on('close', (code, signal) => {
        clearTimeout(timer);
        this.ended = true;
        this.wake();
        resolve({ code, signal });
      });
    });
  }

  private wake() {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Writes one line to the child's stdin. */
  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** Takes the first JSON line for which `match` holds (others stay queued); rejects on an {"op":"error"} line, if the child ends first, or after `timeoutMs`. */
  async next(match: (o: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const error = this.queue.find((o) => o.op === 'error');
      if (error) throw new Error(`${what}: ${String(error.message)}`);
      const at = this.queue.findIndex(match);
      if (at >= 0) return this.queue.splice(at, 1)[0]!;
      if (this.ended) throw new Error(`${what}: the program ended first (${this.tail()})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: no answer within ${Math.round(timeoutMs / 1000)} s (${this.tail()})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Every JSON line once the child has ended, with its exit. */
  async all(): Promise<{ lines: Record<string, unknown>[]; code: number | null; signal: NodeJS.Signals | null }> {
    const end = await this.done;
    const lines = this.queue.splice(0);
    return { lines, ...end };
  }

  /** The last few lines of output, for an error message. */
  tail(n = 6): string {
    return this.output.slice(-n).join(' / ') || 'no output';
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
