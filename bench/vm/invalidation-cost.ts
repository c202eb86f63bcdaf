/**
 * Invalidation cost: the time from munmap() of a cached buffer to the next
 * operation's generation check having evicted its entry (the kernel's
 * notifier, the counter, the drain, ibv_dereg_mr). Reference: munmap() of
 * the same kind of mapping with nothing registered, same run. Medians per
 * iteration, after an untimed warm-up.
 */
import { MemoryMonitor, RegistrationCache, type ProtectionDomain } from '../../src/index.js';
import { testing } from '../../src/testing.js';
import { spread } from '../lib/stats.js';

const t = testing;
const WARMUP = 20;

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
  const plain: number[] = [];
  const unmap: number[] = [];
  const evict: number[] = [];
  try {
    // The first iterations run cold (JIT, page tables): warm up untimed.
    for (let i = -WARMUP; i < iters; i++) {
      // The reference: same mapping, touched, never registered.
      let a = t.mmap(size);
      new Uint8Array(t.wrap(a, size)).fill(1);
      let t0 = now();
      t.munmap(a, size);
      const plainNs = now() - t0;

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
      if (i < 0) continue;
      plain.push(us(plainNs));
      unmap.push(us(t1 - t0));
      evict.push(us(t2 - t1));
    }
  } finally {
    cache.close();
    monitor.close();
  }
  return {
    size,
    iters,
    plainMunmapUs: spread(plain).median,
    munmapUs: spread(unmap).median,
    evictUs: spread(evict).median,
    totalUs: spread(unmap.map((u, i) => u + evict[i]!)).median,
  };
}
