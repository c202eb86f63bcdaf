// The memos of the hit path (on the view, on its ArrayBuffer) against a fake
// registrar: a hit is fast only when a memo answers, and no memo outlives a
// change of the memory behind it.
import { describe, expect, it } from 'vitest';
import { MemoryMonitor, RegistrationCache } from '../../src/index.js';
import { BPAGE, FakeRegistrar, PAGE, cacheFixture, mapPages, t } from './cache-helpers.js';

const makeCache = cacheFixture();

const kinds = (c: RegistrationCache) => {
  const s = c.stats();
  return { fast: s.fastHits, slow: s.slowHits, misses: s.misses, hits: s.hits };
};

describe('RegistrationCache fast and slow hits', () => {
  it('counts the same view again as fast, another ArrayBuffer over the memory as slow', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const mem = mapPages(4);
    const view = new Uint8Array(mem.buffer, 10, 100);
    cache.acquire(view).release();
    expect(kinds(cache)).toEqual({ fast: 0, slow: 0, misses: 1, hits: 0 });
    cache.acquire(view).release(); // the view's own memo
    cache.acquire(new Uint8Array(mem.buffer, 10, 100)).release(); // a new view, same buffer and offset: the buffer's memo
    cache.acquire(new DataView(mem.buffer, 10, 100)).release(); // a DataView is never tagged: the buffer's memo
    expect(kinds(cache)).toEqual({ fast: 3, slow: 0, misses: 1, hits: 3 });
    const other = t.wrap(mem.address, PAGE); // another ArrayBuffer, same memory: the index
    const r = cache.acquire(new Uint8Array(other, 20, 50));
    expect(r.lkey).toBe(reg.mrs[0]!.lkey);
    r.release();
    expect(kinds(cache)).toEqual({ fast: 3, slow: 1, misses: 1, hits: 4 });
    cache.acquire(new Uint8Array(other, 20, 50)).release(); // remembered now
    expect(kinds(cache)).toMatchObject({ fast: 4, slow: 1 });
    expect(reg.registered).toBe(1);
  });

  it('reports every hit as unverified under the none backend, fast or slow', () => {
    const reg = new FakeRegistrar();
    const cache = new RegistrationCache(reg, { monitor: MemoryMonitor.open({ backend: 'none' }) });
    const buf = Buffer.alloc(PAGE * 2);
    cache.acquire(buf).release();
    cache.acquire(buf).release();
    cache.acquire(buf.subarray(0, 8)).release();
    const s = cache.stats();
    expect(s.hits).toBe(s.fastHits + s.slowHits);
    expect(s.unverifiedHits).toBe(s.hits);
    expect(s.hits).toBe(2);
    cache.close();
    expect(reg.live).toBe(0);
  });
});

describe('RegistrationCache memos: views of one buffer', () => {
  it('tells apart offsets, lengths and access flags of the same buffer', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const mem = mapPages(8);
    const a = new Uint8Array(mem.buffer, 0, 100); // page 0
    const b = new Uint8Array(mem.buffer, 0, 3 * PAGE); // same offset, longer: pages 0-2
    const c = new Uint8Array(mem.buffer, 5 * PAGE + 1, 10); // page 5
    const ra = cache.acquire(a);
    const rb = cache.acquire(b);
    const rc = cache.acquire(c);
    const ra1 = cache.acquire(a, 1); // other access flags: its own registration
    expect(reg.registered).toBe(4);
    for (const r of [ra, rb, rc, ra1]) r.release();
    const lkeyOf = (first: number, pages: number, access = 7) =>
      reg.mrs.find((m) => m.address === mem.address + BigInt(first) * BPAGE && m.length === pages * PAGE && m.access === access)!.lkey;
    for (let round = 0; round < 2; round++) {
      // Same views and fresh views at the same offsets: each served by its own registration (or one containing it).
      for (const [view, first, pages, access] of [
        [a, 0, 1, 7],
        [b, 0, 3, 7],
        [c, 5, 1, 7],
        [new Uint8Array(mem.buffer, 0, 3 * PAGE), 0, 3, 7],
        [new Uint8Array(mem.buffer, 0, 100), 0, 1, 7],
        [a, 0, 1, 1],
      ] as const) {
        const r = cache.acquire(view, access);
        const lk = r.lkey;
        // a of length 100 may be served by b's registration (it contains page 0): either is right.
        if (view.byteLength === 100 && access === 7) expect([lkeyOf(0, 1), lkeyOf(0, 3)]).toContain(lk);
        else expect(lk).toBe(lkeyOf(first, pages, access));
        expect(r.address).toBe(mem.address + BigInt(view.byteOffset));
        expect(r.length).toBe(view.byteLength);
        r.release();
      }
    }
    expect(reg.registered).toBe(4);
    const s = cache.stats();
    expect(s.hits).toBe(12);
    // One memo slot per offset: fresh views at offset 0 with another length or
    // access, and the view a switching access, go to the index (slow), rightly.
    expect(s.fastHits + s.slowHits).toBe(12);
    for (const v of [b, c]) for (let i = 0; i < 2; i++) cache.acquire(v).release(); // used again in a row: tagged
    const before = cache.stats().fastHits;
    for (const v of [b, c]) cache.acquire(v).release(); // their own memos, whatever the buffer's memo holds
    expect(cache.stats().fastHits).toBe(before + 2);
  });

  it('never serves a view from a registration that does not contain it', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const mem = mapPages(4);
    cache.acquire(new Uint8Array(mem.buffer, 0, PAGE)).release(); // page 0 remembered at offset 0
    const r = cache.acquire(new Uint8Array(mem.buffer, 0, 2 * PAGE)); // same offset, two pages
    const mr = reg.mrs.find((m) => m.lkey === r.lkey)!;
    expect(mr.length).toBeGreaterThanOrEqual(2 * PAGE);
    r.release();
  });

  it('follows a view whose element count changes (resizable buffer) and refuses a detached one', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const ab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(
      64,
      { maxByteLength: 64 * PAGE },
    );
    const tracking = new Uint8Array(ab); // length-tracking
    const r1 = cache.acquire(tracking);
    expect(r1.length).toBe(64);
    r1.release();
    ab.resize(8 * PAGE);
    const r2 = cache.acquire(tracking);
    expect(r2.length).toBe(8 * PAGE); // not the remembered 64 bytes
    const mr = reg.mrs.find((m) => m.lkey === r2.lkey)!;
    expect(Number(mr.address) + mr.length).toBeGreaterThanOrEqual(Number(r2.address) + 8 * PAGE);
    r2.release();

    const plain = new ArrayBuffer(256);
    const view = new Uint8Array(plain);
    cache.acquire(view).release();
    cache.acquire(view).release();
    structuredClone(plain, { transfer: [plain] });
    expect(() => cache.acquire(view)).toThrow(RangeError);
    expect(() => cache.acquire(plain)).toThrow(RangeError);
  });

  it('answers ArrayBuffers, frozen-shape views and SharedArrayBuffers through their buffer', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const mem = mapPages(2);
    const sealed = Object.preventExtensions(new Uint8Array(mem.buffer, 8, 8)); // cannot be tagged
    for (let i = 0; i < 3; i++) {
      cache.acquire(mem.buffer).release();
      cache.acquire(sealed).release();
    }
    const sab = new SharedArrayBuffer(PAGE);
    cache.acquire(sab).release();
    cache.acquire(sab).release();
    expect(cache.stats()).toMatchObject({ misses: 2, slowHits: 1, fastHits: 5 });
  });
});

describe('RegistrationCache view memos', () => {
  it('tags a view only when it is acquired again, never one made per operation', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const mem = mapPages(2);
    const tags = (v: object) => Object.getOwnPropertySymbols(v).length;
    const fresh = () => new Uint8Array(mem.buffer, 64, 128);
    for (let i = 0; i < 3; i++) {
      const v = fresh();
      cache.acquire(v).release();
      expect(tags(v)).toBe(0);
    }
    const kept = fresh();
    cache.acquire(kept).release();
    expect(tags(kept)).toBe(0);
    cache.acquire(kept).release();
    expect(tags(kept)).toBeGreaterThan(0);
    expect(Object.keys(kept)).toEqual(Object.keys(fresh())); // invisible to enumeration
    expect(cache.stats()).toMatchObject({ misses: 1, fastHits: 4, slowHits: 0 });
  });

  it("shares its tags with every cache, and never hands out another cache's registration", () => {
    const regA = new FakeRegistrar();
    const regB = new FakeRegistrar();
    const monitor = MemoryMonitor.open({ backend: 'userfaultfd' });
    const a = new RegistrationCache(regA, { monitor });
    const b = new RegistrationCache(regB, { monitor });
    const view = new Uint8Array(mapPages(2).buffer, 64, 256);
    const lkeyOf = (c: RegistrationCache) => {
      const r = c.acquire(view);
      const k = r.lkey;
      r.release();
      return k;
    };
    expect([lkeyOf(a), lkeyOf(a)]).toEqual([regA.mrs[0]!.lkey, regA.mrs[0]!.lkey]); // the second tags the view
    const tagged = Object.getOwnPropertySymbols(view).length;
    expect(tagged).toBeGreaterThan(0);
    // b finds a's entry through the tags: not its own, so a miss of b's, then b's tag.
    expect([lkeyOf(b), lkeyOf(b), lkeyOf(b)]).toEqual(Array(3).fill(regB.mrs[0]!.lkey));
    expect(Object.getOwnPropertySymbols(view)).toHaveLength(tagged); // the same tags, not a second set
    // a again: b's entry in the tags, a's own found through its buffer memo.
    expect([lkeyOf(a), lkeyOf(a)]).toEqual([regA.mrs[0]!.lkey, regA.mrs[0]!.lkey]);
    expect(a.stats()).toMatchObject({ misses: 1, hits: 3 });
    expect(b.stats()).toMatchObject({ misses: 1, hits: 2 });
    a.close();
    // A closed cache's entry in the tags serves neither it nor the other.
    expect(() => a.acquire(view)).toThrow(/closed/);
    expect(lkeyOf(b)).toBe(regB.mrs[0]!.lkey);
    b.close();
    monitor.close();
    expect(regA.live + regB.live).toBe(0);
  });
});

describe('RegistrationCache memos and changed memory', () => {
  it('a view acquired after its range was invalidated is a miss, not a stale hit, drained or not', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg);
    const mem = mapPages(3);
    new Uint8Array(mem.buffer).fill(1);
    const view = new Uint8Array(mem.buffer, PAGE + 5, 100);
    const first = cache.acquire(view);
    const old = first.lkey;
    first.release();
    cache.acquire(view).release(); // remembered on the view and on the buffer
    t.madvise(mem.address + BPAGE, PAGE, t.constants.MADV_DONTNEED);
    // No checkGeneration: acquire itself must apply the pending report before trusting a memo.
    const again = cache.acquire(view);
    expect(again.lkey).not.toBe(old);
    expect(reg.mrs.find((m) => m.lkey === old)!.live).toBe(false);
    again.release();
    const fresh = cache.acquire(new Uint8Array(mem.buffer, PAGE + 5, 100)); // the buffer's memo now names the new entry
    expect(fresh.lkey).toBe(again.lkey);
    fresh.release();
    expect(cache.stats()).toMatchObject({ misses: 2, fastHits: 2, slowHits: 0, invalidations: 1, staleAvoided: 1 });

    t.munmap(mem.address + BPAGE, PAGE); // drained this time, then the same view
    cache.checkGeneration();
    expect(reg.live).toBe(0);
    const remapped = t.mmap(PAGE, undefined, t.constants.MAP_PRIVATE | t.constants.MAP_ANONYMOUS | t.constants.MAP_FIXED_NOREPLACE, mem.address + BPAGE);
    expect(remapped).toBe(mem.address + BPAGE);
    const third = cache.acquire(view);
    expect([old, again.lkey]).not.toContain(third.lkey);
    third.release();
    expect(cache.stats()).toMatchObject({ misses: 3, invalidations: 2 });
    t.munmap(mem.address, mem.length);
  });

  it('an evicted entry is not served from a memo', () => {
    const reg = new FakeRegistrar();
    const cache = makeCache(reg, { maxEntries: 1 });
    const mem = mapPages(2);
    const p0 = new Uint8Array(mem.buffer, 0, PAGE);
    const p1 = new Uint8Array(mem.buffer, PAGE, PAGE);
    const r0 = cache.acquire(p0);
    const k0 = r0.lkey;
    r0.release();
    cache.acquire(p1).release(); // evicts p0's entry
    expect(reg.mrs.find((m) => m.lkey === k0)!.live).toBe(false);
    const again = cache.acquire(p0);
    expect(again.lkey).not.toBe(k0);
    expect(reg.mrs.find((m) => m.lkey === again.lkey)!.live).toBe(true);
    again.release();
    expect(cache.stats()).toMatchObject({ misses: 3, hits: 0, evictions: 2 });
  });

  it('memos of a closed cache serve nothing', () => {
    const reg = new FakeRegistrar();
    const monitor = MemoryMonitor.open({ backend: 'userfaultfd' });
    const cache = new RegistrationCache(reg, { monitor });
    const view = new Uint8Array(mapPages(1).buffer);
    cache.acquire(view).release();
    cache.close();
    expect(() => cache.acquire(view)).toThrow(/closed/);
    const next = new RegistrationCache(reg, { monitor }); // its own memos: the view is new to it
    next.acquire(view).release();
    expect(next.stats()).toMatchObject({ misses: 1, hits: 0 });
    next.close();
    monitor.close();
    expect(reg.live).toBe(0);
  });
});
