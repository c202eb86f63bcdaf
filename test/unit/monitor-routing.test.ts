// One monitor shared by several clients (caches): each report reaches only the
// client that watched its cookie, with the exact changed part. Host, the
// userfaultfd backend (the ummunotify side: test/vm/monitor-oneshot.test.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryMonitor } from '../../src/monitor/monitor.js';
import { recorder } from '../monitor-recorder.js';
import { PAGE, mapPages, t } from './cache-helpers.js';

const monitors: MemoryMonitor[] = [];
afterEach(() => {
  for (const m of monitors.splice(0)) m.close();
});

describe('a monitor shared by clients', () => {
  it('routes each report to the client that watched its cookie, never to another', () => {
    const m = MemoryMonitor.open({ backend: 'userfaultfd' });
    monitors.push(m);
    const a = recorder();
    const b = recorder();
    m.attach(a.client);
    m.attach(b.client);
    const mem = mapPages(3);
    const base = Number(mem.address);
    // a: page 0; b: page 2; both: page 1 (each its own cookie).
    const a0 = m.nextCookie();
    const b2 = m.nextCookie();
    const a1 = m.nextCookie();
    const b1 = m.nextCookie();
    m.watchFor(a.client, base, base + PAGE, a0);
    m.watchFor(b.client, base + 2 * PAGE, base + 3 * PAGE, b2);
    m.watchFor(a.client, base + PAGE, base + 2 * PAGE, a1);
    m.watchFor(b.client, base + PAGE, base + 2 * PAGE, b1);

    t.munmap(mem.address, PAGE); // a's page only
    expect(m.dispatch()).toBe(true);
    expect(a.reports).toEqual([[a0, base, base + PAGE, true]]);
    expect(b.reports).toEqual([]);

    t.munmap(mem.address + BigInt(PAGE), PAGE); // the shared page: each gets its own cookie
    m.dispatch();
    expect(a.reports.slice(1)).toEqual([[a1, base + PAGE, base + 2 * PAGE, true]]);
    expect(b.reports).toEqual([[b1, base + PAGE, base + 2 * PAGE, true]]);

    // An unwatched cookie's report reaches nobody, even if the range changes.
    m.unwatchFor(b2);
    t.munmap(mem.address + BigInt(2 * PAGE), PAGE);
    m.dispatch();
    expect(b.reports).toHaveLength(1);
    expect(a.reports).toHaveLength(2);
    for (const c of [a0, a1, b1]) m.unwatchFor(c);
    // userfaultfd never removes a watch by itself: every end was a real unwatch.
    expect(m.counts()).toEqual({ watches: 4, unwatches: 4, removedByBackend: 0 });
    m.unwatchFor(a0); // again: a no-op, not an error
    expect(m.counts().unwatches).toBe(4);
  });
});
