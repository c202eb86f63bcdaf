/**
 * Invalidation cost: the time from munmap() of a cached buffer to the next
 * operation's generation check having evicted its entry (the kernel's
 * notifier, the counter, the drain, ibv_dereg_mr). Reference: munmap() of
 * the same kind of mapping with nothing registered, same run. Medians per
 * iteration, after an untimed warm-up.
 *
 * The warm-up is long on purpose (JIT_WARMUP passes at 4 KiB, then WARMUP at
 * the size measured): under emulation V8 needs about a thousand passes before
 * the eviction path runs optimized code, and until then it costs about twice
 * as much (2026-12-03, 6.1 guest, 200-pass repetitions in one process: 400,
 * 406, 464, 284, 263, 249, 194, 196 us). A long-running process pays the
 * warm cost, so that is what is measured. Runs recorded before this was
 * added (up to the 2026-12-03 results) had 20 passes and measured mostly
 * the cold path.
 *
 * Same run, iteration by iteration: the default monitor (the module's
 * ONESHOT feature when it has it: the watch goes away with its report, no
 * UNREGISTER) and a monitor opened with `oneshot: false` (V2: UNREGISTER per
 * evicted entry), each with its own cache. `ratioToV2` is the median total
 * of the first over that of the second.
 */
import { MemoryMonitor, RegistrationCache, type ProtectionDomain } from '../../src/index.js';
import { testing } from '../../src/testing.js';
import { spread } from '../lib/stats.js';

const t = testing;
const WARMUP = 20;
/** Untimed passes at 4 KiB before anything is timed: the JavaScript is optimized by then (see above). */
const JIT_WARMUP = 1500;

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
  /** Median over iterations of (total / the V2 total of the same iteration): robust to load drift. */
  pairedRatioToV2: number;
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

/** A monitor and a cache over it, for one mode. */
interface Side {
  monitor: MemoryMonitor;
  cache: RegistrationCache;
  samples: Samples;
}

function side(pd: ProtectionDomain, oneshot: boolean): Side {
  const monitor = MemoryMonitor.open({ backend: 'ummunotify', oneshot });
  return { monitor, cache: new RegistrationCache(pd, { monitor }), samples: { unmap: [], evict: [] } };
}

/** One reallocation: cache a fresh mapping, munmap it, time until the check evicted it. */
function once(s: Side, size: number, keep: boolean): void {
  const a = t.mmap(size);
  const view = new Uint8Array(t.wrap(a, size)).fill(1);
  s.cache.acquire(view).release();
  const before = s.cache.stats().invalidations;
  const t0 = now();
  t.munmap(a, size);
  const t1 = now();
  const moved = s.cache.checkGeneration();
  const t2 = now();
  if (!moved || s.cache.stats().invalidations !== before + 1) throw new Error('munmap did not invalidate the cached entry');
  if (!keep) return;
  s.samples.unmap.push(us(t1 - t0));
  s.samples.evict.push(us(t2 - t1));
}

/** The two parts, `n` iterations each. */
function parts(pd: ProtectionDomain, size: number, n: number, jitWarmup: number): InvalidationCost['parts'] {
  const drain: number[] = [];
  const dereg: number[] = [];
  const monitor = MemoryMonitor.open({ backend: 'ummunotify' });
  const client = { onReport: () => {}, onLost: () => {} };
  monitor.attach(client);
  try {
    for (let i = -(jitWarmup + WARMUP); i < n; i++) {
      const sz = i < -WARMUP ? 4096 : size; // the JIT's warm-up at 4 KiB, then the size measured
      let a = t.mmap(sz);
      new Uint8Array(t.wrap(a, sz)).fill(1);
      const cookie = monitor.nextCookie();
      monitor.watchFor(client, Number(a), Number(a) + sz, cookie);
      let t0 = now();
      t.munmap(a, sz);
      monitor.dispatch();
      const drainNs = now() - t0;
      monitor.unwatchFor(cookie);

      a = t.mmap(sz);
      const view = new Uint8Array(t.wrap(a, sz)).fill(1);
      const mr = pd.registerMemory(view);
      t0 = now();
      mr.deregister();
      const deregNs = now() - t0;
      t.munmap(a, sz);
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

/** `jitWarmup`: untimed passes at 4 KiB first (fewer only for a quick run, whose figures are not steady). */
export function invalidationCost(pd: ProtectionDomain, size: number, iters: number, jitWarmup = JIT_WARMUP): InvalidationCost {
  const plain: number[] = [];
  // Both open for the whole run, iterations alternating between them (the
  // order flipping each time): the host's load drifts, and both sides see the
  // same. Each munmap runs both files' notifier callbacks, the other one on a
  // file with nothing registered: the same small cost for both sides.
  const on = side(pd, true);
  const off = side(pd, false);
  try {
    for (let i = 0; i < jitWarmup; i++) for (const s of [on, off]) once(s, 4096, false);
    for (let i = -WARMUP; i < iters; i++) {
      // The reference: same mapping, touched, never registered.
      const p = t.mmap(size);
      new Uint8Array(t.wrap(p, size)).fill(1);
      const t0 = now();
      t.munmap(p, size);
      const plainNs = now() - t0;
      if (i >= 0) plain.push(us(plainNs));
      for (const s of i % 2 === 0 ? [on, off] : [off, on]) once(s, size, i >= 0);
    }
    const main = phases(on.samples);
    const v2 = phases(off.samples);
    return {
      size, iters, plainMunmapUs: spread(plain).median, ...main, oneshot: on.monitor.oneshot, v2, ratioToV2: main.totalUs / v2.totalUs,
      pairedRatioToV2: spread(on.samples.unmap.map((u, k) =>
        (u + on.samples.evict[k]!) / (off.samples.unmap[k]! + off.samples.evict[k]!))).median,
      parts: parts(pd, size, Math.min(iters, 100), jitWarmup),
    };
  } finally {
    for (const s of [on, off]) {
      s.cache.close();
      s.monitor.close();
    }
  }
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
