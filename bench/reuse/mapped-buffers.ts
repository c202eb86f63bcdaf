/**
 * Buffers the workload frees and reallocates on purpose: each is its own
 * mmap(), so freeing one is a real munmap() and the next mmap() of the same
 * length usually lands at the same address: exactly the case where a cache
 * without a monitor would hand the NIC the old pages.
 *
 * Adjacent anonymous mappings merge into one VMA, and unmapping a buffer in
 * the middle of a VMA makes the kernel run its huge-page split check at the
 * cut, which announces the whole surrounding 2 MiB as invalidated even when
 * no huge page is there. The module's mapping-only mode (the library's
 * default) skips that announcement because no TLB entry is flushed, so only
 * the freed buffer's registration goes; a V2 monitor or an older module
 * drops the neighbours' too. Merged is what most programs get (malloc'd
 * chunks merge the same way), so it is the default; `guard: true` ends each
 * buffer with an inaccessible page, so every buffer is a VMA of its own.
 */
import { testing } from '../../src/testing.js';

const t = testing;

export class MappedBuffers {
  readonly views: Uint8Array[] = [];
  readonly #addresses: bigint[] = [];
  /** Reallocations that got the freed address back. */
  sameAddress = 0;
  reallocations = 0;

  readonly #guard: number;

  constructor(readonly count: number, readonly size: number, guard = false) {
    this.#guard = guard ? t.constants.pageSize : 0;
    for (let i = 0; i < count; i++) this.#map(i);
  }

  /** Frees buffer `i` and maps a new one in its place (usually at the same address). */
  reallocate(i: number): void {
    const old = this.#addresses[i]!;
    t.munmap(old, this.size + this.#guard);
    this.#map(i);
    this.reallocations++;
    if (this.#addresses[i] === old) this.sameAddress++;
  }

  /** Unmaps every buffer; the views must not be touched afterwards. */
  free(): void {
    for (const a of this.#addresses.splice(0)) t.munmap(a, this.size + this.#guard);
    this.views.length = 0;
  }

  #map(i: number): void {
    const address = t.mmap(this.size + this.#guard);
    if (this.#guard) t.mprotect(address + BigInt(this.size), this.#guard, t.constants.PROT_NONE);
    this.#addresses[i] = address;
    this.views[i] = new Uint8Array(t.wrap(address, this.size));
  }
}
