// The idle set (lru-cache of registrations no one holds) on its own, and as
// the cache uses it: entered at the last release, left on reuse, bounded,
// disposal deregisters exactly once, entries in use never evicted.
import { describe, expect, it } from 'vitest';
import { Entry } from '../../src/cache/entry.js';
import { IdleSet } from '../../src/cache/idle-set.js';
import { MemoryMonitor, RegistrationCache, type Registration } from '../../src/index.js';
import { FakeRegistrar, PAGE, mapPages } from './cache-helpers.js';

function entry(id: number): Entry {
  const e = new Entry(id, id * PAGE, (id + 1) * PAGE, 7);
  e.valid = true;
  return e;
}
const drain = (s: IdleSet) => {
  const out: number[] = [];
  for (let e = s.takeOldest(); e !== undefined; e = s.takeOldest()) out.push(e.id);
  return out;
};

describe('IdleSet', () => {
  it('hands out the least recently released first; a reused entry gets a second chance', () => {
    const s = new IdleSet(10);
    const es = [1, 2, 3, 4].map(entry);
    for (const e of es) s.enter(e);
    // 2 is used again and released: it stays where it was, marked, and goes to the recent end when reached.
    es[1]!.refs = 1;
    es[1]!.refs = 0;
    s.enter(es[1]!);
    expect(drain(s)).toEqual([1, 3, 4, 2]);
    expect(s.size).toBe(0);
  });

  it('never hands out an entry in use (it leaves the set) nor one removed or invalid', () => {
    const s = new IdleSet(10);
    const es = [1, 2, 3, 4].map(entry);
    for (const e of es) s.enter(e);
    es[0]!.refs = 2; // reused, still held
    s.remove(es[2]!);
    es[3]!.valid = false;
    expect(drain(s)).toEqual([2]);
    expect(es[0]!.idle).toBe(false); // left the set: its last release puts it back
    es[0]!.refs = 0;
    s.enter(es[0]!);
    expect(drain(s)).toEqual([1]);
  });

  it('removing the last entry leaves a working set', () => {
    const s = new IdleSet(4);
    const a = entry(1);
    s.enter(a);
    s.remove(a);
    expect(s.size).toBe(0);
    expect(s.takeOldest()).toBeUndefined();
    s.enter(entry(2));
    expect(drain(s)).toEqual([2]);
  });

  it('what lru-cache pushes out past its bound is handed out first, unless it came back', () => {
    const s = new IdleSet(2);
    const es = [1, 2, 3].map(entry);
    for (const e of es) s.enter(e);
    expect(s.overflowed).toBe(true);
    expect(s.takeOldest()!.id).toBe(1);
    expect(s.overflowed).toBe(false);
    const t = new IdleSet(2);
    const fs = [1, 2, 3].map(entry);
    for (const e of fs) t.enter(e);
    t.enter(fs[0]!); // released again before it was judged: queued again, not evicted
    expect(drain(t)).toEqual([2, 3, 1]);
  });
});

describe('RegistrationCache idle set', () => {
  const cacheOf = (reg: FakeRegistrar, opts: ConstructorParameters<typeof RegistrationCache>[1] = {}) =>
    new RegistrationCache(reg, { monitor: MemoryMonitor.open({ backend: 'none' }), ...opts });

  it('an entry enters at its last release and leaves on reuse', () => {
    const reg = new FakeRegistrar();
    const cache = cacheOf(reg);
    const v = Buffer.alloc(PAGE);
    const a = cache.acquire(v);
    const b = cache.acquire(v);
    expect(cache.stats()).toMatchObject({ entries: 1, inUse: 1, idle: 0 });
    a.release();
    expect(cache.stats()).toMatchObject({ inUse: 1, idle: 0 });
    b.release();
    expect(cache.stats()).toMatchObject({ inUse: 0, idle: 1 });
    const c = cache.acquire(v);
    expect(cache.stats()).toMatchObject({ inUse: 1, idle: 0 });
    c.release();
    cache.close();
    expect(reg.live).toBe(0);
  });

  it('evicts an entry not reused since it was queued before any reused one (second chance)', () => {
    const reg = new FakeRegistrar();
    const cache = cacheOf(reg, { maxEntries: 3 });
    const mem = mapPages(6);
    const page = (i: number) => new Uint8Array(mem.buffer, i * PAGE, PAGE);
    const pages = [0, 1, 2, 3, 4, 5].map(page);
    for (const i of [0, 1, 2]) cache.acquire(pages[i]!).release();
    cache.acquire(pages[1]!).release();
    cache.acquire(pages[0]!).release(); // 0 and 1 reused while queued; 2 not
    const livePages = () => reg.mrs.filter((m) => m.live).map((m) => Number(m.address - mem.address) / PAGE).sort();
    cache.acquire(pages[3]!).release();
    expect(livePages()).toEqual([0, 1, 3]);
    cache.acquire(pages[4]!).release(); // the reused ones had their second chance: one goes
    cache.acquire(pages[5]!).release();
    expect(livePages()).toEqual([3, 4, 5]);
    expect(cache.stats()).toMatchObject({ evictions: 3, entries: 3, idle: 3 });
    cache.close();
    expect(reg.doubleDeregisters).toBe(0);
  });

  it('randomised: bounded, in use never evicted, each registration deregistered once, none left', () => {
    let seed = 99;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const reg = new FakeRegistrar();
    const maxEntries = 8;
    const maxBytes = 12 * PAGE;
    const cache = cacheOf(reg, { maxEntries, maxBytes });
    const mem = mapPages(40);
    const pool = Array.from({ length: 60 }, () => {
      const first = Math.floor(rand() * 38);
      return new Uint8Array(mem.buffer, first * PAGE + Math.floor(rand() * 100), 1 + Math.floor(rand() * 2 * PAGE));
    });
    const held: Registration[] = [];
    for (let op = 0; op < 4000; op++) {
      const r = rand();
      if (r < 0.6) {
        const fresh = rand() < 0.3;
        const v0 = pool[Math.floor(rand() * pool.length)]!;
        const v = fresh ? new Uint8Array(v0.buffer, v0.byteOffset, v0.byteLength) : v0;
        const h = cache.acquire(v, rand() < 0.1 ? 1 : 7);
        const mr = reg.mrs.find((m) => m.lkey === h.lkey)!;
        expect(mr.live).toBe(true);
        expect(Number(mr.address) <= Number(h.address) && Number(h.address) + h.length <= Number(mr.address) + mr.length).toBe(true);
        if (rand() < 0.25) held.push(h);
        else h.release();
      } else if (held.length) {
        held.splice(Math.floor(rand() * held.length), 1)[0]!.release();
      }
      // Every hold's registration is alive; the limits hold as far as the entries in use allow.
      for (const h of held) expect(reg.mrs.find((m) => m.lkey === h.lkey)!.live).toBe(true);
      const s = cache.stats();
      expect(s.idle).toBeLessThanOrEqual(maxEntries);
      expect(s.entries).toBeLessThanOrEqual(Math.max(maxEntries, s.inUse));
      if (s.bytesPinned > maxBytes) expect(s.idle).toBe(0);
      expect(s.liveRegistrations).toBe(reg.live);
      expect(s.hits).toBe(s.fastHits + s.slowHits);
    }
    const s = cache.stats();
    expect(s.evictions).toBeGreaterThan(100);
    expect(s.fastHits).toBeGreaterThan(100);
    expect(s.slowHits).toBeGreaterThan(10);
    for (const h of held) h.release();
    cache.close();
    expect(reg.live).toBe(0);
    expect(reg.doubleDeregisters).toBe(0);
    expect(reg.deregistered).toBe(reg.registered);
  });
});
