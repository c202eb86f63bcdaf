import { IntervalIndex, type IntervalNode } from './interval-index.js';

/** A range that was invalidated. @internal */
class StaleRange implements IntervalNode {
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

/**
 * The last `capacity` invalidated ranges, so that a miss which an invalidated
 * entry would have answered can be counted as a stale hit avoided (the
 * `staleAvoided` statistic). Bookkeeping only: nothing here decides a hit.
 * @internal
 */
export class StaleRanges {
  readonly #index = new IntervalIndex<StaleRange>();
  readonly #queue: StaleRange[] = [];
  #head = 0;

  constructor(readonly capacity: number) {}

  add(id: number, start: number, end: number, access: number): void {
    const r = new StaleRange(id, start, end, access);
    this.#index.insert(r);
    this.#queue.push(r);
    if (this.#queue.length - this.#head > this.capacity) {
      this.#index.remove(this.#queue[this.#head++]!);
      // Compact now and then rather than shift() (O(n)) each time.
      if (this.#head >= this.capacity) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
    }
  }

  /** Whether an invalidated range with `access` contained [start, end). */
  covers(start: number, end: number, access: number): boolean {
    const r = this.#index.findContaining(start, end);
    return r !== undefined && r.access === access;
  }
}
