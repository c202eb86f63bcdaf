/**
 * perftest runs for the WRITE benchmarks (one guest and across hosts): each
 * run repeated until it gives a value, and each clocked, i.e. made at two
 * iteration counts so its figure can be checked against the wall clock
 * (bench/lib/perftest-clock.ts).
 */
// @ts-expect-error: plain JS module of the verbs benchmark (its perftest runner)
import { perftestBw, perftestLat } from '../verbs/perftest.mjs';
import { secondRunIters, secondsPerIteration } from '../lib/perftest-clock.js';
import type { Retries } from '../lib/retries.js';
import { formatSize } from '../lib/stats.js';

export interface PerftestRecord {
  ran(): void;
  failed(why: string): void;
}

export interface RunLog {
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
export async function nonZero<T>(what: string, rep: number, run: (record: PerftestRecord) => Promise<T>, value: (r: T) => number, o: RunLog): Promise<number> {
  return (await nonZeroRun(what, rep, run, value, o))?.value ?? NaN;
}

/** nonZero, keeping the run's whole result (undefined: no value after five tries). */
async function nonZeroRun<T>(what: string, rep: number, run: (record: PerftestRecord) => Promise<T>, value: (r: T) => number,
  o: RunLog): Promise<{ value: number; result: T } | undefined> {
  let last = 'reported 0';
  const record: PerftestRecord = {
    ran: () => o.retries.ran(what),
    failed: (why) => o.retries.failed(what, `rep ${rep}: ${why}`),
  };
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      const result = await run(record);
      const v = value(result);
      if (v > 0) return { value: v, result };
      last = 'reported 0 (perftest could not sample the CPU frequency)';
      record.failed(last);
    } catch (err) {
      last = `failed: ${String((err as Error).message).split('\n').slice(0, 2).join(' ')}`;
    }
  }
  o.log(`${what} ${last}, five times: no value for this repetition`);
  o.retries.failed(`${what}, repetitions`, `rep ${rep}: no value after five tries (${last})`);
  return undefined;
}

export interface PerftestPeer {
  device: string;
  /** Address the client connects to. */
  host: string;
  /** Command prefix that runs the server elsewhere (bench/verbs/perftest.mjs); none: here. */
  via?: string[];
  /** Appended to the step's name in the records (' across hosts'). */
  label?: string;
}

/**
 * One perftest figure made at two iteration counts: `iters`, then about
 * `clockSec` seconds more by the first run's own rate (`perSecond` of its
 * value). Gives perftest's figure of the longer run (of the first if the
 * second has none) and the wall-clock seconds per iteration of the
 * difference (NaN when either run has no value).
 */
async function clocked<R extends { wallMs: number }>(what: string, rep: number, iters: number, clockSec: number, o: RunLog,
  start: (n: number, record: PerftestRecord) => Promise<R>, value: (r: R) => number, perSecond: (v: number) => number,
): Promise<{ value: number; secPerIter: number; iters: [number, number] }> {
  const run = (n: number) => nonZeroRun(what, rep, (record) => start(n, record), value, o);
  const first = await run(iters);
  if (!first) return { value: NaN, secPerIter: NaN, iters: [iters, NaN] };
  const iters2 = secondRunIters(iters, perSecond(first.value), clockSec);
  const second = await run(iters2);
  if (!second) return { value: first.value, secPerIter: NaN, iters: [iters, iters2] };
  return { value: second.value, secPerIter: secondsPerIteration(iters, first.result.wallMs, iters2, second.result.wallMs), iters: [iters, iters2] };
}

export interface ClockedBw {
  /** perftest's own figure (the longer run). NaN: no value. */
  bytesPerSec: number;
  /** Wall clock: difference of the two runs' times over the difference of their messages. */
  wallBytesPerSec: number;
  iters: [number, number];
}

/** ib_write_bw (-t 128), clocked (see {@link clocked}). */
export async function clockedBw(p: PerftestPeer, size: number, iters: number, rep: number, clockSec: number, o: RunLog): Promise<ClockedBw> {
  type R = { bytesPerSec: number; wallMs: number };
  const c = await clocked(`ib_write_bw ${formatSize(size)}${p.label ?? ''}`, rep, iters, clockSec, o,
    (n, record) => perftestBw({ device: p.device, host: p.host, size, iters: n, record, via: p.via }) as Promise<R>,
    (x: R) => x.bytesPerSec, (bytesPerSec) => bytesPerSec / size);
  return { bytesPerSec: c.value, wallBytesPerSec: size / c.secPerIter, iters: c.iters };
}

export interface ClockedLat {
  /** Round trip by perftest's own clock: 2 x t_avg of the longer run, us. */
  rttUs: number;
  /** Round trip by the wall clock: difference of the two runs' times over the difference of iterations, us. */
  wallRttUs: number;
  iters: [number, number];
}

/** ib_write_lat, clocked (see {@link clocked}). */
export async function clockedLat(p: PerftestPeer, size: number, iters: number, rep: number, clockSec: number, o: RunLog): Promise<ClockedLat> {
  type R = { tAvgUs: number; wallMs: number };
  const c = await clocked(`ib_write_lat ${formatSize(size)}${p.label ?? ''}`, rep, iters, clockSec, o,
    (n, record) => perftestLat({ device: p.device, host: p.host, size, iters: n, record, via: p.via }) as Promise<R>,
    (x: R) => x.tAvgUs, (tAvgUs) => 1e6 / (2 * tAvgUs));
  return { rttUs: 2 * c.value, wallRttUs: c.secPerIter * 1e6, iters: c.iters };
}
