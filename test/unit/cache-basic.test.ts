// RegistrationCache against a fake registrar, on the host. The monitor is the
// userfaultfd backend (real munmap/madvise events) or 'none' where a test is
// about bookkeeping only.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MemoryMonitor, RdmaError, RegistrationCache } from '../../src/index.js';
import { native } from '../../src/native.js';
import { BPAGE, FakeRegistrar, PAGE, cacheFixture, mapPages, t } from './cache-helpers.js';

const makeCache = cacheFixture();

const liveMrs = (reg: FakeRegistrar) => reg.mrs.filter((m) => m.live);

describe('RegistrationCache lookups', () => {
  it('reuses the registration of the same view and describes the view', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const mem = mapPages(4);
    const view = new Uint8Array(mem.buffer, 100, 1000);
    const a = cache.acquire(view);
    expect(a.address).toBe(mem.address + 100n);
    expect(a.length).toBe(1000);
    a.release();
    const b = cache.acquire(view);
    expect(b.lkey).toBe(a.lkey);
    expect(b.rkey).toBe(a.rkey);
    b.release();
    b.release(); // idempotent
    expect(reg.registered).toBe(1);
    expect(reg.mrs[0]!.address).toBe(mem.address); // page-rounded
    expect(reg.mrs[0]!.length).toBe(PAGE);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, entries: 1, inUse: 0, liveRegistrations: 1 });
  });

  it('finds a containing entry for any view inside it, through other ArrayBuffers too', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const mem = mapPages(8);
    cache.acquire(new Uint8Array(mem.buffer)).release();
    const other = t.wrap(mem.address + 2n * BPAGE, 3 * PAGE); // a different ArrayBuffer, same memory
    const r1 = cache.acquire(new Uint8Array(other, 10, 5000));
    expect(r1.address).toBe(mem.address + 2n * BPAGE + 10n);
    const r2 = cache.acquire(new DataView(mem.buffer, 7 * PAGE + 1, PAGE - 1));
    r1.release();
    r2.release();
    expect(reg.registered).toBe(1);
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 1 });
  });

  it('registers separately what only overlaps, and serves later views from either', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const mem = mapPages(8);
    cache.acquire(new Uint8Array(mem.buffer, 0, 4 * PAGE)).release();
    cache.acquire(new Uint8Array(mem.buffer, 2 * PAGE, 4 * PAGE)).release();
    expect(reg.registered).toBe(2);
    cache.acquire(new Uint8Array(mem.buffer, 3 * PAGE, PAGE)).release();
    cache.acquire(new Uint8Array(mem.buffer, 5 * PAGE, PAGE)).release();
    cache.acquire(new Uint8Array(mem.buffer, PAGE, PAGE)).release();
    expect(reg.registered).toBe(2);
    cache.acquire(new Uint8Array(mem.buffer, 3 * PAGE, 4 * PAGE)).release(); // crosses both ends
    expect(reg.registered).toBe(3);
  });

  it('keys by access flags', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const mem = mapPages(1);
    cache.acquire(mem.buffer, 1).release();
    cache.acquire(mem.buffer, 7).release();
    cache.acquire(mem.buffer, 1).release();
    expect(reg.mrs.map((m) => m.access)).toEqual([1, 7]);
  });

  it('accepts Buffers, SharedArrayBuffers and ArrayBuffers; rejects the rest', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    cache.acquire(Buffer.alloc(100)).release();
    cache.acquire(new SharedArrayBuffer(64)).release();
    cache.acquire(new Float64Array(16).subarray(3)).release();
    expect(() => cache.acquire(123 as never)).toThrow(TypeError);
    expect(() => cache.acquire(new Uint8Array(0))).toThrow(RangeError);
    const ab = new ArrayBuffer(64);
    structuredClone(ab, { transfer: [ab] });
    expect(() => cache.acquire(ab)).toThrow(RangeError);
    expect(() => cache.acquire(Buffer.alloc(8), 'x' as never)).toThrow(TypeError);
    expect(() => cache.acquire(Buffer.alloc(8), -1)).toThrow(RangeError);
    expect(() => new RegistrationCache({} as never)).toThrow(TypeError);
    expect(() => new RegistrationCache(reg, { maxEntries: 0, monitor: MemoryMonitor.open({ backend: 'none' }) })).toThrow(
      RangeError,
    );
  });

  it('caches sharing one monitor: a report for one never evicts the other\'s entry', () => {
    const monitor = MemoryMonitor.open({ backend: 'userfaultfd' });
    const [ra, rb] = [new FakeRegistrar(), new FakeRegistrar()];
    const a = new RegistrationCache(ra, { monitor });
    const b = new RegistrationCache(rb, { monitor });
    const x = mapPages(2);
    const y = mapPages(2);
    a.acquire(x.buffer).release();
    b.acquire(y.buffer).release();
    b.acquire(x.buffer).release(); // both caches hold x, each under its own watch
    t.munmap(y.address, y.length); // only b watched y
    expect(a.checkGeneration()).toBe(true); // a drains: the report is routed to b
    expect(a.stats()).toMatchObject({ invalidations: 0, entries: 1 });
    b.checkGeneration();
    expect(b.stats()).toMatchObject({ invalidations: 1, entries: 1, liveRegistrations: 1 });
    a.acquire(x.buffer).release();
    expect(a.stats()).toMatchObject({ hits: 1, misses: 1 });
    t.madvise(x.address, PAGE, t.constants.MADV_DONTNEED); // both watched x
    b.checkGeneration();
    expect(a.stats().invalidations).toBe(1); // a's entry was routed its own report
    expect(b.stats().invalidations).toBe(2);
    a.close();
    b.close();
    expect([ra.live, rb.live]).toEqual([0, 0]);
    expect(monitor.closed).toBe(false); // not the caches' to close
    monitor.close();
    t.munmap(x.address, x.length);
  });
});

describe('RegistrationCache limits and eviction', () => {
  it('evicts the least recently released entry past maxEntries', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg, { maxEntries: 3 });
    const mem = mapPages(4);
    const page = (i: number) => new Uint8Array(mem.buffer, i * PAGE, PAGE);
    for (const i of [0, 1, 2]) cache.acquire(page(i)).release();
    cache.acquire(page(0)).release(); // 0 is now the most recent: 1 is the oldest
    cache.acquire(page(3)).release();
    expect(liveMrs(reg).map((m) => Number((m.address - mem.address) / BPAGE))).toEqual([0, 2, 3]);
    expect(cache.stats()).toMatchObject({ evictions: 1, entries: 3, liveRegistrations: 3 });
    cache.acquire(page(1)).release(); // back, evicting 2
    expect(liveMrs(reg).map((m) => Number((m.address - mem.address) / BPAGE))).toEqual([0, 3, 1]);
  });

  it('bounds pinned bytes by maxBytes and by RLIMIT_MEMLOCK', () => {
    for (const opts of [{ maxBytes: 4 * PAGE }, { memlockLimit: 4 * PAGE }]) {
      const reg = new FakeRegistrar();
      const cache = makeCache(reg, opts);
      const mem = mapPages(8);
      for (let i = 0; i < 4; i++) cache.acquire(new Uint8Array(mem.buffer, 2 * i * PAGE, 2 * PAGE)).release();
      expect(reg.pinned).toBeLessThanOrEqual(4 * PAGE);
      expect(cache.stats().bytesPinned).toBe(reg.pinned);
      expect(cache.stats().evictions).toBe(2);
    }
  });

  it('never evicts entries in use, however hard the pressure', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg, { maxEntries: 2, maxBytes: 2 * PAGE });
    const mem = mapPages(10);
    const held = [0, 1, 2].map((i) => cache.acquire(new Uint8Array(mem.buffer, i * PAGE, PAGE)));
    for (let i = 3; i < 10; i++) cache.acquire(new Uint8Array(mem.buffer, i * PAGE, PAGE)).release();
    for (const h of held) expect(reg.mrs.find((m) => m.lkey === h.lkey)!.live).toBe(true);
    expect(cache.stats().inUse).toBe(3);
    for (const h of held) h.release();
    // Released, they become evictable again and the limits hold.
    expect(cache.stats().entries).toBeLessThanOrEqual(2);
    expect(reg.live).toBeLessThanOrEqual(2);
  });

  it('on ENOMEM evicts unused entries and retries, then gives a clear error', () => {
    const reg = new FakeRegistrar();
    reg.pinLimit = 4 * PAGE;
    const cache = makeCache(reg);
    const mem = mapPages(8);
    for (let i = 0; i < 4; i++) cache.acquire(new Uint8Array(mem.buffer, i * PAGE, PAGE)).release();
    const big = cache.acquire(new Uint8Array(mem.buffer, 4 * PAGE, 3 * PAGE));
    expect(cache.stats()).toMatchObject({ enomemRetries: 1, evictions: 4 });
    const held = cache.acquire(new Uint8Array(mem.buffer, 0, PAGE));
    let err: unknown;
    try {
      cache.acquire(new Uint8Array(mem.buffer, PAGE, 2 * PAGE));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RdmaError);
    expect((err as RdmaError).code).toBe('ENOMEM');
    expect((err as Error).message).toMatch(/ulimit -l/);
    big.release();
    held.release();
    expect(cache.stats().liveRegistrations).toBe(reg.live);
  });

  it('passes other registrar errors through and leaves nothing behind', () => {
    const reg = new FakeRegistrar();
    reg.failNext.push(new RdmaError(14, 'ibv_reg_mr'));
    const cache = makeCache(reg);
    const mem = mapPages(1);
    expect(() => cache.acquire(mem.buffer)).toThrow(/EFAULT/);
    expect(cache.stats()).toMatchObject({ entries: 0, liveRegistrations: 0 });
    cache.acquire(mem.buffer).release();
    expect(reg.live).toBe(1);
  });
});

describe('RegistrationCache invalidation', () => {
  it('drops and deregisters an unused entry when its memory is unmapped', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const mem = mapPages(2);
    new Uint8Array(mem.buffer).fill(1);
    cache.acquire(mem.buffer).release();
    t.munmap(mem.address, mem.length);
    expect(cache.checkGeneration()).toBe(true);
    expect(reg.live).toBe(0); // deregistered at the check, not later
    expect(cache.checkGeneration()).toBe(false);
    // Same address again (MAP_FIXED): a miss, counted as a stale hit avoided.
    const again = t.mmap(mem.length, undefined, t.constants.MAP_PRIVATE | t.constants.MAP_ANONYMOUS | t.constants.MAP_FIXED_NOREPLACE, mem.address);
    expect(again).toBe(mem.address);
    cache.acquire(t.wrap(again, mem.length)).release();
    expect(cache.stats()).toMatchObject({ invalidations: 1, staleAvoided: 1, misses: 2, hits: 0, liveRegistrations: 1 });
    t.munmap(again, mem.length);
  });

  it('keeps an entry in use alive through invalidation and deregisters it at its last release', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const mem = mapPages(2);
    const a = cache.acquire(mem.buffer);
    const b = cache.acquire(mem.buffer);
    t.madvise(mem.address, PAGE, t.constants.MADV_DONTNEED);
    cache.checkGeneration();
    expect(cache.stats()).toMatchObject({ entries: 0, invalidations: 1, liveRegistrations: 1 });
    expect(reg.live).toBe(1);
    // A new acquire of the same memory does not get the invalidated registration.
    const c = cache.acquire(mem.buffer);
    expect(c.lkey).not.toBe(a.lkey);
    a.release();
    expect(reg.live).toBe(2);
    b.release();
    expect(reg.live).toBe(1); // a and b's registration went at the last release
    c.release();
    t.munmap(mem.address, mem.length);
  });

  it('drops every entry overlapping a changed range', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const mem = mapPages(6);
    cache.acquire(new Uint8Array(mem.buffer, 0, 3 * PAGE)).release();
    cache.acquire(new Uint8Array(mem.buffer, 2 * PAGE, 2 * PAGE)).release();
    cache.acquire(new Uint8Array(mem.buffer, 4 * PAGE, 2 * PAGE)).release();
    t.munmap(mem.address + 2n * BPAGE, PAGE);
    cache.checkGeneration();
    expect(liveMrs(reg).map((m) => Number((m.address - mem.address) / BPAGE))).toEqual([4]);
    t.munmap(mem.address, mem.length);
  });

  it('notices mremap, MAP_FIXED and brk through acquire itself', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const { MREMAP_MAYMOVE, MAP_FIXED, MAP_PRIVATE, MAP_ANONYMOUS } = t.constants;
    const m1 = mapPages(2);
    cache.acquire(m1.buffer).release();
    const moved = t.mremap(m1.address, m1.length, 64 * PAGE, MREMAP_MAYMOVE);
    const m2 = mapPages(2);
    cache.acquire(m2.buffer).release();
    t.mmap(PAGE, undefined, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, m2.address);
    cache.acquire(new Uint8Array(8)).release(); // any acquire runs the generation check
    expect(cache.stats().invalidations).toBe(2);
    expect(reg.live).toBe(1);
    t.munmap(moved, 64 * PAGE);
    t.munmap(m2.address, m2.length);

    // The break can be lowered only where malloc did not grow its heap
    // meanwhile (lowering it under malloc's memory would crash): try again
    // higher up, a bounded number of times, and fail if it never works.
    let released = false;
    for (let attempt = 0; attempt < 5 && !released; attempt++) {
      const base = t.sbrk(0);
      const top = t.sbrk(4 * PAGE);
      expect(top).toBe(base);
      const start = (base + BPAGE - 1n) & ~(BPAGE - 1n);
      const heap = t.wrap(start, 2 * PAGE);
      new Uint8Array(heap).fill(3);
      cache.acquire(heap).release();
      const before = cache.stats().invalidations;
      released = t.sbrkRelease(base + 4n * BPAGE, 4 * PAGE);
      cache.checkGeneration();
      if (released) expect(cache.stats().invalidations).toBe(before + 1);
    }
    expect(released).toBe(true);
  });

  it('registers again when the memory changes while it is being registered', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const mem = mapPages(2);
    new Uint8Array(mem.buffer).fill(9);
    const real = reg.registerRange.bind(reg);
    let first = true;
    reg.registerRange = (address, length, access) => {
      const mr = real(address, length, access);
      if (first) {
        first = false;
        t.madvise(mem.address, PAGE, t.constants.MADV_DONTNEED); // races the registration
      }
      return mr;
    };
    const r = cache.acquire(mem.buffer);
    expect(cache.stats()).toMatchObject({ raceRetries: 1, entries: 1, liveRegistrations: 1 });
    expect(reg.registered).toBe(2);
    expect(r.lkey).toBe(reg.mrs[1]!.lkey);
    r.release();
    t.munmap(mem.address, mem.length);
  });
});

describe('RegistrationCache lifetime', () => {
  it('close() deregisters everything, is idempotent, and makes later use an error', () => {
    const reg = new FakeRegistrar();
    const monitor = MemoryMonitor.open({ backend: 'userfaultfd' });
    const cache = new RegistrationCache(reg, { monitor });
    const mem = mapPages(4);
    const held = cache.acquire(new Uint8Array(mem.buffer, 0, PAGE));
    cache.acquire(new Uint8Array(mem.buffer, PAGE, PAGE)).release();
    const limbo = cache.acquire(new Uint8Array(mem.buffer, 2 * PAGE, PAGE));
    t.madvise(mem.address + 2n * BPAGE, PAGE, t.constants.MADV_DONTNEED);
    cache.checkGeneration();
    expect(reg.live).toBe(3);
    cache[Symbol.dispose]();
    cache.close();
    expect(reg.live).toBe(0);
    expect(cache.stats().liveRegistrations).toBe(0);
    held.release();
    limbo.release();
    expect(() => cache.acquire(mem.buffer)).toThrow(/closed/);
    expect(() => cache.checkGeneration()).toThrow(/closed/);
    expect(monitor.closed).toBe(false); // not the cache's to close
    monitor.close();
    t.munmap(mem.address, mem.length);
  });

  it("counts every hit as unverified without a monitor ('none')", () => {
    const reg = new FakeRegistrar();
    const cache = new RegistrationCache(reg, { monitor: MemoryMonitor.open({ backend: 'none' }) });
    const buf = Buffer.alloc(64);
    for (let i = 0; i < 3; i++) cache.acquire(buf).release();
    expect(cache.stats()).toMatchObject({ backend: 'none', hits: 2, unverifiedHits: 2 });
    cache.close();
    expect(reg.live).toBe(0);
  });

  it('fork() (from native code) and spawn neither flush the cache nor stop the watcher', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const mem = mapPages(2);
    cache.acquire(mem.buffer).release();
    expect(t.waitpid(t.fork('exit'))).toBe(0);
    expect(spawnSync('true').status).toBe(0);
    expect(cache.checkGeneration()).toBe(false);
    cache.acquire(mem.buffer).release();
    expect(cache.stats()).toMatchObject({ hits: 1, invalidations: 0 });
    t.munmap(mem.address, mem.length);
    cache.checkGeneration();
    expect(cache.stats().invalidations).toBe(1); // the watcher thread is still there
    expect(reg.live).toBe(0);
  });

  // A forked Node child cannot run JavaScript (V8 maps its heap MADV_DONTFORK),
  // so the child's view is simulated by changing the pid cell the atfork handler writes.
  it('in a forked child it refuses to work and deregisters nothing', () => {
    const reg = new FakeRegistrar();
    const monitor = MemoryMonitor.open({ backend: 'none' });
    const cache = new RegistrationCache(reg, { monitor });
    const buf = Buffer.alloc(4096);
    cache.acquire(buf).release();
    const cell = new Int32Array(native.pidCell);
    const pid = cell[0]!;
    cell[0] = pid + 1;
    try {
      expect(() => cache.acquire(buf)).toThrow(expect.objectContaining({ code: 'EIO' }));
      expect(() => cache.checkGeneration()).not.toThrow(); // nothing moved; the next acquire refuses again
      expect(() => monitor.drain()).toThrow(expect.objectContaining({ code: 'EIO' }));
      cache.close();
      expect(reg.deregistered).toBe(0);
    } finally {
      cell[0] = pid;
    }
  });
});
