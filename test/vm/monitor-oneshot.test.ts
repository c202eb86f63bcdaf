// The module's ONESHOT feature as the monitor uses it for shared clients
// (caches): a watch made through watchFor goes away with its report, so an
// invalidated entry costs no UNREGISTER; the exact changed part reaches the
// client; routing between clients stays right; a module or option without it
// behaves as before (VM group).
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryMonitor } from '../../src/monitor/monitor.js';
import { recorder } from '../monitor-recorder.js';
import { testing } from '../../src/testing.js';

const t = testing;
const PAGE = t.constants.pageSize;

const monitors: MemoryMonitor[] = [];
function open(oneshot: boolean) {
  const m = MemoryMonitor.open({ backend: 'ummunotify', oneshot });
  monitors.push(m);
  return m;
}
afterEach(() => {
  t.failNextDrainRead(0, 0);
  for (const m of monitors.splice(0)) m.close();
});

function mapPages(pages: number) {
  const address = t.mmap(pages * PAGE);
  new Uint8Array(t.wrap(address, pages * PAGE)).fill(1);
  return Number(address);
}

/** Registrations the kernel holds for this process's ummunotify files (fdinfo). */
function kernelRegistrations(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fdinfo')) {
    let text: string;
    try {
      text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const m = /^ummunotify-registrations:\s+(\d+)/m.exec(text);
    if (m) n += Number(m[1]);
  }
  return n;
}

describe.each([true, false])('watchFor with oneshot %s', (oneshot) => {
  it('the exact changed part reaches the client; the watch ends with its report only with ONESHOT', () => {
    const m = open(oneshot);
    expect(m.oneshot).toBe(oneshot);
    const a = recorder();
    m.attach(a.client);
    const base = mapPages(4);
    const before = kernelRegistrations();
    const c = m.nextCookie();
    m.watchFor(a.client, base, base + 4 * PAGE, c);
    expect(kernelRegistrations()).toBe(before + 1);
    t.munmap(BigInt(base + PAGE), PAGE);
    expect(m.changed).toBe(true);
    expect(m.dispatch()).toBe(true);
    expect(a.reports).toEqual([[c, base + PAGE, base + 2 * PAGE, true]]);
    // ONESHOT: gone from the kernel once read; V2: still there until unwatched.
    expect(kernelRegistrations()).toBe(before + (oneshot ? 0 : 1));
    m.unwatchFor(c);
    expect(kernelRegistrations()).toBe(before);
    expect(m.counts()).toEqual({ watches: 1, unwatches: oneshot ? 0 : 1, removedByBackend: oneshot ? 1 : 0 });
    t.munmap(BigInt(base), 4 * PAGE);
    expect(m.changed).toBe(false);
  });

  it('two clients on one monitor: a report for one never reaches the other', () => {
    const m = open(oneshot);
    const a = recorder();
    const b = recorder();
    m.attach(a.client);
    m.attach(b.client);
    const base = mapPages(3);
    const a0 = m.nextCookie();
    const a1 = m.nextCookie();
    const b1 = m.nextCookie();
    const b2 = m.nextCookie();
    m.watchFor(a.client, base, base + PAGE, a0);
    m.watchFor(a.client, base + PAGE, base + 2 * PAGE, a1);
    m.watchFor(b.client, base + PAGE, base + 2 * PAGE, b1);
    m.watchFor(b.client, base + 2 * PAGE, base + 3 * PAGE, b2);
    t.munmap(BigInt(base), PAGE);
    m.dispatch();
    expect(a.reports).toEqual([[a0, base, base + PAGE, true]]);
    expect(b.reports).toEqual([]);
    t.munmap(BigInt(base + PAGE), PAGE);
    m.dispatch();
    expect(a.reports.slice(1)).toEqual([[a1, base + PAGE, base + 2 * PAGE, true]]);
    expect(b.reports).toEqual([[b1, base + PAGE, base + 2 * PAGE, true]]);
    // b drops its other watch before anything happens to it.
    m.unwatchFor(b2);
    t.munmap(BigInt(base + 2 * PAGE), PAGE);
    m.dispatch();
    expect(b.reports).toHaveLength(1);
    for (const c of [a0, a1, b1]) m.unwatchFor(c);
    expect(m.counts()).toEqual(
      oneshot ? { watches: 4, unwatches: 1, removedByBackend: 3 } : { watches: 4, unwatches: 4, removedByBackend: 0 },
    );
    expect(a.lost + b.lost).toBe(0);
  });

  it('a drain that fails part way: every client is told, and unwatching what was lost is not an error', () => {
    const m = open(oneshot);
    const a = recorder();
    const b = recorder();
    m.attach(a.client);
    m.attach(b.client);
    const pages = 100; // more than one read() of 64 events
    const base = mapPages(pages);
    const before = kernelRegistrations();
    const ids: number[] = [];
    for (let i = 0; i < pages; i++) {
      const c = m.nextCookie();
      ids.push(c);
      m.watchFor(i % 2 ? b.client : a.client, base + i * PAGE, base + (i + 1) * PAGE, c);
    }
    t.munmap(BigInt(base), pages * PAGE);
    t.failNextDrainRead(12 /* ENOMEM */, 1);
    expect(m.dispatch()).toBe(false);
    expect([a.lost, b.lost]).toEqual([1, 1]);
    // What the clients do on onLost: drop everything. Reports consumed by the
    // failed read are gone from the kernel (ENOENT), and that is fine.
    for (const c of ids) m.unwatchFor(c);
    expect(m.dispatch()).toBe(true);
    expect(kernelRegistrations()).toBe(before);
  });
});

it('a reallocated buffer costs one watch and no unwatch in a cache over a ONESHOT monitor', async () => {
  const { RegistrationCache } = await import('../../src/index.js');
  const { FakeRegistrar } = await import('../unit/cache-helpers.js');
  const m = open(true);
  const cache = new RegistrationCache(new FakeRegistrar(), { monitor: m });
  try {
    for (let i = 0; i < 20; i++) {
      const a = t.mmap(PAGE);
      const view = new Uint8Array(t.wrap(a, PAGE)).fill(1);
      cache.acquire(view).release();
      t.munmap(a, PAGE);
      expect(cache.checkGeneration()).toBe(true);
    }
    expect(cache.stats().invalidations).toBe(20);
    expect(m.counts()).toEqual({ watches: 20, unwatches: 0, removedByBackend: 20 });
  } finally {
    cache.close();
  }
});
