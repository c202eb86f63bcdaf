/**
 * Invalidation cost: the time from munmap() of a cached buffer to the next
 * operation's generation check having evicted its entry (the kernel's
 * notifier, the counter, the drain, ibv_dereg_mr). Reference: munmap() of
 * the same kind of mapping with nothing registered, same run.
 */
import { MemoryMonitor, RegistrationCache, type ProtectionDomain } from '../../src/index.js';
import { native } from '../../src/native.js';

const t = native.testing;

export interface InvalidationCost {
  size: number;
  iters: number;
  /** munmap of an unregistered mapping. */
  plainMunmapUs: number;
  /** munmap of a cached one (the notifier runs). */
  munmapUs: number;
  /** The generation check after it: drain + evict + deregister. */
  evictUs: number;
  /** munmapUs + evictUs. */
  totalUs: number;
}

const now = () => process.hrtime.bigint();
const us = (ns: bigint) => Number(ns) / 1e3;

export function invalidationCost(pd: ProtectionDomain, size: number, iters: number): InvalidationCost {
  const monitor = MemoryMonitor.open({ backend: 'ummunotify' });
  const cache = new RegistrationCache(pd, { monitor });
  let plain = 0n;
  let unmap = 0n;
  let evict = 0n;
  try {
    for (let i = 0; i < iters; i++) {
      // The reference: same mapping, touched, never registered.
      let a = t.mmap(size);
      new Uint8Array(t.wrap(a, size)).fill(1);
      let t0 = now();
      t.munmap(a, size);
      plain += now() - t0;

      a = t.mmap(size);
      const view = new Uint8Array(t.wrap(a, size)).fill(1);
      cache.acquire(view).release();
      const before = cache.stats().invalidations;
      t0 = now();
      t.munmap(a, size);
      const t1 = now();
      const moved = cache.checkGeneration();
      const t2 = now();
      if (!moved || cache.stats().invalidations !== before + 1) throw new Error('munmap did not invalidate the cached entry');
      unmap += t1 - t0;
      evict += t2 - t1;
    }
  } finally {
    cache.close();
    monitor.close();
  }
  const n = BigInt(iters);
  return {
    size,
    iters,
    plainMunmapUs: us(plain / n),
    munmapUs: us(unmap / n),
    evictUs: us(evict / n),
    totalUs: us((unmap + evict) / n),
  };
}
