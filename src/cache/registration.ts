import type { Entry } from './entry.js';

/** @internal the cache side of a Registration */
export interface Releaser {
  releaseEntry(entry: Entry): void;
}

/**
 * A hold on a cached registration covering the caller's view, from
 * `RegistrationCache.acquire`. `address`/`length` describe the view; `lkey`
 * and `rkey` are valid for it (the registration behind them covers the whole
 * pages the view touches). Call {@link release} when the operation using it
 * has completed; until then the registration is never evicted or deregistered
 * (an invalidated one is deregistered at its last release).
 */
export class Registration {
  readonly address: bigint;
  readonly length: number;
  readonly lkey: number;
  readonly rkey: number;
  /** @internal */
  entry: Entry | null;
  /** @internal */
  readonly owner: Releaser;
  #revoked = false;

  /** @internal use RegistrationCache.acquire */
  constructor(owner: Releaser, entry: Entry, address: bigint, length: number) {
    this.owner = owner;
    this.entry = entry;
    this.address = address;
    this.length = length;
    this.lkey = entry.lkey;
    this.rkey = entry.rkey;
  }

  /** True once released (or once the cache was closed). */
  get released(): boolean {
    return this.entry === null;
  }

  /**
   * True when the cache revoked this hold (from `acquireRevocable`) because
   * the memory behind it changed: the registration is deregistered, its rkey
   * no longer works, and a new acquire gives a fresh one.
   */
  get revoked(): boolean {
    return this.#revoked;
  }

  /** Gives the hold back. Idempotent. */
  release(): void {
    const e = this.entry;
    if (e === null) return;
    this.entry = null;
    e.revocable?.delete(this);
    this.owner.releaseEntry(e);
  }

  /** @internal the cache drops this hold; it already took the entry's reference back. */
  revoke(): void {
    this.entry = null;
    this.#revoked = true;
  }

  [Symbol.dispose](): void {
    this.release();
  }
}
