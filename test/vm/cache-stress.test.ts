// Randomised stress: mmap/munmap/mremap/madvise/MAP_FIXED/shm/brk/GC/fork
// mixed with RDMA WRITEs through the cache, each checked byte for byte.
// REGCACHE_STRESS_OPS sets the size (default 20000); REGCACHE_STRESS_BACKEND=none
// runs it without a monitor, to see the check catch stale registrations.
import { spawnSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { PAGE, bytes, mapAt, pattern, rig, t, writeChecked } from './cache-helpers.js';

const OPS = Number(process.env.REGCACHE_STRESS_OPS ?? 20000);
const BACKEND = (process.env.REGCACHE_STRESS_BACKEND ?? 'ummunotify') as 'ummunotify' | 'userfaultfd' | 'none';
const { MADV_DONTNEED, MREMAP_MAYMOVE, MAP_FIXED, MAP_PRIVATE, MAP_ANONYMOUS } = t.constants;

interface Region {
  kind: 'mmap' | 'shm';
  address: bigint;
  pages: number;
}

describe('cache stress', () => {
  it(`${OPS} random operations, every write verified (monitor: ${BACKEND})`, async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    let seed = 0x9e3779b9;
    const rand = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const r = await rig(1 << 20, BACKEND, { maxEntries: 256 });
    const regions: Region[] = [];
    const holes: Region[] = []; // freed, to be mapped again at the same address
    let buffers: Buffer[] = [];
    let brkTop = 0n; // where our sbrk(+8 pages) left the break; 0n: not grown
    const counts: Record<string, number> = {};
    const count = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
    const add = (kind: 'mmap' | 'shm', at?: bigint) => {
      const pages = 1 + Math.floor(rand() * 8);
      let address: bigint;
      if (kind === 'shm') {
        try {
          address = t.shmAttach(pages * PAGE, at);
        } catch {
          address = t.shmAttach(pages * PAGE);
        }
      } else {
        address = mapAt(pages, at);
      }
      regions.push({ kind, address, pages });
    };
    const free = (g: Region) => {
      regions.splice(regions.indexOf(g), 1);
      if (g.kind === 'shm') t.shmDetach(g.address);
      else t.munmap(g.address, g.pages * PAGE);
      holes.push(g);
      if (holes.length > 16) holes.shift();
    };
    for (let i = 0; i < 12; i++) add(rand() < 0.25 ? 'shm' : 'mmap');
    const started = Date.now();
    for (let op = 0; op < OPS; op++) {
      const x = rand();
      if (regions.length < 6) add('mmap');
      const g = regions[Math.floor(rand() * regions.length)]!;
      if (x < 0.6) {
        // a write from a random slice of a region (fresh contents each time)
        const off = Math.floor(rand() * g.pages * PAGE);
        const len = 1 + Math.floor(rand() * Math.min(g.pages * PAGE - off, 16 * 1024));
        await writeChecked(r, pattern(bytes(g.address + BigInt(off), len), op));
        count('write');
      } else if (x < 0.68) {
        free(g);
        const h = holes.pop()!;
        add(h.kind, h.address); // same address when free: the classic reuse
        count(g.kind === 'shm' ? 'shmdt+shmat' : 'munmap+mmap');
      } else if (x < 0.76) {
        const p = Math.floor(rand() * g.pages);
        if (g.kind === 'shm') t.madvise(g.address + BigInt(p * PAGE), PAGE, t.constants.MADV_REMOVE);
        else t.madvise(g.address + BigInt(p * PAGE), PAGE, MADV_DONTNEED);
        count('madvise');
      } else if (x < 0.82 && g.kind === 'mmap') {
        try {
          const pages = 1 + Math.floor(rand() * 8);
          const moved = t.mremap(g.address, g.pages * PAGE, pages * PAGE, MREMAP_MAYMOVE);
          const old = { ...g };
          g.address = moved;
          g.pages = pages;
          if (moved !== old.address) {
            holes.push(old);
            add('mmap', old.address);
          }
          count('mremap');
        } catch {
          count('mremap-refused'); // spans several VMAs after a MAP_FIXED
        }
      } else if (x < 0.87 && g.kind === 'mmap') {
        const p = Math.floor(rand() * g.pages);
        t.mmap(PAGE, undefined, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, g.address + BigInt(p * PAGE));
        count('map-fixed');
      } else if (x < 0.92) {
        // brk: grow, write, shrink (the next grow reuses the same addresses)
        if (brkTop === 0n) {
          const base = t.sbrk(8 * PAGE);
          brkTop = base + BigInt(8 * PAGE);
          const start = (base + BigInt(PAGE) - 1n) & ~(BigInt(PAGE) - 1n);
          await writeChecked(r, pattern(bytes(start, 4 * PAGE), op));
          count('brk-grow+write');
        } else {
          // lowered only if malloc did not grow its heap above ours meanwhile
          count(t.sbrkRelease(brkTop, 8 * PAGE) ? 'brk-shrink' : 'brk-kept');
          brkTop = 0n;
        }
      } else if (x < 0.985) {
        // Node Buffers: allocate, write, drop, sometimes collect
        const b = pattern(Buffer.allocUnsafeSlow(rand() < 0.5 ? 1000 + Math.floor(rand() * 5000) : 140 << 10), op);
        await writeChecked(r, b.length > 16384 ? b.subarray(0, 16384) : b);
        buffers.push(b);
        if (buffers.length > 8 || rand() < 0.1) {
          buffers = [];
          gc();
          count('gc');
        }
        count('buffer');
      } else if (x < 0.995) {
        expect(t.waitpid(t.fork('exit'))).toBe(0);
        count('fork');
      } else {
        expect(spawnSync('true').status).toBe(0);
        count('spawn');
      }
    }
    if (brkTop !== 0n) t.sbrkRelease(brkTop, 8 * PAGE);
    for (const g of [...regions]) free(g);
    const stats = r.cache.stats();
    console.log(
      `stress: ${OPS} ops in ${((Date.now() - started) / 1000).toFixed(1)} s, ${r.checked} writes checked, ` +
        `${r.mismatches} mismatches; ${JSON.stringify(counts)}; cache ${JSON.stringify(stats)}`,
    );
    r.close();
    if (BACKEND === 'none') {
      expect(r.mismatches).toBeGreaterThan(0); // without a monitor, stale registrations do get used
    } else {
      expect(r.mismatches).toBe(0);
      expect(stats.invalidations).toBeGreaterThan(0);
      expect(stats.hits).toBeGreaterThan(0);
    }
  }, 1_800_000); // 20,000 operations take minutes under emulation
});
