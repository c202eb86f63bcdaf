/**
 * RDMA WRITE, perftest against Endpoint, same device, same boot: for each
 * size and repetition, ib_write_bw then Endpoint bandwidth, ib_write_lat then
 * an awaited Endpoint write (interleaved, so drifts of a shared machine hit
 * both). Ratios are taken per repetition.
 */
// @ts-expect-error: plain JS module of the verbs benchmark (its perftest runner)
import { perftestBw, perftestLat } from '../verbs/perftest.mjs';
import type { Retries } from '../lib/retries.js';
import { formatSize, spread, type Spread } from '../lib/stats.js';
import { endpointBandwidth, endpointLatency, endpointPair } from './endpoint-write.js';

export interface WriteRow {
  size: number;
  bwIters: number;
  latIters: number;
  perftestMBps: Spread;
  endpointMBps: Spread;
  /** Endpoint MB/s over ib_write_bw MB/s, per repetition. */
  bwRatio: Spread;
  /** ib_write_lat round trip (2 x its one-way t_avg), us. */
  perftestRttUs: Spread;
  /** One awaited Endpoint write (post to completion), us. */
  endpointWriteUs: Spread;
  latRatio: Spread;
}

export interface WriteOptions {
  device: string;
  host: string;
  sizes: number[];
  reps: number;
  /** Bytes per bandwidth run (iterations = budget / size, within 200..maxIters). */
  budget: number;
  maxIters: number;
  latIters: number;
  log: (s: string) => void;
  /** Where every failed perftest run and every repetition left without a value is recorded. */
  retries: Retries;
}

// perftest converts cycles to time with a CPU frequency it samples at start;
// on a loaded emulated machine the sample can fail its own fit (r^2 < 0.9)
// and every figure comes out 0. Under heavy load a perftest pair can also
// fail to connect (or its server crash). Such a run says nothing about the
// bandwidth: it is run again, and after five tries this repetition gets no
// value (NaN). Every failed run, and every repetition left without a value, is
// recorded under `what` in `retries` (the report shows them: n of N).
export async function nonZero<T>(what: string, rep: number, run: (record: PerftestRecord) => Promise<T>, value: (r: T) => number,
  o: Pick<WriteOptions, 'log' | 'retries'>): Promise<number> {
  let last = 'reported 0';
  const record: PerftestRecord = {
    ran: () => o.retries.ran(what),
    failed: (why) => o.retries.failed(what, `rep ${rep}: ${why}`),
  };
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      const v = value(await run(record));
      if (v > 0) return v;
      last = 'reported 0 (perftest could not sample the CPU frequency)';
      record.failed(last);
    } catch (err) {
      last = `failed: ${String((err as Error).message).split('\n').slice(0, 2).join(' ')}`;
    }
  }
  o.log(`${what} ${last}, five times: no value for this repetition`);
  o.retries.failed(`${what}, repetitions`, `rep ${rep}: no value after five tries (${last})`);
  return NaN;
}

export interface PerftestRecord {
  ran(): void;
  failed(why: string): void;
}

export async function writeRuns(o: WriteOptions): Promise<WriteRow[]> {
  const pair = await endpointPair(o.device, o.host, Math.max(...o.sizes));
  const rows: WriteRow[] = [];
  try {
    for (const size of o.sizes) {
      const bwIters = Math.max(200, Math.min(o.maxIters, Math.floor(o.budget / size)));
      const latIters = Math.max(50, Math.min(o.latIters, Math.floor(o.budget / 4 / size)));
      const source = new Uint8Array(size).fill(7);
      const m = { pBw: [] as number[], eBw: [] as number[], pRtt: [] as number[], eLat: [] as number[] };
      for (let r = 0; r < o.reps; r++) {
        for (const tool of ['ib_write_bw', 'ib_write_lat']) o.retries.ran(`${tool} ${formatSize(size)}, repetitions`);
        const pb = await nonZero(`ib_write_bw ${formatSize(size)}`, r + 1, (record) => perftestBw({ device: o.device, host: o.host, size, iters: bwIters, record }),
          (x: { bytesPerSec: number }) => x.bytesPerSec, o);
        m.pBw.push(pb / 1e6);
        m.eBw.push((await endpointBandwidth(pair, source, bwIters)).bytesPerSec / 1e6);
        const pl = await nonZero(`ib_write_lat ${formatSize(size)}`, r + 1, (record) => perftestLat({ device: o.device, host: o.host, size, iters: latIters, record }),
          (x: { tAvgUs: number }) => x.tAvgUs, o);
        m.pRtt.push(2 * pl);
        m.eLat.push(await endpointLatency(pair, source, latIters));
      }
      const row: WriteRow = {
        size,
        bwIters,
        latIters,
        perftestMBps: spread(m.pBw),
        endpointMBps: spread(m.eBw),
        bwRatio: spread(m.eBw.map((e, i) => e / m.pBw[i]!)),
        perftestRttUs: spread(m.pRtt),
        endpointWriteUs: spread(m.eLat),
        latRatio: spread(m.eLat.map((e, i) => e / m.pRtt[i]!)),
      };
      rows.push(row);
      o.log(`write ${size} B: ib_write_bw ${row.perftestMBps.median.toFixed(1)} MB/s, Endpoint ${row.endpointMBps.median.toFixed(1)} MB/s (${row.bwRatio.median.toFixed(2)}x); ` +
        `ib_write_lat RTT ${row.perftestRttUs.median.toFixed(1)} us, Endpoint write ${row.endpointWriteUs.median.toFixed(1)} us`);
    }
  } finally {
    pair.close();
  }
  return rows;
}
