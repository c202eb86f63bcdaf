/**
 * Runs that failed and were run again, kept in the results instead of being
 * dropped: for each step, how many runs it made and why each failed one did
 * not count. The report and the bench's last lines show them ("n of N").
 */
export interface RetryRecord {
  /** The step: 'buffer-reuse demo', 'ib_write_bw 4 KiB', ... */
  what: string;
  /** Runs made, failed ones included. */
  runs: number;
  /** One line per failed run: which repetition, and what happened (signal, exit, 0 MB/s). */
  failed: string[];
}

export class Retries {
  private readonly byStep = new Map<string, RetryRecord>();

  private get(what: string): RetryRecord {
    let r = this.byStep.get(what);
    if (!r) this.byStep.set(what, (r = { what, runs: 0, failed: [] }));
    return r;
  }

  /** One more run of `what`. */
  ran(what: string): void {
    this.get(what).runs++;
  }

  /** A run of `what` that did not count, and why. */
  failed(what: string, why: string): void {
    this.get(what).failed.push(why);
  }

  /** Steps with at least one failed run. */
  list(): RetryRecord[] {
    return [...this.byStep.values()].filter((r) => r.failed.length > 0);
  }
}

/** "ib_write_bw 4 KiB: 2 of 7 runs failed (rep 1: ..., rep 3: ...)" */
export function describeRetry(r: RetryRecord): string {
  return `${r.what}: ${r.failed.length} of ${r.runs} run(s) failed and did not count (${r.failed.join('; ')})`;
}
