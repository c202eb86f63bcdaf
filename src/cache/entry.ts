import type { IntervalNode } from './interval-index.js';

/** What a registrar hands back for one registered range. */
export interface RangeRegistration {
  readonly lkey: number;
  readonly rkey: number;
  deregister(): void;
}

/**
 * Whatever registers memory for the cache: `ProtectionDomain` has exactly this
 * method. `registerRange` throws an RdmaError (code 'ENOMEM' when the pages
 * cannot be pinned, 'EFAULT' for unmapped memory, ...) on failure.
 */
export interface Registrar {
  registerRange(address: bigint, length: number, access: number): RangeRegistration;
}

/**
 * One cached registration of the page-rounded range [start, end) with `access`.
 * @internal
 */
export class Entry implements IntervalNode {
  readonly id: number;
  readonly start: number;
  readonly end: number;
  readonly access: number;
  lkey = 0;
  rkey = 0;
  mr: RangeRegistration | null = null;
  /** Registrations handed out and not yet released. */
  refs = 0;
  /** In the index (findable). False once invalidated, evicted or not yet published. */
  valid = false;
  /** Its monitor watch is live. */
  watched = false;
  /** Tick of its last release, and the tick it had when last put at the LRU's recent end. */
  stamp = 0;
  lruStamp = 0;
  /** In the lru-cache (unused entries, plus in-use ones not yet noticed at the tail). */
  inLru = false;
  /** Holds from acquireRevocable(): dropped, not waited for, when the memory changes. */
  revocable: Set<{ revoke(): void }> | null = null;
  left: IntervalNode | null = null;
  right: IntervalNode | null = null;
  priority = 0;
  maxEnd = 0;

  constructor(id: number, start: number, end: number, access: number) {
    this.id = id;
    this.start = start;
    this.end = end;
    this.access = access;
  }

  get length(): number {
    return this.end - this.start;
  }
}

/** A range that was invalidated, remembered to count stale hits avoided. @internal */
export class Ghost implements IntervalNode {
  left: IntervalNode | null = null;
  right: IntervalNode | null = null;
  priority = 0;
  maxEnd = 0;
  constructor(
    readonly id: number,
    readonly start: number,
    readonly end: number,
    readonly access: number,
  ) {}
}
