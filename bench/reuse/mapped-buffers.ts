/**
 * Buffers the workload frees and reallocates on purpose: each is its own
 * mmap(), so freeing one is a real munmap() and the next mmap() of the same
 * length usually lands at the same address: exactly the case where a cache
 * without a monitor would hand the NIC the old pages.
 */
import { native } from '../../src/native.js';

const t = native.testing;

export class MappedBuffers {
  readonly views: Uint8Array[] = [];
  readonly #addresses: bigint[] = [];
  /** Reallocations that got the freed address back. */
  sameAddress = 0;
  reallocations = 0;

  constructor(readonly count: number, readonly size: number) {
    for (let i = 0; i < count; i++) this.#map(i);
  }

  /** Frees buffer `i` and maps a new one in its place (usually at the same address). */
  reallocate(i: number): void {
    const old = this.#addresses[i]!;
    t.munmap(old, this.size);
    this.#map(i);
    this.reallocations++;
    if (this.#addresses[i] === old) this.sameAddress++;
  }

  /** Unmaps every buffer; the views must not be touched afterwards. */
  free(): void {
    for (const a of this.#addresses.splice(0)) t.munmap(a, this.size);
    this.views.length = 0;
  }

  #map(i: number): void {
    const address = t.mmap(this.size);
    this.#addresses[i] = address;
    this.views[i] = new Uint8Array(t.wrap(address, this.size));
  }
}
