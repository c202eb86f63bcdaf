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
  // What a hit and its release touch comes first, in as few cache lines of
  // the object as the fields allow (V8 lays fields out in this order).
  /** Registrations handed out and not yet released. */
  refs = 0;
  /** In the index (findable). False once invalidated, evicted or not yet published. */
  valid = false;
  /** The cache this entry belongs to (a view's tag may lead another cache here). */
  readonly owner: object | null;
  readonly access: number;
  lkey = 0;
  /** Queued in the idle set (see IdleSet: it may be in use again meanwhile). */
  idle = false;
  /** Used again since it was queued in the idle set: a second chance before eviction. */
  reused = false;
  /** Holds from acquireRevocable(): dropped, not waited for, when the memory changes. */
  revocable: Set<{ revoke(): void }> | null = null;
  rkey = 0;
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

  constructor(id: number, start: number, end: number, access: number, owner: object | null = null) {
    this.owner = owner;
    this.id = id;
    this.start = start;
    this.end = end;
    this.access = access;
  }

  get length(): number {
    return this.end - this.start;
  }
}
