import { LRUCache } from 'lru-cache';
import type { Entry } from './entry.js';

/**
 * The cached registrations no one holds, bounded, oldest release out first:
 * an lru-cache of entries keyed by id. An entry enters when its last user
 * releases it; the cache deregisters what {@link takeOldest} hands out.
 *
 * Leaving on reuse is lazy. Every lru-cache call is a hash-table operation,
 * and at 100,000 entries a delete + set costs about 6x a `Map.get` (2,000 vs
 * 350 ns, measured here), which alone would triple the cost of a hit. So a
 * hit only raises the entry's reference count: an entry in use is simply not
 * idle, wherever it sits in the lru-cache. Its release marks it `reused`
 * instead of moving it. At the old end, {@link takeOldest} drops an entry in
 * use (it comes back at its next last release) and sends a reused one back to
 * the recent end (a second chance, as in CLOCK), so an entry used recently is
 * not evicted before one that was not. Each entry is moved at most once per
 * trip through the set: the hash-table work leaves the hit path instead of
 * being repeated on it.
 *
 * Nothing here deregisters: lru-cache's dispose only collects what it pushed
 * out, and the cache deregisters after the call returns (never inside
 * lru-cache, never inside a monitor report).
 * @internal
 */
export class IdleSet {
  readonly #lru: LRUCache<number, Entry>;
  /** Pushed out by lru-cache's own bound during a set(): judged by takeOldest. */
  readonly #overflow: Entry[] = [];
  /** Our own removals (delete, pop) are not evictions. */
  #removing = false;

  constructor(max: number) {
    this.#lru = new LRUCache<number, Entry>({
      max,
      dispose: (e, _id, reason) => {
        e.idle = false;
        if (reason === 'evict' && !this.#removing) this.#overflow.push(e);
      },
    });
  }

  /** Entries queued (some may be in use again: see the class comment). */
  get size(): number {
    return this.#lru.size + this.#overflow.length;
  }

  /** `e`'s last user released it. */
  enter(e: Entry): void {
    if (e.idle) {
      e.reused = true; // still queued from an earlier release: no hash-table work now
      return;
    }
    e.idle = true;
    e.reused = false;
    this.#lru.set(e.id, e);
  }

  /** `e` must never be handed out by takeOldest (it was invalidated or evicted otherwise). */
  remove(e: Entry): void {
    if (!e.idle) return;
    this.#removing = true;
    try {
      // lru-cache clears all its slot arrays (O(max)) when delete() empties it;
      // pop() of the last item does not.
      if (this.#lru.size === 1) this.#lru.pop();
      else this.#lru.delete(e.id);
    } finally {
      this.#removing = false;
    }
    e.idle = false;
  }

  /**
   * The least recently released entry no one holds, now out of the set, or
   * undefined when every entry queued is in use.
   */
  takeOldest(): Entry | undefined {
    for (;;) {
      let e = this.#overflow.pop();
      if (e !== undefined) {
        if (e.idle) continue; // released again since, so queued again: it comes out in its turn
      } else {
        if (this.#lru.size === 0) return undefined;
        this.#removing = true;
        try {
          e = this.#lru.pop()!;
        } finally {
          this.#removing = false;
        }
        e.idle = false;
      }
      if (e.refs !== 0 || !e.valid) continue; // in use: it comes back at its last release
      if (e.reused) {
        this.enter(e); // second chance, at the recent end
        continue;
      }
      return e;
    }
  }

  /** Whether lru-cache pushed entries out that takeOldest has not judged yet. */
  get overflowed(): boolean {
    return this.#overflow.length !== 0;
  }

  clear(): void {
    this.#removing = true;
    try {
      this.#lru.clear();
    } finally {
      this.#removing = false;
    }
    for (const e of this.#overflow) e.idle = false;
    this.#overflow.length = 0;
  }
}
