// MemoryMonitor over the real /dev/ummunotify module (VM group).
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { DrainIncompleteError, MemoryMonitor, RegistrationCache, type MonitorEvent } from '../../src/index.js';
import { FakeRegistrar } from '../unit/cache-helpers.js';
import { testing } from '../../src/testing.js';

const t = testing;
const PAGE = t.constants.pageSize;
const BPAGE = BigInt(PAGE);
const { MADV_DONTNEED, MREMAP_MAYMOVE, MAP_FIXED, MAP_PRIVATE, MAP_ANONYMOUS } = t.constants;

const monitors: MemoryMonitor[] = [];
function openMonitor(mappingOnly = true) {
  const m = MemoryMonitor.open({ backend: 'ummunotify', mappingOnly });
  monitors.push(m);
  return m;
}
afterEach(() => {
  for (const m of monitors.splice(0)) m.close();
});

function mapPages(pages: number) {
  const address = t.mmap(pages * PAGE);
  new Uint8Array(t.wrap(address, pages * PAGE)).fill(1);
  return address;
}
const cookies = (events: MonitorEvent[]) => events.map((e) => e.cookie).sort();

describe('ummunotify monitor', () => {
  it("'auto' picks the module, with mapping-only filtering", () => {
    const m = MemoryMonitor.open();
    monitors.push(m);
    expect(m.backend).toBe('ummunotify');
  });

  it('munmap through the test helper: generation moved before it returned, drain reports the exact pages', () => {
    const m = openMonitor();
    const a = mapPages(3);
    m.watch(a, 3 * PAGE, 7n);
    const g = m.generation;
    expect(m.changed).toBe(false);
    t.munmap(a + BPAGE, PAGE);
    expect(m.generation).not.toBe(g);
    expect(m.changed).toBe(true);
    expect(m.drain()).toEqual([{ cookie: 7n, start: a + BPAGE, end: a + 2n * BPAGE, hint: true }]);
    expect(m.changed).toBe(false);
    m.unwatch(7n);
    t.munmap(a, 3 * PAGE);
    expect(m.changed).toBe(false);
  });

  it('sees madvise, mremap, MAP_FIXED, shmdt and brk shrink', () => {
    const m = openMonitor();
    const a = mapPages(2);
    const b = mapPages(2);
    const c = mapPages(2);
    const shm = t.shmAttach(2 * PAGE);
    new Uint8Array(t.wrap(shm, 2 * PAGE)).fill(2);
    const brk0 = t.sbrk(0);
    t.sbrk(4 * PAGE);
    const heap = (brk0 + BPAGE - 1n) & ~(BPAGE - 1n);
    new Uint8Array(t.wrap(heap, 2 * PAGE)).fill(3);
    m.watch(a, 2 * PAGE, 1n);
    m.watch(b, 2 * PAGE, 2n);
    m.watch(c, 2 * PAGE, 3n);
    m.watch(shm, 2 * PAGE, 4n);
    m.watch(heap, 2 * PAGE, 5n);

    t.madvise(a, PAGE, MADV_DONTNEED);
    expect(cookies(m.drain())).toEqual([1n]);
    const moved = t.mremap(b, 2 * PAGE, 32 * PAGE, MREMAP_MAYMOVE);
    expect(cookies(m.drain())).toEqual([2n]);
    t.mmap(PAGE, undefined, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, c + BPAGE);
    expect(m.drain()).toEqual([{ cookie: 3n, start: c + BPAGE, end: c + 2n * BPAGE, hint: true }]);
    t.shmDetach(shm);
    expect(cookies(m.drain())).toEqual([4n]);
    // The break is lowered only where malloc did not grow its heap meanwhile
    // (lowering it under malloc's memory would crash): otherwise try again
    // higher up, a bounded number of times, and fail if it never works.
    let released = t.sbrkRelease(brk0 + 4n * BPAGE, 4 * PAGE);
    if (released) expect(cookies(m.drain())).toEqual([5n]);
    m.unwatch(5n);
    for (let attempt = 0; attempt < 5 && !released; attempt++) {
      const base = t.sbrk(4 * PAGE);
      const top = (base + BPAGE - 1n) & ~(BPAGE - 1n);
      new Uint8Array(t.wrap(top, 2 * PAGE)).fill(3);
      m.watch(top, 2 * PAGE, 6n);
      released = t.sbrkRelease(base + 4n * BPAGE, 4 * PAGE);
      if (released) expect(cookies(m.drain())).toEqual([6n]);
      m.unwatch(6n);
    }
    expect(released).toBe(true);
    t.munmap(a, 2 * PAGE);
    t.munmap(moved, 32 * PAGE);
    t.munmap(c, 2 * PAGE);
  });

  it('with mapping-only filtering, fork() and child_process.spawn leave the generation alone', () => {
    const m = openMonitor(true);
    const a = mapPages(4);
    m.watch(a, 4 * PAGE, 1n);
    const g = m.generation;
    expect(t.waitpid(t.fork('exit'))).toBe(0);
    expect(spawnSync('true').status).toBe(0);
    t.mprotect(a, PAGE, t.constants.PROT_READ);
    t.mprotect(a, PAGE, t.constants.PROT_READ | t.constants.PROT_WRITE);
    expect(m.generation).toBe(g);
    expect(m.drain()).toEqual([]);
    t.munmap(a, 4 * PAGE);
    expect(cookies(m.drain())).toEqual([1n]);
  });

  // Adjacent buffers (one mapping here; separate mmaps merge into one VMA the
  // same way) filling a 2 MiB aligned range: freeing one cuts the VMA, and the
  // kernel announces the whole 2 MiB for its huge-page check. Small pages only
  // (MADV_NOHUGEPAGE), so that check changes nothing.
  function alignedBuffers() {
    const TWO_MIB = 2n << 20n;
    const reserve = t.mmap(Number(2n * TWO_MIB), t.constants.PROT_NONE);
    const base = (reserve + TWO_MIB - 1n) & ~(TWO_MIB - 1n);
    t.mmap(Number(TWO_MIB), t.constants.PROT_READ | t.constants.PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, base);
    t.madvise(base, Number(TWO_MIB), t.constants.MADV_NOHUGEPAGE);
    new Uint8Array(t.wrap(base, Number(TWO_MIB))).fill(5);
    const size = 16 * PAGE;
    const buffer = (i: number) => base + BigInt(i * size);
    return { size, buffer, free: () => t.munmap(reserve, Number(2n * TWO_MIB)) };
  }

  it('with mapping-only filtering, freeing one of several adjacent buffers reports that one only', () => {
    const m = openMonitor(true);
    const { size, buffer, free } = alignedBuffers();
    for (const i of [1, 2, 3]) m.watch(buffer(i), size, BigInt(i));
    t.munmap(buffer(2), size);
    expect(m.drain()).toEqual([{ cookie: 2n, start: buffer(2), end: buffer(3), hint: true }]);
    expect(new Uint8Array(t.wrap(buffer(1), size))[0]).toBe(5);
    t.munmap(buffer(3), size); // the neighbours are still watched
    expect(cookies(m.drain())).toEqual([3n]);
    free();
  });

  it('without it (the V2 default), the freed buffer is reported too', () => {
    const m = openMonitor(false);
    const { size, buffer, free } = alignedBuffers();
    for (const i of [1, 2, 3]) m.watch(buffer(i), size, BigInt(i));
    t.munmap(buffer(2), size);
    expect(cookies(m.drain())).toContain(2n);
    free();
  });

  it('without it (the V2 default), fork() of the owner does move it', () => {
    const m = openMonitor(false);
    const a = mapPages(4);
    m.watch(a, 4 * PAGE, 1n);
    const g = m.generation;
    expect(t.waitpid(t.fork('exit'))).toBe(0);
    expect(m.generation).not.toBe(g);
    m.drain();
    t.munmap(a, 4 * PAGE);
  });

  it('a drain larger than one native slice (64 reports) hands over every report once, 64-bit cookies exact', () => {
    const m = openMonitor();
    const pages = 300;
    const a = mapPages(pages);
    const big = (1n << 64n) - 2n; // above 2^53: must survive the trip
    for (let i = 0; i < pages; i++) m.watch(a + BigInt(i) * BPAGE, PAGE, i === 0 ? big : BigInt(i + 1));
    t.munmap(a, pages * PAGE);
    const events = m.drain();
    expect(events).toHaveLength(pages);
    expect(new Set(events.map((e) => e.cookie)).size).toBe(pages);
    expect(events.find((e) => e.cookie === big)).toEqual({ cookie: big, start: a, end: a + BPAGE, hint: true });
    expect(m.changed).toBe(false);
    expect(m.drain()).toEqual([]);
  });

  it('drainNumbers (the cache\'s path) reports what drain would, as numbers', () => {
    const m = openMonitor();
    const pages = 130;
    const a = Number(mapPages(pages));
    for (let i = 0; i < pages; i++) m.watchNumbers(a + i * PAGE, a + (i + 1) * PAGE, i + 1);
    t.munmap(BigInt(a), pages * PAGE);
    const seen: [number, number, number][] = [];
    m.drainNumbers((cookie, start, end) => seen.push([cookie, start, end]));
    seen.sort((x, y) => x[0] - y[0]);
    expect(seen).toEqual(Array.from({ length: pages }, (_, i) => [i + 1, a + i * PAGE, a + (i + 1) * PAGE]));
    expect(m.changed).toBe(false);
    for (let i = 0; i < pages; i++) m.unwatchNumber(i + 1);
    expect(() => m.unwatchNumber(1)).toThrow(/UNREGISTER/);
  });

  it('unwatch discards a pending report', () => {
    const m = openMonitor();
    const a = mapPages(2);
    m.watch(a, 2 * PAGE, 1n);
    m.watch(a, 2 * PAGE, 2n);
    t.madvise(a, PAGE, MADV_DONTNEED);
    m.unwatch(1n);
    expect(cookies(m.drain())).toEqual([2n]);
    expect(() => m.watch(a, PAGE, 2n)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    t.munmap(a, 2 * PAGE);
  });

  it('a drain whose read() fails part way hands over what it took, throws, and the rest follows', () => {
    const m = openMonitor();
    const pages = 100; // more than one read() of 64 events
    const a = mapPages(pages);
    for (let i = 0; i < pages; i++) m.watch(a + BigInt(i) * BPAGE, PAGE, BigInt(i + 1));
    t.munmap(a, pages * PAGE);
    t.failNextDrainRead(12 /* ENOMEM */, 1);
    let err: unknown;
    try {
      m.drain();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DrainIncompleteError);
    const first = (err as DrainIncompleteError).events;
    expect((err as DrainIncompleteError).code).toBe('ENOMEM');
    expect(first.length).toBe(64); // the first read's reports, not dropped
    expect(m.changed).toBe(true); // the generation is not claimed as seen
    const rest = m.drain();
    expect(m.changed).toBe(false);
    expect(cookies([...first, ...rest])).toEqual(Array.from({ length: pages }, (_, i) => BigInt(i + 1)).sort());
  });

  it('a cache whose drain fails treats every entry as invalidated', () => {
    const reg = new FakeRegistrar();
    const m = openMonitor();
    const cache = new RegistrationCache(reg, { monitor: m });
    const keep = mapPages(4);
    const gone = mapPages(4);
    const views = [0, 1, 2, 3].map((i) => new Uint8Array(t.wrap(keep + BigInt(i) * BPAGE, PAGE)));
    for (const v of views) cache.acquire(v).release();
    cache.acquire(new Uint8Array(t.wrap(gone, PAGE))).release();
    expect(cache.stats()).toMatchObject({ entries: 5, liveRegistrations: 5 });
    t.munmap(gone, 4 * PAGE);
    t.failNextDrainRead(14 /* EFAULT */, 0);
    expect(cache.checkGeneration()).toBe(true);
    // The report of `gone` was not read; none of the entries can be trusted.
    expect(cache.stats()).toMatchObject({ drainFailures: 1, entries: 0, liveRegistrations: 0 });
    expect(reg.mrs.filter((r) => r.live)).toEqual([]);
    cache.acquire(views[0]!).release(); // registered afresh
    expect(cache.stats()).toMatchObject({ misses: 6, entries: 1, drainFailures: 1 });
    cache.close();
    expect(reg.mrs.filter((r) => r.live)).toEqual([]);
    t.munmap(keep, 4 * PAGE);
  });
});
