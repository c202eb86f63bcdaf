/**
 * Invalidation cost: the time from munmap() of a cached buffer to the next
 * operation's generation check having evicted its entry (the kernel's
 * notifier, the counter, the drain, ibv_dereg_mr). Reference: munmap() of
 * the same kind of mapping with nothing registered, same run. Medians per
 * iteration, after an untimed warm-up.
 *
 * Same run, interleaved in blocks: the default monitor (the module's ONESHOT
 * feature when it has it: the watch goes away with its report, no
 * UNREGISTER) and a monitor opened with `oneshot: false` (V2: UNREGISTER per
 * evicted entry). Each block opens its own monitor and cache, so only one
 * notifier is on the address space at a time. `ratioToV2` is the median
 * total of the first over that of the second.
 */
import { MemoryMonitor, RegistrationCache, type ProtectionDomain } from '../../src/index.js';
import { testing } from '../../src/testing.js';
import { spread } from '../lib/stats.js';

const t = testing;
const WARMUP = 20;
/** Iterations per block; each block starts with BLOCK_WARMUP untimed ones. */
const BLOCK = 10;
const BLOCK_WARMUP = 2;

export interface InvalidationPhases {
  /** munmap of a cached one (the notifier runs). */
  munmapUs: number;
  /** The generation check after it: drain + evict + deregister. */
  evictUs: number;
  /** munmapUs + evictUs. */
  totalUs: number;
}

export interface InvalidationCost extends InvalidationPhases {
  size: number;
  iters: number;
  /** munmap of an unregistered mapping. */
  plainMunmapUs: number;
  /** Whether the default monitor removed watches as it reported them (ONESHOT). */
  oneshot: boolean;
  /** The same, same run, with a monitor opened with `oneshot: false` (V2). */
  v2: InvalidationPhases;
  /** totalUs / v2.totalUs. */
  ratioToV2: number;
  /**
   * Where the check's time goes, measured beside it (medians): the monitor
   * alone (munmap of a watched page until its report reached a client that
   * does nothing; ONESHOT as in the default monitor), and ibv_dereg_mr of a
   * registration of the same size alone.
   */
  parts: { monitorDrainUs: number; deregisterUs: number };
}

const now = () => process.hrtime.bigint();
const us = (ns: bigint) => Number(ns) / 1e3;

interface Samples {
  unmap: number[];
  evict: number[];
}

/** `n` timed iterations (after `warm` untimed ones) with a fresh monitor and cache. */
function block(pd: ProtectionDomain, size: number, oneshot: boolean, warm: number, n: number, into: Samples, plain: number[] | null): boolean {
  const monitor = MemoryMonitor.open({ backend: 'ummunotify', oneshot });
  const cache = new RegistrationCache(pd, { monitor });
  try {
    for (let i = -warm; i < n; i++) {
      if (plain !== null) {
        // The reference: same mapping, touched, never registered.
        const p = t.mmap(size);
        new Uint8Array(t.wrap(p, size)).fill(1);
        const t0 = now();
        t.munmap(p, size);
        const plainNs = now() - t0;
        if (i >= 0) plain.push(us(plainNs));
      }
      const a = t.mmap(size);
      const view = new Uint8Array(t.wrap(a, size)).fill(1);
      cache.acquire(view).release();
      const before = cache.stats().invalidations;
      const t0 = now();
      t.munmap(a, size);
      const t1 = now();
      const moved = cache.checkGeneration();
      const t2 = now();
      if (!moved || cache.stats().invalidations !== before + 1) throw new Error('munmap did not invalidate the cached entry');
      if (i < 0) continue;
      into.unmap.push(us(t1 - t0));
      into.evict.push(us(t2 - t1));
    }
    return monitor.oneshot;
  } finally {
    cache.close();
    monitor.close();
  }
}

/** The two parts, `n` iterations each. */
function parts(pd: ProtectionDomain, size: number, n: number): InvalidationCost['parts'] {
  const drain: number[] = [];
  const dereg: number[] = [];
  const monitor = MemoryMonitor.open({ backend: 'ummunotify' });
  const client = { onReport: () => {}, onLost: () => {} };
  monitor.attach(client);
  try {
    for (let i = -WARMUP; i < n; i++) {
      let a = t.mmap(size);
      new Uint8Array(t.wrap(a, size)).fill(1);
      const cookie = monitor.nextCookie();
      monitor.watchFor(client, Number(a), Number(a) + size, cookie);
      let t0 = now();
      t.munmap(a, size);
      monitor.dispatch();
      const drainNs = now() - t0;
      monitor.unwatchFor(cookie);

      a = t.mmap(size);
      const view = new Uint8Array(t.wrap(a, size)).fill(1);
      const mr = pd.registerMemory(view);
      t0 = now();
      mr.deregister();
      const deregNs = now() - t0;
      t.munmap(a, size);
      if (i < 0) continue;
      drain.push(us(drainNs));
      dereg.push(us(deregNs));
    }
  } finally {
    monitor.detach(client);
    monitor.close();
  }
  return { monitorDrainUs: spread(drain).median, deregisterUs: spread(dereg).median };
}

function phases(s: Samples): InvalidationPhases {
  return {
    munmapUs: spread(s.unmap).median,
    evictUs: spread(s.evict).median,
    totalUs: spread(s.unmap.map((u, i) => u + s.evict[i]!)).median,
  };
}

export function invalidationCost(pd: ProtectionDomain, size: number, iters: number): InvalidationCost {
  const plain: number[] = [];
  const on: Samples = { unmap: [], evict: [] };
  const off: Samples = { unmap: [], evict: [] };
  // The first iterations run cold (JIT, page tables): warm up untimed, both ways.
  block(pd, size, true, WARMUP, 0, on, null);
  block(pd, size, false, WARMUP, 0, off, null);
  let oneshot = false;
  for (let done = 0, k = 0; done < iters; k++) {
    const n = Math.min(BLOCK, iters - done);
    // Alternate which mode goes first, so neither always follows the other.
    for (const first of k % 2 === 0 ? [true, false] : [false, true]) {
      if (first) oneshot = block(pd, size, true, BLOCK_WARMUP, n, on, plain);
      else block(pd, size, false, BLOCK_WARMUP, n, off, null);
    }
    done += n;
  }
  const main = phases(on);
  const v2 = phases(off);
  return {
    size, iters, plainMunmapUs: spread(plain).median, ...main, oneshot, v2, ratioToV2: main.totalUs / v2.totalUs,
    parts: parts(pd, size, Math.min(iters, 100)),
  };
}

/*
 * Alone, in the test VM:
 *   npm run vm -- --timeout 900 'node --import tsx bench/vm/invalidation-cost.ts [size=4096] [iters=200] [reps=3]'
 * prints one JSON line per repetition.
 */
if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  const [size = 4096, iters = 200, reps = 3] = process.argv.slice(2).map(Number);
  const { openDevice } = await import('../../src/index.js');
  const ctx = openDevice();
  const pd = ctx.allocPd();
  try {
    for (let r = 0; r < reps; r++) console.log(JSON.stringify(invalidationCost(pd, size, iters)));
  } finally {
    ctx.close();
  }
}
