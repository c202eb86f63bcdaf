/**
 * The buffer-reuse workload: `buffers` buffers cycle through RDMA WRITEs, one
 * round at a time (all in flight together); before each round `churn` of them
 * are freed and reallocated. Every write is checked byte for byte at the target.
 *
 * A ReuseRun is one mode's share of the workload, driven a round at a time so
 * the demo can interleave the modes round by round: on rxe in an emulated
 * guest the machine's speed drifts by tens of per cent within seconds, and
 * only a paired comparison (the same moments for both modes) is steady enough
 * to show differences of a few per cent.
 */
import type { Endpoint, RegistrationCache, RemoteBuffer } from '../../src/index.js';
import { MappedBuffers } from './mapped-buffers.js';

export type Mode = 'per-operation' | 'cache' | 'cache-unmonitored';

export interface ReuseOptions {
  size: number;
  buffers: number;
  churn: number;
  /** Each buffer a VMA of its own (see MappedBuffers). */
  guard?: boolean;
}

export interface ReuseResult {
  mode: Mode;
  size: number;
  writes: number;
  /** Time in the workload's rounds: reallocation, filling, writing; not the demo's verification. */
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

type Counter = 'hits' | 'misses' | 'invalidations' | 'staleAvoided';

/** Each mode numbers its writes from its own base, so interleaved modes never write the same value to the shared target. */
const FIRST_VALUE: Record<Mode, number> = { 'per-operation': 0, cache: 1 << 28, 'cache-unmonitored': 2 << 28 };

export class ReuseRun {
  readonly #cache: RegistrationCache | undefined;
  readonly #before: Record<Counter, number> | undefined;
  readonly #pool: MappedBuffers;
  #rounds = 0;
  #writes = 0;
  #verified = 0;
  #mismatches = 0;
  #nanoseconds = 0n;

  constructor(
    readonly mode: Mode,
    readonly client: Endpoint,
    readonly target: Uint8Array,
    readonly remote: RemoteBuffer,
    readonly options: ReuseOptions,
  ) {
    const { size, buffers, churn } = options;
    if (buffers * size > target.length) throw new RangeError('target too small for the buffers');
    if (!(churn >= 0 && churn <= buffers)) throw new RangeError('churn must be between 0 and the number of buffers');
    this.#cache = mode === 'per-operation' ? undefined : (client.cache as RegistrationCache);
    this.#before = this.#cache?.stats();
    this.#pool = new MappedBuffers(buffers, size, options.guard);
  }

  /** One round: reallocate `churn` buffers (after the first round), fill, write all, then verify at the target. */
  async round(): Promise<void> {
    const { size, buffers, churn } = this.options;
    const pool = this.#pool;
    const started = process.hrtime.bigint();
    if (this.#rounds > 0) for (let k = 0; k < churn; k++) pool.reallocate((this.#rounds * churn + k) % buffers);
    const ops: Promise<void>[] = [];
    for (let i = 0; i < buffers; i++) {
      const view = pool.views[i]!;
      // A value unique to this write in the whole run: a stale registration
      // would leave an older value at the target.
      const value = FIRST_VALUE[this.mode] + this.#writes + i;
      view.fill(value & 0xff);
      new DataView(view.buffer, view.byteOffset).setUint32(0, value);
      ops.push(this.client.write(view, this.remote, i * size));
    }
    await Promise.all(ops);
    this.#nanoseconds += process.hrtime.bigint() - started;
    for (let i = 0; i < buffers; i++) {
      const view = pool.views[i]!;
      if (Buffer.compare(this.target.subarray(i * size, (i + 1) * size), view) === 0) this.#verified++;
      else this.#mismatches++;
    }
    this.#writes += buffers;
    this.#rounds++;
  }

  /** Unmaps the buffers and returns the totals; the run is over. */
  finish(): ReuseResult {
    this.#pool.free();
    const seconds = Number(this.#nanoseconds) / 1e9;
    const after = this.#cache?.stats();
    const delta = (k: Counter) => (after && this.#before ? after[k] - this.#before[k] : undefined);
    return {
      mode: this.mode,
      size: this.options.size,
      writes: this.#writes,
      seconds,
      opsPerSecond: this.#writes / seconds,
      megabytesPerSecond: (this.#writes * this.options.size) / seconds / 1e6,
      verified: this.#verified,
      mismatches: this.#mismatches,
      reallocations: this.#pool.reallocations,
      sameAddress: this.#pool.sameAddress,
      hits: delta('hits'),
      misses: delta('misses'),
      invalidations: delta('invalidations'),
      staleAvoided: delta('staleAvoided'),
    };
  }
}
