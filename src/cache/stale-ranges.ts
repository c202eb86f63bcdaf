/**
 * The last `capacity` invalidated ranges, keyed by start address, so that a
 * miss which an invalidated entry would have answered can be counted as a
 * stale hit avoided (the `staleAvoided` statistic). Bookkeeping only: nothing
 * here decides a hit.
 *
 * Keyed by start, not searched by containment: recording runs inside every
 * invalidation, and an ordered index made it about a sixth of the generation
 * check's cost under emulation. A buffer freed and allocated again comes back
 * at the same start, which is the case the statistic is for; a miss for a
 * range inside an invalidated one but starting elsewhere is not counted.
 * @internal
 */
export class StaleRanges {
  /** start -> the latest invalidated range starting there, and how many ring slots hold that start. */
  readonly #byStart = new Map<number, { end: number; access: number; slots: number }>();
  /** Starts in the order recorded: a ring of `capacity` slots, the bound. */
  readonly #ring: number[] = [];
  #next = 0;

  constructor(readonly capacity: number) {}

  add(start: number, end: number, access: number): void {
    if (this.#ring.length === this.capacity) {
      const oldStart = this.#ring[this.#next]!;
      if (--this.#byStart.get(oldStart)!.slots === 0) this.#byStart.delete(oldStart);
      this.#ring[this.#next] = start;
      this.#next = (this.#next + 1) % this.capacity;
    } else {
      this.#ring.push(start);
    }
    const r = this.#byStart.get(start);
    if (r === undefined) this.#byStart.set(start, { end, access, slots: 1 });
    else {
      r.end = end;
      r.access = access;
      r.slots++;
    }
  }

  /** Whether the latest invalidated range starting at `start` had `access` and contained [start, end). */
  covers(start: number, end: number, access: number): boolean {
    const r = this.#byStart.get(start);
    return r !== undefined && end <= r.end && r.access === access;
  }

  /** Starts remembered (for tests). */
  get size(): number {
    return this.#byStart.size;
  }
}
