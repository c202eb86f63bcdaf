// RLIMIT_MEMLOCK with real registrations: the cache keeps under the limit it
// reads by evicting, and a real ENOMEM from ibv_reg_mr makes it evict unused
// entries and retry, then fail with a clear error.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryMonitor, RegistrationCache } from '../../src/index.js';
import { runChild } from '../child.js';
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
    t.pinLimit(pinnedNow() + 256 * KiB, false); // the limit only: credentials unchanged
    const monitor = MemoryMonitor.open({ backend: 'ummunotify' });
    const cache = new RegistrationCache(r.pair.pd, { monitor }); // reads the lowered limit
    t.pinLimit(null);
    const regions = Array.from({ length: 12 }, () => t.mmap(64 * KiB));
    try {
      for (let round = 0; round < 2; round++) {
        for (const [i, a] of regions.entries()) {
          cache.acquire(pattern(bytes(a, 64 * KiB), round * 100 + i)).release();
          expect(cache.stats().bytesPinned).toBeLessThanOrEqual(cache.stats().memlockLimit);
        }
      }
      expect(cache.stats().evictions).toBeGreaterThan(0);
      // and the registrations it keeps are good ones
      expect(await writeChecked(r, pattern(bytes(regions[11]!, 64 * KiB), 5))).toBe(true);
    } finally {
      cache.close();
      monitor.close();
      for (const a of regions) t.munmap(a, 64 * KiB);
    }
  });

  it('a real ENOMEM: evicts unused entries and retries, then a clear error (own process)', async () => {
    const child = fileURLToPath(new URL('./cache-enomem-child.mjs', import.meta.url));
    const res = await runChild(process.execPath, [child]);
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    const out = JSON.parse(res.stdout.trim().split('\n').at(-1)!);
    expect(out.afterRetry).toMatchObject({ enomemRetries: 1, evictions: 2, liveRegistrations: 3 });
    expect(out.error).toMatchObject({ name: 'RdmaError', code: 'ENOMEM' });
    expect(out.error.message).toMatch(/ulimit -l/);
    expect(out.end.liveRegistrations).toBe(4);
    expect(out.liveAfterClose).toBe(0);
  });

  it('the module\'s per-user limit: evicts unused entries and retries, then a clear error (as nobody)', async () => {
    const param = '/sys/module/ummunotify/parameters/max_user_registrations';
    const saved = readFileSync(param, 'utf8').trim();
    const limit = 8;
    writeFileSync(param, String(limit));
    try {
      const child = fileURLToPath(new URL('./cache-watch-limit-child.mjs', import.meta.url));
      const res = await runChild(process.execPath, [child, String(limit)], {
        uid: 65534,
        gid: 65534,
        cwd: '/',
      });
      expect(res.stderr).toBe('');
      expect(res.status).toBe(0);
      const out = JSON.parse(res.stdout.trim().split('\n').at(-1)!);
      expect(out.uid).toBe(65534);
      expect(out.full).toMatchObject({ entries: limit, watchLimitRetries: 0 });
      expect(out.afterRetry).toMatchObject({ watchLimitRetries: 1, evictions: limit, entries: 1, liveRegistrations: 1 });
      expect(out.error).toMatchObject({ name: 'RdmaError', code: 'ENOSPC' });
      expect(out.error.message).toMatch(/max_user_registrations/);
      expect(out.end.liveRegistrations).toBeGreaterThan(0);
      expect(out.liveAfterClose).toBe(0);
    } finally {
      writeFileSync(param, saved);
    }
  });
});
