/**
 * The buffer-reuse workload: `buffers` buffers cycle through RDMA WRITEs, one
 * round at a time (all in flight together); before each round `churn` of them
 * are freed and reallocated. Every write is checked byte for byte at the target.
 */
import type { Endpoint, RegistrationCache, RemoteBuffer } from '../../src/index.js';
import { MappedBuffers } from './mapped-buffers.js';

export type Mode = 'per-operation' | 'cache' | 'cache-unmonitored';

export interface ReuseOptions {
  size: number;
  rounds: number;
  buffers: number;
  churn: number;
  /** Called after every round with the number of writes done so far. */
  onProgress?: (writes: number) => void;
}

export interface ReuseResult {
  mode: Mode;
  size: number;
  writes: number;
  seconds: number;
  opsPerSecond: number;
  megabytesPerSecond: number;
  verified: number;
  mismatches: number;
  reallocations: number;
  sameAddress: number;
  hits?: number;
  misses?: number;
  invalidations?: number;
  staleAvoided?: number;
}

export async function runReuse(
  mode: Mode,
  client: Endpoint,
  target: Uint8Array,
  remote: RemoteBuffer,
  o: ReuseOptions,
): Promise<ReuseResult> {
  if (o.buffers * o.size > target.length) throw new RangeError('target too small for the buffers');
  const cache = mode === 'per-operation' ? undefined : (client.cache as RegistrationCache);
  const before = cache?.stats();
  const pool = new MappedBuffers(o.buffers, o.size);
  let writes = 0;
  let verified = 0;
  let mismatches = 0;
  const started = process.hrtime.bigint();
  try {
    for (let round = 0; round < o.rounds; round++) {
      if (round > 0) for (let k = 0; k < o.churn; k++) pool.reallocate((round * o.churn + k) % o.buffers);
      const ops: Promise<void>[] = [];
      for (let i = 0; i < o.buffers; i++) {
        const view = pool.views[i]!;
        // A value unique to this write in the whole run: a stale registration
        // would leave an older value at the target.
        view.fill((writes + i) & 0xff);
        new DataView(view.buffer, view.byteOffset).setUint32(0, writes + i);
        ops.push(client.write(view, remote, i * o.size));
      }
      await Promise.all(ops);
      for (let i = 0; i < o.buffers; i++) {
        const view = pool.views[i]!;
        const at = target.subarray(i * o.size, (i + 1) * o.size);
        if (Buffer.compare(at, view) === 0) verified++;
        else mismatches++;
      }
      writes += o.buffers;
      o.onProgress?.(writes);
    }
  } finally {
    pool.free();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const after = cache?.stats();
  const delta = (k: 'hits' | 'misses' | 'invalidations' | 'staleAvoided') =>
    after && before ? after[k] - before[k] : undefined;
  return {
    mode,
    size: o.size,
    writes,
    seconds,
    opsPerSecond: writes / seconds,
    megabytesPerSecond: (writes * o.size) / seconds / 1e6,
    verified,
    mismatches,
    reallocations: pool.reallocations,
    sameAddress: pool.sameAddress,
    hits: delta('hits'),
    misses: delta('misses'),
    invalidations: delta('invalidations'),
    staleAvoided: delta('staleAvoided'),
  };
}
