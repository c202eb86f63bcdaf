// RLIMIT_MEMLOCK with real registrations: the cache keeps under it by evicting,
// and a real ENOMEM from ibv_reg_mr makes it evict unused entries and retry,
// then fail with a clear error. (Root ignores the limit, so the test drops
// CAP_IPC_LOCK from its effective set meanwhile: testing.pinLimit. That changes
// the process's credentials, after which uverbs files opened before refuse
// write()-based commands with EACCES; so nothing posts through `r` here.)
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RdmaError, RegistrationCache, MemoryMonitor } from '../../src/index.js';
import { bytes, pattern, rig, t, writeChecked, type Rig } from './cache-helpers.js';

const KiB = 1024;
const pinnedNow = () => Number(/VmPin:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * KiB;

let r: Rig;
beforeAll(async () => {
  r = await rig(64 * KiB);
});
afterAll(() => {
  t.pinLimit(null);
  r?.close();
});

describe('RegistrationCache under RLIMIT_MEMLOCK', () => {
  it('stays under the limit it reads from the process, evicting unused entries', async () => {
    t.pinLimit(pinnedNow() + 256 * KiB);
    const monitor = MemoryMonitor.open({ backend: 'ummunotify' });
    const cache = new RegistrationCache(r.pair.pd, { monitor }); // reads the lowered limit
    const regions = Array.from({ length: 12 }, () => t.mmap(64 * KiB));
    for (let round = 0; round < 2; round++) {
      for (const [i, a] of regions.entries()) {
        const view = pattern(bytes(a, 64 * KiB), round * 100 + i);
        const reg = cache.acquire(view);
        reg.release();
        expect(cache.stats().bytesPinned).toBeLessThanOrEqual(cache.stats().memlockLimit);
      }
    }
    expect(cache.stats().evictions).toBeGreaterThan(0);
    cache.close();
    monitor.close();
    t.pinLimit(null);
    for (const a of regions) t.munmap(a, 64 * KiB);
  });

  it('a real ENOMEM: evicts unused entries and retries, then a clear error', async () => {
    const base = pinnedNow();
    t.pinLimit(base + 256 * KiB);
    const monitor = MemoryMonitor.open({ backend: 'ummunotify' });
    // The cache is told there is no limit, so only the kernel enforces it.
    const cache = new RegistrationCache(r.pair.pd, { monitor, memlockLimit: Infinity });
    const a = Array.from({ length: 5 }, () => t.mmap(64 * KiB));
    const big = t.mmap(128 * KiB);
    try {
      const held = [cache.acquire(bytes(a[0]!, 64 * KiB)), cache.acquire(bytes(a[1]!, 64 * KiB))];
      cache.acquire(bytes(a[2]!, 64 * KiB)).release();
      cache.acquire(bytes(a[3]!, 64 * KiB)).release();
      // 256 KiB pinned: 128 more fail in the kernel, fit after evicting the two unused.
      const b = cache.acquire(bytes(big, 128 * KiB));
      expect(cache.stats()).toMatchObject({ enomemRetries: 1, evictions: 2 });
      let err: unknown;
      try {
        cache.acquire(bytes(a[4]!, 64 * KiB));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RdmaError);
      expect((err as RdmaError).code).toBe('ENOMEM');
      expect((err as Error).message).toMatch(/ulimit -l/);
      b.release();
      for (const h of held) h.release();
      t.pinLimit(null);
      // Back to normal: the memory that failed registers and writes correctly. (A new
      // device context: uverbs refuses write() commands on a file opened under other
      // credentials, and pinLimit changed ours.)
      const fresh = await rig(64 * KiB);
      try {
        expect(await writeChecked(fresh, pattern(bytes(a[4]!, 64 * KiB), 7))).toBe(true);
        expect(fresh.mismatches).toBe(0);
      } finally {
        fresh.close();
      }
    } finally {
      t.pinLimit(null);
      cache.close();
      monitor.close();
      for (const x of [...a, big]) t.munmap(x, x === big ? 128 * KiB : 64 * KiB);
    }
  });
});
