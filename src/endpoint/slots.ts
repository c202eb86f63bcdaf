/**
 * Back-pressure for a queue pair: at most `depth` operations are posted at
 * once; the rest wait in arrival order and are admitted as completions free
 * their slots. `close(err)` rejects every waiter.
 */
export class SlotQueue {
  #free: number;
  #waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  #closed: Error | undefined;

  constructor(readonly depth: number) {
    if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`queue depth must be a positive integer, got ${depth}`);
    this.#free = depth;
  }

  /** Operations posted and not yet completed. */
  get inFlight(): number {
    return this.depth - this.#free;
  }

  /** Operations waiting for a slot. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Takes a slot. Returns undefined when one was free (the common case, with no
   * promise allocated), else a promise that resolves when this caller's turn comes.
   */
  acquire(): Promise<void> | undefined {
    if (this.#closed) return Promise.reject(this.#closed);
    // Waiters go first: a newcomer never overtakes an operation already queued.
    if (this.#free > 0 && this.#waiters.length === 0) {
      this.#free--;
      return undefined;
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Gives a slot back; hands it straight to the oldest waiter if there is one. */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next.resolve();
    else if (this.#free < this.depth) this.#free++;
  }

  /** Rejects all waiters with `err`, and every later acquire(). */
  close(err: Error): void {
    if (this.#closed) return;
    this.#closed = err;
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }
}
