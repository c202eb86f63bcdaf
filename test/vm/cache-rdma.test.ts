// RegistrationCache over rxe0 and the real module: every reuse scenario is an
// RDMA WRITE through the cache whose bytes are checked at the target.
import { spawnSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BPAGE, PAGE, bytes, mapAt, pattern, rig, t, writeChecked, type Rig } from './cache-helpers.js';
import { MemoryMonitor, RegistrationCache } from '../../src/index.js';

const { MADV_DONTNEED, MREMAP_MAYMOVE, MAP_FIXED, MAP_PRIVATE, MAP_ANONYMOUS } = t.constants;

let r: Rig;
beforeAll(async () => {
  r = await rig();
});
afterAll(() => r?.close());

describe('RegistrationCache with RDMA WRITEs verified at the target', () => {
  it('classic reuse: free x, a new buffer at the same address, the target gets the new bytes', async () => {
    const x = t.mmap(4 * PAGE);
    expect(await writeChecked(r, pattern(bytes(x, 4 * PAGE), 1))).toBe(true);
    expect(await writeChecked(r, bytes(x, 4 * PAGE))).toBe(true); // a hit
    const before = r.cache.stats();
    t.munmap(x, 4 * PAGE);
    const y = mapAt(4, x);
    expect(y).toBe(x);
    expect(await writeChecked(r, pattern(bytes(y, 4 * PAGE), 2))).toBe(true);
    const after = r.cache.stats();
    expect(after.invalidations).toBeGreaterThan(before.invalidations);
    expect(after.staleAvoided).toBeGreaterThan(before.staleAvoided);
    expect(after.misses).toBe(before.misses + 1);
    t.munmap(y, 4 * PAGE);
  });

  it('Node Buffers freed by GC and reallocated at the same address', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const seen = new Set<bigint>();
    let reused = 0;
    for (let i = 0; i < 40; i++) {
      for (const size of [200 << 10, 3000]) {
        const b = pattern(Buffer.allocUnsafeSlow(size), i * 7 + size);
        expect(await writeChecked(r, b)).toBe(true);
        const reg = r.cache.acquire(b);
        if (seen.has(reg.address)) reused++;
        seen.add(reg.address);
        reg.release();
      }
      gc();
    }
    expect(reused).toBeGreaterThan(0); // addresses did come back
    expect(r.mismatches).toBe(0);
  });

  it('madvise(MADV_DONTNEED): new zero pages under the same address', async () => {
    const x = t.mmap(2 * PAGE);
    expect(await writeChecked(r, pattern(bytes(x, 2 * PAGE), 3))).toBe(true);
    t.madvise(x, 2 * PAGE, MADV_DONTNEED);
    expect(await writeChecked(r, pattern(bytes(x, 2 * PAGE), 4))).toBe(true);
    t.munmap(x, 2 * PAGE);
  });

  it('mremap away and a new mapping in its place; mremap shrink then grow', async () => {
    const x = t.mmap(2 * PAGE);
    expect(await writeChecked(r, pattern(bytes(x, 2 * PAGE), 5))).toBe(true);
    const moved = t.mremap(x, 2 * PAGE, 64 * PAGE, MREMAP_MAYMOVE);
    const y = mapAt(2, x);
    expect(await writeChecked(r, pattern(bytes(y, 2 * PAGE), 6))).toBe(true);
    expect(await writeChecked(r, pattern(bytes(moved, 2 * PAGE), 7))).toBe(true);
    const z = t.mmap(4 * PAGE);
    expect(await writeChecked(r, pattern(bytes(z, 4 * PAGE), 8))).toBe(true);
    t.mremap(z, 4 * PAGE, PAGE, 0);
    const grown = t.mremap(z, PAGE, 4 * PAGE, 0); // grows in place when the hole is free
    expect(await writeChecked(r, pattern(bytes(grown, 4 * PAGE), 9))).toBe(true);
    for (const [a, n] of [[moved, 64], [y, 2], [grown, 4]] as const) t.munmap(a, n * PAGE);
  });

  it('mmap(MAP_FIXED) over the buffer', async () => {
    const x = t.mmap(3 * PAGE);
    expect(await writeChecked(r, pattern(bytes(x, 3 * PAGE), 10))).toBe(true);
    t.mmap(PAGE, undefined, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, x + BPAGE);
    expect(await writeChecked(r, pattern(bytes(x, 3 * PAGE), 11))).toBe(true);
    t.munmap(x, 3 * PAGE);
  });

  it('shmdt and a new segment attached at the same address', async () => {
    const s1 = t.shmAttach(2 * PAGE);
    expect(await writeChecked(r, pattern(bytes(s1, 2 * PAGE), 12))).toBe(true);
    t.shmDetach(s1);
    const s2 = t.shmAttach(2 * PAGE, s1);
    expect(s2).toBe(s1);
    expect(await writeChecked(r, pattern(bytes(s2, 2 * PAGE), 13))).toBe(true);
    t.shmDetach(s2);
  });

  it('brk shrink and grow back', async () => {
    // The break is lowered only where malloc did not grow its heap meanwhile (sbrkRelease).
    let shrunk = 0;
    for (let i = 0; i < 10; i++) {
      const base = t.sbrk(4 * PAGE);
      const heap = (base + BPAGE - 1n) & ~(BPAGE - 1n);
      const view = bytes(heap, 2 * PAGE);
      pattern(view, 14 + i);
      const reg = r.cache.acquire(view);
      reg.release();
      if (t.sbrkRelease(base + 4n * BPAGE, 4 * PAGE)) {
        shrunk++;
        if (t.sbrk(4 * PAGE) !== base) throw new Error('break moved');
        expect(await writeChecked(r, pattern(bytes(heap, 2 * PAGE), 100 + i))).toBe(true);
        if (!t.sbrkRelease(base + 4n * BPAGE, 4 * PAGE)) break;
      }
    }
    expect(shrunk).toBeGreaterThan(0);
  });

  it('fork() from native code and child_process.spawn do not flush the cache (mapping-only)', async () => {
    // A cache of its own that watches only x: the shared one also holds Node
    // Buffers from earlier tests, whose memory the runtime may free at any moment.
    const monitor = MemoryMonitor.open({ backend: 'ummunotify' });
    const own: Rig = { ...r, cache: new RegistrationCache(r.pair.pd, { monitor }), checked: 0, mismatches: 0 };
    const x = t.mmap(4 * PAGE);
    try {
      expect(await writeChecked(own, pattern(bytes(x, 4 * PAGE), 16))).toBe(true);
      own.cache.checkGeneration();
      const before = own.cache.stats();
      expect(t.waitpid(t.fork('exit'))).toBe(0);
      expect(spawnSync('true').status).toBe(0);
      expect(own.cache.checkGeneration()).toBe(false);
      expect(await writeChecked(own, pattern(bytes(x, 4 * PAGE), 17))).toBe(true);
      const after = own.cache.stats();
      expect(after.invalidations).toBe(before.invalidations);
      expect(after.hits).toBe(before.hits + 1);
    } finally {
      own.cache.close();
      monitor.close();
      t.munmap(x, 4 * PAGE);
    }
  });

  it('no mismatch anywhere; close deregisters everything', () => {
    expect(r.mismatches).toBe(0);
    expect(r.checked).toBeGreaterThan(20);
    const s = r.cache.stats();
    expect(s.liveRegistrations).toBe(s.entries); // nothing in use, nothing waiting
  });
});
