import type { Entry } from './entry.js';
import type { ViewSpan } from './view-memo.js';

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
  /** @internal the hold: its entry until released */
  entry: Entry | null;
  /** @internal */
  readonly owner: Releaser;
  /** The entry for lkey/rkey, kept after release. */
  readonly #entry: Entry;
  /** Address and length of the view (remembered with the view: a hit allocates only this Registration). */
  readonly #span: ViewSpan;
  #revoked = false;

  /** @internal use RegistrationCache.acquire */
  constructor(owner: Releaser, entry: Entry, span: ViewSpan) {
    this.owner = owner;
    this.entry = entry;
    this.#entry = entry;
    this.#span = span;
  }

  /** Address of the view's first byte. */
  get address(): bigint {
    return this.#span.address;
  }

  /** Bytes in the view. */
  get length(): number {
    return this.#span.byteLength;
  }

  /** Local key of the registration covering the view. */
  get lkey(): number {
    return this.#entry.lkey;
  }

  /** Remote key of the registration covering the view. */
  get rkey(): number {
    return this.#entry.rkey;
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
