import type { CacheableMemory } from '../cache/index.js';
import { DEFAULT_ACCESS } from '../verbs/index.js';
import type { RegistrationSource } from './per-operation.js';
import type { RemoteBuffer } from './remote-buffer.js';

type Held = ReturnType<RegistrationSource['acquire']>;

/**
 * The views a process has made reachable by its peers, each held in the
 * cache until unexposed. A hold the cache revoked (the memory behind the view
 * changed mapping) is dropped on the next expose of that view, which then
 * registers afresh with a new rkey: a peer holding the old description gets
 * a remote access error, never the old pages.
 */
export class Exposures {
  readonly #cache: RegistrationSource;
  readonly #held = new Map<CacheableMemory, Held>();

  constructor(cache: RegistrationSource) {
    this.#cache = cache;
  }

  expose(view: CacheableMemory): RemoteBuffer {
    this.#cache.checkGeneration?.();
    let reg = this.#held.get(view);
    if (reg !== undefined && reg.revoked === true) {
      this.#held.delete(view);
      reg = undefined;
    }
    if (reg === undefined) {
      reg = this.#cache.acquireRevocable
        ? this.#cache.acquireRevocable(view, DEFAULT_ACCESS)
        : this.#cache.acquire(view, DEFAULT_ACCESS);
      this.#held.set(view, reg);
    }
    return { address: `0x${reg.address.toString(16)}`, rkey: reg.rkey, length: reg.length };
  }

  unexpose(view: CacheableMemory): void {
    const reg = this.#held.get(view);
    if (reg === undefined) return;
    this.#held.delete(view);
    reg.release();
  }

  /** Ends every exposure (the registrations return to the cache). */
  clear(): void {
    for (const reg of this.#held.values()) reg.release();
    this.#held.clear();
  }
}
