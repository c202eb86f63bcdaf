/**
 * RDMA WRITE, perftest against Endpoint, same device, same boot. For each
 * size and repetition, interleaved so drifts of a shared machine hit both:
 *
 * - ib_write_bw -t 128 (clocked: two iteration counts, bench/vm/perftest-runs.ts),
 *   then Endpoint at 128 in flight: 'event' (bandwidth, and message rate) and,
 *   up to SMALL bytes, 'poll' (message rate);
 * - ib_write_lat (clocked), then a ping-pong between two processes through
 *   Endpoint (bench/vm/pingpong.ts): 'poll', and up to SMALL bytes 'event';
 * - one awaited Endpoint write (post to completion), 'event' and up to SMALL
 *   bytes 'poll': reported apart, not set against perftest.
 *
 * The far process is bench/vm/peer.ts (here, or on another host: `via`).
 * Ratios are taken per repetition, against perftest's own figure or the
 * wall-clock one (bench/lib/perftest-clock.ts, chosen per size).
 */
import { chooseClock, onBasis, type ClockCheck } from '../lib/perftest-clock.js';
import { formatSize, spread, type Spread } from '../lib/stats.js';
import { PeerLink } from './peer-link.js';
import { clockedBw, clockedLat, type PerftestPeer, type RunLog } from './perftest-runs.js';

export { nonZero, type PerftestRecord } from './perftest-runs.js';

/** Sizes up to this many bytes are small messages: message rate in both modes, ping-pong and awaited write in both. */
export const SMALL = 4096;

/** Message rates with 128 in flight (sizes up to SMALL). */
export interface RateFigures {
  /** ib_write_bw, by the clock the ratios use. */
  perftestMsgPerSec: Spread;
  pollMsgPerSec: Spread;
  eventMsgPerSec: Spread;
  pollRatio: Spread;
  eventRatio: Spread;
}

/** Two-process ping-pong through Endpoint against ib_write_lat's round trip (by the clock the ratios use). */
export interface PingPongFigures {
  iters: number;
  pollUs: Spread;
  pollRatio: Spread;
  /** Sizes up to SMALL. */
  eventUs?: Spread;
  eventRatio?: Spread;
}

export interface WriteRow {
  size: number;
  bwIters: number;
  latIters: number;
  /** ib_write_bw by its own clock. */
  perftestMBps: Spread;
  /** ib_write_bw by the wall clock (two runs' difference); absent before 2026-12-02's issue-15 runs. */
  perftestWallMBps?: Spread;
  /** Which ib_write_bw figure the bandwidth and rate ratios use. */
  bwClock?: ClockCheck;
  /** Endpoint, 'event', 128 in flight. */
  endpointMBps: Spread;
  /** Endpoint MB/s over ib_write_bw MB/s, per repetition. */
  bwRatio: Spread;
  rate?: RateFigures;
  /** ib_write_lat round trip (2 x its one-way t_avg), us, by its own clock. */
  perftestRttUs: Spread;
  /** ib_write_lat round trip by the wall clock. */
  perftestWallRttUs?: Spread;
  latClock?: ClockCheck;
  pingPong?: PingPongFigures;
  /** One awaited Endpoint write (post to completion), 'event', us: reported, not a ratio. */
  endpointWriteUs: Spread;
  /** The same in 'poll' (sizes up to SMALL). */
  endpointWritePollUs?: Spread;
  /** Results before the ping-pong: the awaited write over ib_write_lat's round trip (not like with like). */
  latRatio?: Spread;
}

export interface WriteOptions extends RunLog {
  device: string;
  host: string;
  sizes: number[];
  reps: number;
  /** Bytes per bandwidth run (iterations = budget / size, within 200..maxIters). */
  budget: number;
  maxIters: number;
  latIters: number;
  /** Seconds of wall-clock difference between the two runs of a clocked perftest. */
  clockSec: number;
}

const ratios = (a: number[], b: number[]) => spread(a.map((x, i) => x / b[i]!));

export async function writeRuns(o: WriteOptions): Promise<WriteRow[]> {
  const link = await PeerLink.open({ device: o.device, host: o.host, bytes: Math.max(...o.sizes), log: o.log });
  const perftest: PerftestPeer = { device: o.device, host: o.host };
  const rows: WriteRow[] = [];
  try {
    for (const size of o.sizes) {
      const small = size <= SMALL;
      const bwIters = Math.max(200, Math.min(o.maxIters, Math.floor(o.budget / size)));
      const latIters = Math.max(50, Math.min(o.latIters, Math.floor(o.budget / 4 / size)));
      const m = {
        pBw: [] as number[], pBwWall: [] as number[], eBw: [] as number[], eRate: [] as number[], pRate: [] as number[],
        pRtt: [] as number[], pRttWall: [] as number[], ppPoll: [] as number[], ppEvent: [] as number[], awEvent: [] as number[], awPoll: [] as number[],
      };
      for (let r = 0; r < o.reps; r++) {
        for (const tool of ['ib_write_bw', 'ib_write_lat']) o.retries.ran(`${tool} ${formatSize(size)}, repetitions`);
        const pb = await clockedBw(perftest, size, bwIters, r + 1, o.clockSec, o);
        m.pBw.push(pb.bytesPerSec / 1e6);
        m.pBwWall.push(pb.wallBytesPerSec / 1e6);
        const e = await link.rate('event', size, bwIters);
        m.eBw.push(e.bytesPerSec / 1e6);
        m.eRate.push(e.msgPerSec);
        if (small) m.pRate.push((await link.rate('poll', size, bwIters)).msgPerSec);
        const pl = await clockedLat(perftest, size, latIters, r + 1, o.clockSec, o);
        m.pRtt.push(pl.rttUs);
        m.pRttWall.push(pl.wallRttUs);
        m.ppPoll.push((await link.pingPong('poll', size, latIters)).avgUs);
        if (small) m.ppEvent.push((await link.pingPong('event', size, latIters)).avgUs);
        m.awEvent.push(await link.awaited('event', size, latIters));
        if (small) m.awPoll.push(await link.awaited('poll', size, latIters));
      }
      const row = writeRow(size, bwIters, latIters, m);
      rows.push(row);
      o.log(describeWriteRow(row));
    }
    o.log(`Endpoint counters (this side): ${JSON.stringify(link.stats())}`);
  } finally {
    await link.close();
  }
  return rows;
}

/** One size's figures from its per-repetition measurements (MB/s, msg/s, us). */
export function writeRow(size: number, bwIters: number, latIters: number, m: {
  pBw: number[]; pBwWall: number[]; eBw: number[]; eRate: number[]; pRate: number[];
  pRtt: number[]; pRttWall: number[]; ppPoll: number[]; ppEvent: number[]; awEvent: number[]; awPoll: number[];
}): WriteRow {
  const perftestMBps = spread(m.pBw);
  const perftestWallMBps = spread(m.pBwWall);
  const bwClock = chooseClock(perftestMBps, perftestWallMBps);
  const refBw = onBasis(bwClock, m.pBw, m.pBwWall);
  const perftestRttUs = spread(m.pRtt);
  const perftestWallRttUs = spread(m.pRttWall);
  const latClock = chooseClock(perftestRttUs, perftestWallRttUs);
  const refRtt = onBasis(latClock, m.pRtt, m.pRttWall);
  const refRate = refBw.map((x) => (x * 1e6) / size);
  return {
    size,
    bwIters,
    latIters,
    perftestMBps,
    perftestWallMBps,
    bwClock,
    endpointMBps: spread(m.eBw),
    bwRatio: ratios(m.eBw, refBw),
    rate: m.pRate.length
      ? { perftestMsgPerSec: spread(refRate), pollMsgPerSec: spread(m.pRate), eventMsgPerSec: spread(m.eRate), pollRatio: ratios(m.pRate, refRate), eventRatio: ratios(m.eRate, refRate) }
      : undefined,
    perftestRttUs,
    perftestWallRttUs,
    latClock,
    pingPong: {
      iters: latIters,
      pollUs: spread(m.ppPoll),
      pollRatio: ratios(m.ppPoll, refRtt),
      ...(m.ppEvent.length ? { eventUs: spread(m.ppEvent), eventRatio: ratios(m.ppEvent, refRtt) } : {}),
    },
    endpointWriteUs: spread(m.awEvent),
    endpointWritePollUs: m.awPoll.length ? spread(m.awPoll) : undefined,
  };
}

export function describeWriteRow(row: WriteRow): string {
  const f = (s: Spread | undefined, d = 1) => (s && s.n ? s.median.toFixed(d) : 'n/a');
  const clock = (c: ClockCheck | undefined) => (c ? `wall/own ${Number.isFinite(c.wallOverOwn) ? c.wallOverOwn.toFixed(2) : 'n/a'}, ${c.basis}` : '');
  const parts = [`write ${formatSize(row.size)}: ib_write_bw ${f(row.perftestMBps)} MB/s (${clock(row.bwClock)}), Endpoint ${f(row.endpointMBps)} MB/s (${f(row.bwRatio, 2)}x)`];
  if (row.rate) parts.push(`rate poll ${f(row.rate.pollRatio, 2)}x, event ${f(row.rate.eventRatio, 2)}x of ${(row.rate.perftestMsgPerSec.median / 1e3).toFixed(1)} kmsg/s`);
  parts.push(`ib_write_lat RTT ${f(row.perftestRttUs)} us (${clock(row.latClock)}), ping-pong poll ${f(row.pingPong?.pollUs)} us (${f(row.pingPong?.pollRatio, 2)}x)` +
    `${row.pingPong?.eventUs ? `, event ${f(row.pingPong.eventUs)} us (${f(row.pingPong.eventRatio, 2)}x)` : ''}`);
  parts.push(`awaited write event ${f(row.endpointWriteUs)} us${row.endpointWritePollUs ? `, poll ${f(row.endpointWritePollUs)} us` : ''}`);
  return parts.join('; ');
}
