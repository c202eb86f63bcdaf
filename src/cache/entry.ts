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
  // What a hit and its release touch comes first: one cache line of the object.
  /** Registrations handed out and not yet released. */
  refs = 0;
  /** In the index (findable). False once invalidated, evicted or not yet published. */
  valid = false;
  readonly access: number;
  lkey = 0;
  rkey = 0;
  /** Queued in the idle set (see IdleSet: it may be in use again meanwhile). */
  idle = false;
  /** Used again since it was queued in the idle set: a second chance before eviction. */
  reused = false;
  /** Holds from acquireRevocable(): dropped, not waited for, when the memory changes. */
  revocable: Set<{ revoke(): void }> | null = null;
  readonly id: number;
  readonly start: number;
  readonly end: number;
  mr: RangeRegistration | null = null;
  /** Its monitor watch is live. */
  watched = false;
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
