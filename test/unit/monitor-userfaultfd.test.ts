// The userfaultfd backend of MemoryMonitor against real munmap/mremap/madvise
// on the host (needs root or vm.unprivileged_userfaultfd=1).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryMonitor, RdmaError, type MonitorEvent } from '../../src/index.js';
import { BPAGE, PAGE, mapPages, t } from './cache-helpers.js';

const { MADV_DONTNEED, MREMAP_MAYMOVE, MAP_FIXED, MAP_PRIVATE, MAP_ANONYMOUS } = t.constants;
const monitors: MemoryMonitor[] = [];
function openMonitor(mode: 'auto' | 'wp' | 'missing' = 'auto') {
  const m = MemoryMonitor.open({ backend: 'userfaultfd', userfaultfdMode: mode });
  monitors.push(m);
  return m;
}
afterEach(() => {
  for (const m of monitors.splice(0)) m.close();
});

const byCookie = (events: MonitorEvent[]) =>
  Object.fromEntries(events.map((e) => [String(e.cookie), { start: e.start, end: e.end, hint: e.hint }]));

describe.each(['wp', 'missing'] as const)('userfaultfd monitor (%s mode)', (mode) => {
  it('reports munmap of part of a watched range, with the exact pages, before munmap returns', () => {
    const m = openMonitor(mode);
    const mem = mapPages(3);
    m.watch(mem.address, mem.length, 1n);
    const before = m.generation;
    expect(m.changed).toBe(false);
    t.munmap(mem.address + BPAGE, PAGE);
    expect(m.generation).not.toBe(before); // moved by the time munmap returned
    expect(m.changed).toBe(true);
    expect(byCookie(m.drain())).toEqual({ '1': { start: mem.address + BPAGE, end: mem.address + 2n * BPAGE, hint: true } });
    expect(m.changed).toBe(false);
    expect(m.drain()).toEqual([]);
    t.munmap(mem.address, mem.length);
    expect(m.drain().map((e) => e.cookie)).toEqual([1n]); // still watched until unwatch
  });

  it('reports madvise(DONTNEED), mremap (move and shrink) and MAP_FIXED', () => {
    const m = openMonitor(mode);
    const a = mapPages(2);
    const b = mapPages(4);
    const c = mapPages(2);
    const d = mapPages(2);
    new Uint8Array(a.buffer).fill(5);
    m.watch(a.address, a.length, 1n);
    m.watch(b.address, b.length, 2n);
    m.watch(c.address, c.length, 3n);
    m.watch(d.address, d.length, 4n);

    t.madvise(a.address, PAGE, MADV_DONTNEED);
    expect(byCookie(m.drain())).toEqual({ '1': { start: a.address, end: a.address + BPAGE, hint: true } });
    expect(new Uint8Array(a.buffer)[0]).toBe(0); // zero-filled again (in MISSING mode by the watcher thread)
    expect(new Uint8Array(a.buffer)[PAGE]).toBe(5);

    const shrunk = t.mremap(b.address, b.length, 2 * PAGE, 0);
    expect(shrunk).toBe(b.address);
    expect(byCookie(m.drain())['2']).toMatchObject({ start: b.address + 2n * BPAGE, end: b.address + 4n * BPAGE });

    const moved = t.mremap(c.address, c.length, 64 * PAGE, MREMAP_MAYMOVE);
    expect(m.drain().map((e) => e.cookie)).toContain(3n);

    t.mmap(PAGE, undefined, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, d.address + BPAGE);
    expect(byCookie(m.drain())).toEqual({ '4': { start: d.address + BPAGE, end: d.address + 2n * BPAGE, hint: true } });


    for (const [addr, len] of [[a.address, a.length], [b.address, 2 * PAGE], [moved, 64 * PAGE], [d.address, d.length]] as const) {
      t.munmap(addr, len);
    }
  });

  it('reports brk shrink (in a fresh process, whose break can grow)', () => {
    const child = () =>
      spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('fixtures/brk-shrink.ts', import.meta.url)), mode], {
        encoding: 'utf8',
        timeout: 60_000,
      });
    // Exit 75: the break could not grow in that process's layout (a mapping right above it); a
    // new process gets a new random layout.
    let r = child();
    for (let i = 0; i < 5 && r.status === 75; i++) r = child();
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!).cookies).toEqual(['5']);
  });

  it('reports every overlapping watch once per drain; a second hit clears the hint', () => {
    const m = openMonitor(mode);
    const mem = mapPages(6);
    m.watch(mem.address, 4 * PAGE, 1n);
    m.watch(mem.address + 2n * BPAGE, 4 * PAGE, 2n);
    m.watch(mem.address + 5n * BPAGE, PAGE, 3n);
    t.madvise(mem.address + 3n * BPAGE, PAGE, MADV_DONTNEED);
    t.madvise(mem.address, PAGE, MADV_DONTNEED);
    const ev = byCookie(m.drain());
    expect(ev['1']).toEqual({ start: mem.address, end: mem.address + 4n * BPAGE, hint: false });
    expect(ev['2']).toEqual({ start: mem.address + 3n * BPAGE, end: mem.address + 4n * BPAGE, hint: true });
    expect(ev['3']).toBeUndefined();
    t.munmap(mem.address, mem.length);
  });

  it('unwatch stops reports and discards a pending one; shared pages stay watched for the others', () => {
    const m = openMonitor(mode);
    const mem = mapPages(4);
    m.watch(mem.address, 2 * PAGE, 1n);
    m.watch(mem.address, 4 * PAGE, 2n);
    t.madvise(mem.address, PAGE, MADV_DONTNEED);
    m.unwatch(1n);
    expect(m.drain().map((e) => e.cookie)).toEqual([2n]);
    t.madvise(mem.address + BPAGE, PAGE, MADV_DONTNEED); // page shared with the removed watch
    expect(m.drain().map((e) => e.cookie)).toEqual([2n]);
    m.unwatch(2n);
    const g = m.generation;
    t.munmap(mem.address, mem.length);
    expect(m.generation).toBe(g);
    expect(m.drain()).toEqual([]);
  });

  it('a drain larger than one native slice (64 reports) hands over every report once, 64-bit cookies exact', () => {
    const m = openMonitor(mode);
    const pages = 150;
    const mem = mapPages(pages);
    const big = (1n << 63n) + 12345n; // above 2^53: must survive the trip
    for (let i = 0; i < pages; i++) m.watch(mem.address + BigInt(i) * BPAGE, PAGE, i === 0 ? big : BigInt(i + 1));
    t.munmap(mem.address, mem.length);
    const events = m.drain();
    expect(events).toHaveLength(pages);
    expect(new Set(events.map((e) => e.cookie)).size).toBe(pages);
    expect(events.find((e) => e.cookie === big)).toEqual({ cookie: big, start: mem.address, end: mem.address + BPAGE, hint: true });
    expect(m.changed).toBe(false);
    expect(m.drain()).toEqual([]);
  });

  it('drainNumbers (the cache\'s path) reports what drain would, as numbers', () => {
    const m = openMonitor(mode);
    const pages = 70;
    const mem = mapPages(pages);
    for (let i = 0; i < pages; i++) m.watchNumbers(Number(mem.address) + i * PAGE, Number(mem.address) + (i + 1) * PAGE, i + 1);
    t.munmap(mem.address, mem.length);
    const seen: [number, number, number][] = [];
    m.drainNumbers((cookie, start, end) => seen.push([cookie, start, end]));
    seen.sort((a, b) => a[0] - b[0]);
    expect(seen).toEqual(Array.from({ length: pages }, (_, i) => [i + 1, Number(mem.address) + i * PAGE, Number(mem.address) + (i + 1) * PAGE]));
    expect(m.changed).toBe(false);
    for (let i = 0; i < pages; i++) m.unwatchNumber(i + 1);
    expect(() => m.unwatchNumber(1)).toThrow();
  });

  it('a watch after an unmap and a new mapping at the same address is armed again', () => {
    const m = openMonitor(mode);
    const mem = mapPages(2);
    m.watch(mem.address, mem.length, 1n);
    t.munmap(mem.address, mem.length);
    m.drain();
    m.unwatch(1n);
    t.mmap(mem.length, undefined, MAP_PRIVATE | MAP_ANONYMOUS | t.constants.MAP_FIXED_NOREPLACE, mem.address);
    m.watch(mem.address, mem.length, 2n);
    t.munmap(mem.address, PAGE);
    expect(m.drain().map((e) => e.cookie)).toEqual([2n]);
    t.munmap(mem.address, mem.length);
  });
});

describe('userfaultfd monitor', () => {
  it('resolves kernel-mode faults in MISSING-mode ranges (no hang)', () => {
    const m = openMonitor('missing');
    const mem = mapPages(2);
    m.watch(mem.address, mem.length, 1n);
    t.madvise(mem.address, mem.length, MADV_DONTNEED);
    // read() copying into the range faults in the kernel: the watcher thread must fill it.
    const { openSync, readSync, closeSync } = require('node:fs') as typeof import('node:fs');
    const fd = openSync(fileURLToPath(import.meta.url), 'r');
    const n = readSync(fd, new Uint8Array(mem.buffer, PAGE - 10, 100));
    closeSync(fd);
    expect(n).toBe(100);
    expect(Buffer.from(mem.buffer, PAGE - 10, 6).toString()).toBe(readFileSync(fileURLToPath(import.meta.url), 'utf8').slice(0, 6));
    t.munmap(mem.address, mem.length);
  });

  it('watches shared anonymous memory (shmem); refuses System V shm with a clear error', () => {
    const m = openMonitor();
    const { MAP_SHARED } = t.constants;
    const shared = t.mmap(2 * PAGE, undefined, MAP_SHARED | MAP_ANONYMOUS);
    new Uint8Array(t.wrap(shared, 2 * PAGE)).fill(1);
    m.watch(shared, 2 * PAGE, 1n);
    t.madvise(shared, PAGE, t.constants.MADV_REMOVE); // punch a hole
    expect(m.drain().map((e) => e.cookie)).toEqual([1n]);
    t.munmap(shared, 2 * PAGE);
    expect(m.drain().map((e) => e.cookie)).toEqual([1n]);
    // SysV segments are not shmem VMAs to userfaultfd (and shmdt sends no event anyway).
    const shm = t.shmAttach(PAGE);
    expect(() => m.watch(shm, PAGE, 2n)).toThrow(/UFFDIO_REGISTER/);
    t.shmDetach(shm);
  });

  it('is lossless under concurrent munmap storms from several threads', async () => {
    const m = openMonitor();
    const pages = 2000;
    const mem = mapPages(pages);
    new Uint8Array(mem.buffer).fill(1);
    for (let i = 0; i < pages; i++) m.watch(mem.address + BigInt(i) * BPAGE, PAGE, BigInt(i));
    const workers = 4;
    const per = pages / workers;
    const script = `
      const { workerData } = require('node:worker_threads');
      const a = require(workerData.addon);
      const P = BigInt(workerData.page);
      for (let i = workerData.from; i < workerData.to; i++) a.testing.munmap(BigInt(workerData.base) + BigInt(i) * P, workerData.page);
    `;
    const addon = fileURLToPath(new URL('../../build/Release/rdma_regcache_testing.node', import.meta.url));
    const seen = new Map<bigint, number>();
    const drain = () => {
      for (const e of m.drain()) {
        seen.set(e.cookie, (seen.get(e.cookie) ?? 0) + 1);
        expect(e.hint).toBe(true);
      }
    };
    const done = Promise.all(
      Array.from({ length: workers }, (_, w) =>
        new Promise<void>((resolve, reject) => {
          const worker = new Worker(script, {
            eval: true,
            workerData: { addon, base: mem.address.toString(), page: PAGE, from: w * per, to: (w + 1) * per },
          });
          worker.on('error', reject);
          worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exit ${code}`))));
        }),
      ),
    );
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished) {
      drain();
      await new Promise((r) => setImmediate(r));
    }
    await done;
    drain();
    expect(seen.size).toBe(pages); // each page was unmapped once: one report each, none lost
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  });

  it('checks its arguments and its state', () => {
    const m = openMonitor();
    const mem = mapPages(1);
    expect(() => m.watch(1 as never, 10, 1n)).toThrow(TypeError);
    expect(() => m.watch(mem.address, 0, 1n)).toThrow(RangeError);
    expect(() => m.watch(mem.address, 10, 1 as never)).toThrow(TypeError);
    m.watch(mem.address, 10, 1n);
    expect(() => m.watch(mem.address, 10, 1n)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => m.unwatch(99n)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    // Memory it cannot watch: a file-backed mapping.
    expect(() => m.watch(0x1000n, PAGE, 2n)).toThrow(RdmaError);
    m.close();
    m.close();
    expect(() => m.drain()).toThrow(expect.objectContaining({ code: 'ERR_CLOSED', errno: 9, syscall: 'MemoryMonitor' }));
    expect(() => MemoryMonitor.open({ backend: 'bogus' as never })).toThrow(RangeError);
    t.munmap(mem.address, mem.length);
  });

  it("'auto' falls back to userfaultfd where /dev/ummunotify is missing", () => {
    const m = MemoryMonitor.open();
    monitors.push(m);
    expect(['ummunotify', 'userfaultfd']).toContain(m.backend);
    expect(m.verified).toBe(true);
  });
});
