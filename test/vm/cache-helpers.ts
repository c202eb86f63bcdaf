// Shared by the cache VM tests: a connected pair, a cache over its PD with the
// real module, and RDMA WRITEs through the cache checked byte for byte.
import { MemoryMonitor, RegistrationCache, type MemoryRegion } from '../../src/index.js';
import { testing } from '../../src/testing.js';
import { connectedPair, type Pair } from './verbs-helpers.js';

export const t = testing;
export const PAGE = t.constants.pageSize;
export const BPAGE = BigInt(PAGE);

export interface Rig {
  pair: Pair;
  cache: RegistrationCache;
  monitor: MemoryMonitor;
  target: Buffer;
  targetMr: MemoryRegion;
  /** Writes checked so far, and how many differed at the target. */
  checked: number;
  mismatches: number;
  close(): void;
}

export async function rig(
  targetBytes = 1 << 20,
  backend: 'ummunotify' | 'userfaultfd' | 'none' = 'ummunotify',
  cacheOptions: { maxEntries?: number; maxBytes?: number } = {},
): Promise<Rig> {
  const pair = await connectedPair();
  const monitor = MemoryMonitor.open({ backend });
  const cache = new RegistrationCache(pair.pd, { monitor, ...cacheOptions });
  const target = Buffer.alloc(targetBytes);
  const targetMr = pair.pd.registerMemory(target);
  const r: Rig = {
    pair,
    cache,
    monitor,
    target,
    targetMr,
    checked: 0,
    mismatches: 0,
    close() {
      cache.close();
      monitor.close();
      pair.ctx.close(); // closes the queue pairs, the target's region and the PD
    },
  };
  return r;
}

/**
 * RDMA WRITE of `view` through the cache to the target, then compare. Returns
 * true when the target holds exactly the view's bytes (a stale registration
 * would have sent the old pages' bytes).
 */
export async function writeChecked(r: Rig, view: Uint8Array): Promise<boolean> {
  if (view.length > r.target.length) throw new RangeError('view larger than the target');
  r.target.fill(0xee, 0, view.length);
  const reg = r.cache.acquire(view);
  try {
    await r.pair.client.write(reg, r.targetMr.remote(0));
  } finally {
    reg.release();
  }
  const ok = r.target.subarray(0, view.length).equals(view);
  r.checked++;
  if (!ok) r.mismatches++;
  return ok;
}

/** Fills a view with a pattern unique to `seed`. */
export function pattern<T extends Uint8Array>(view: T, seed: number): T {
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < view.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    view[i] = x & 0xff;
    if (i + 1 < view.length) view[i + 1] = (x >>> 8) & 0xff;
    if (i + 2 < view.length) view[i + 2] = (x >>> 16) & 0xff;
    if (i + 3 < view.length) view[i + 3] = (x >>> 24) & 0xff;
  }
  return view;
}

/** Fresh anonymous pages, at `at` if that address is free (MAP_FIXED_NOREPLACE), else anywhere. */
export function mapAt(pages: number, at?: bigint): bigint {
  const { MAP_PRIVATE, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE } = t.constants;
  if (at !== undefined) {
    try {
      return t.mmap(pages * PAGE, undefined, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, at);
    } catch {
      // taken meanwhile
    }
  }
  return t.mmap(pages * PAGE);
}

export function bytes(address: bigint, length: number): Uint8Array {
  return new Uint8Array(t.wrap(address, length));
}
