import { closedError } from './closed.js';

/**
 * Lifetime of every verbs object (pyverbs style): a child keeps its parents
 * alive and registers with them; a parent's close() closes its children first
 * (newest first); close() is idempotent; `[Symbol.dispose]` aliases it; any
 * use after close throws an Error with code 'ERR_CLOSED'. Native objects
 * still open when the environment shuts down are released by native cleanup
 * hooks, and GC finalizers release forgotten ones as a last resort.
 */
export abstract class Resource implements Disposable {
  #closed = false;
  readonly #children = new Set<Resource>();
  readonly #parents: Resource[];
  /** Class name used in error messages. */
  protected abstract readonly kind: string;

  protected constructor(parents: Resource[]) {
    for (const p of parents) p.assertOpen();
    // One parent is the common case (an MR per cache miss): no Set to dedupe.
    this.#parents = parents.length < 2 ? parents : [...new Set(parents)];
    for (const p of this.#parents) p.#children.add(this);
  }

  /** True once close() has completed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Throws ERR_CLOSED when this object (or its device) is closed. */
  protected assertOpen(): void {
    if (this.#closed) throw closedError(this.kind);
  }

  /** Releases the kernel resources, children first. Idempotent. */
  close(): void {
    if (this.#closed) return;
    // Most objects (MRs) have no children: no copy of the set then.
    if (this.#children.size !== 0) for (const child of [...this.#children].reverse()) child.close();
    this.release();
    this.#closed = true;
    for (const p of this.#parents) p.#children.delete(this);
  }

  /** Marks this object closed without releasing anything (its construction failed). */
  protected abandon(): void {
    this.#closed = true;
    for (const p of this.#parents) p.#children.delete(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Frees this object's native resources (children are already closed). */
  protected abstract release(): void;
}
