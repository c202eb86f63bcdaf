// Randomised mmap/munmap/mremap/madvise/MAP_FIXED sequences with acquires,
// checked against a model: every registration handed out must have been made
// after the last mapping change of every page it serves. Size by
// REGCACHE_RANDOM_OPS (default 5000).
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryMonitor, RegistrationCache, type Registration } from '../../src/index.js';
import { FakeRegistrar, PAGE, t } from './cache-helpers.js';

const OPS = Number(process.env.REGCACHE_RANDOM_OPS ?? 5000);
const { MADV_DONTNEED, MREMAP_MAYMOVE, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_ANONYMOUS } = t.constants;

function rng(seed: number) {
  return () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
}

interface Region {
  address: number;
  pages: number;
  buffer: ArrayBuffer;
  /** Views acquired before, acquired again now and then: their memos must not outlive a change. */
  views: Uint8Array[];
}

describe('RegistrationCache randomised against a mapping model (userfaultfd monitor)', () => {
  const cleanup: Array<() => void> = [];
  afterAll(() => cleanup.forEach((f) => f()));

  // Once with one cache, once with two caches sharing one monitor (it routes
  // each report to the cache that watched it): neither ever serves stale.
  it.each([1, 2])(`serves no stale registration in ${OPS} operations (%i cache(s) on one monitor)`, (ncaches) => {
    const rand = rng(12345 + ncaches);
    const pick = <T>(a: T[]) => a[Math.floor(rand() * a.length)]!;
    let clock = 0;
    const changedAt = new Map<number, number>(); // page number -> clock of its last mapping change
    const registeredAt = new Map<string, number>(); // cache:lkey -> clock
    const monitor = MemoryMonitor.open({ backend: 'userfaultfd' });
    cleanup.push(() => monitor.close());
    const regs: FakeRegistrar[] = [];
    const caches = Array.from({ length: ncaches }, (_, c) => {
      const reg = new FakeRegistrar();
      const real = reg.registerRange.bind(reg);
      reg.registerRange = (address, length, access) => {
        const mr = real(address, length, access);
        registeredAt.set(`${c}:${mr.lkey}`, ++clock);
        return mr;
      };
      regs.push(reg);
      return new RegistrationCache(reg, { monitor, maxEntries: 64, maxBytes: 96 * PAGE });
    });
    const change = (address: number, pages: number) => {
      const now = ++clock;
      for (let i = 0; i < pages; i++) changedAt.set(address / PAGE + i, now);
    };
    const regions: Region[] = [];
    const freed: Array<{ address: number; pages: number }> = [];
    const held: Registration[] = [];
    const newRegion = () => {
      const pages = 1 + Math.floor(rand() * 8);
      // The same address again where nothing took it meanwhile (MAP_FIXED_NOREPLACE never clobbers).
      const reuse = freed.find((f) => f.pages >= pages && rand() < 0.7);
      let address: bigint | undefined;
      if (reuse) {
        freed.splice(freed.indexOf(reuse), 1);
        try {
          address = t.mmap(pages * PAGE, undefined, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, BigInt(reuse.address));
        } catch {
          address = undefined; // EEXIST: something else lives there now
        }
      }
      address ??= t.mmap(pages * PAGE);
      change(Number(address), pages); // a new mapping is a change too
      const r = { address: Number(address), pages, buffer: t.wrap(address, pages * PAGE), views: [] as Uint8Array[] };
      new Uint8Array(r.buffer).fill(1);
      regions.push(r);
    };
    const drop = (r: Region) => regions.splice(regions.indexOf(r), 1);
    let mismatches = 0;
    let checked = 0;
    for (let i = 0; i < 8; i++) newRegion();
    for (let op = 0; op < OPS; op++) {
      const r = rand();
      if (regions.length < 4) newRegion();
      if (r < 0.55) {
        const region = pick(regions);
        let view: Uint8Array;
        if (region.views.length !== 0 && rand() < 0.5) {
          view = pick(region.views); // the same object again: its own memo
        } else {
          const o = Math.floor(rand() * region.pages * PAGE);
          view = new Uint8Array(region.buffer, o, 1 + Math.floor(rand() * (region.pages * PAGE - o)));
          if (region.views.length < 8) region.views.push(view);
        }
        const off = view.byteOffset;
        const len = view.byteLength;
        const c = Math.floor(rand() * ncaches);
        const h = caches[c]!.acquire(view);
        const first = Math.floor((region.address + off) / PAGE);
        const last = Math.floor((region.address + off + len - 1) / PAGE);
        for (let p = first; p <= last; p++) {
          if ((changedAt.get(p) ?? 0) > registeredAt.get(`${c}:${h.lkey}`)!) mismatches++;
        }
        checked++;
        if (rand() < 0.3) held.push(h);
        else h.release();
      } else if (r < 0.65 && held.length) {
        held.splice(Math.floor(rand() * held.length), 1)[0]!.release();
      } else if (r < 0.75) {
        const region = pick(regions);
        t.munmap(BigInt(region.address), region.pages * PAGE);
        change(region.address, region.pages);
        freed.push({ address: region.address, pages: region.pages });
        drop(region);
      } else if (r < 0.85) {
        const region = pick(regions);
        const p = Math.floor(rand() * region.pages);
        t.madvise(BigInt(region.address + p * PAGE), PAGE, MADV_DONTNEED);
        change(region.address + p * PAGE, 1);
      } else if (r < 0.92) {
        const region = pick(regions);
        const pages = 1 + Math.floor(rand() * 8);
        let moved: number;
        try {
          moved = Number(t.mremap(BigInt(region.address), region.pages * PAGE, pages * PAGE, MREMAP_MAYMOVE));
        } catch {
          continue; // the region spans several VMAs after a MAP_FIXED: mremap refuses (EFAULT), nothing changed
        }
        if (moved === region.address) {
          // Resized in place: the pages it kept are untouched; the ones it gained or lost changed.
          const keep = Math.min(pages, region.pages);
          change(moved + keep * PAGE, Math.max(pages, region.pages) - keep);
        } else {
          change(region.address, region.pages);
          change(moved, pages);
        }
        drop(region);
        regions.push({ address: moved, pages, buffer: t.wrap(BigInt(moved), pages * PAGE), views: [] });
      } else if (r < 0.97) {
        const region = pick(regions);
        const p = Math.floor(rand() * region.pages);
        t.mmap(PAGE, undefined, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, BigInt(region.address + p * PAGE));
        change(region.address + p * PAGE, 1);
      } else {
        newRegion();
      }
    }
    for (const h of held) h.release();
    const stats = caches.map((c) => c.stats());
    for (const c of caches) c.close();
    expect(mismatches).toBe(0);
    expect(checked).toBeGreaterThan(OPS / 3);
    for (const st of stats) {
      expect(st.hits).toBeGreaterThan(0);
      expect(st.fastHits).toBeGreaterThan(0);
      expect(st.hits).toBe(st.fastHits + st.slowHits);
      expect(st.invalidations).toBeGreaterThan(0);
    }
    for (const reg of regs) expect(reg.live).toBe(0);
    for (const reg of regs) expect(reg.doubleDeregisters).toBe(0);
    for (const region of regions) t.munmap(BigInt(region.address), region.pages * PAGE);
  });
});
