/** One row of the one-guest WRITE benchmark (bench/vm/write-runs.ts): its shape and how it is summarised. */
import { perftestReference, type ClockCheck } from '../lib/perftest-clock.js';
import { formatSize, ratios, spread, type Spread } from '../lib/stats.js';

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

/** One size's figures from its per-repetition measurements (MB/s, msg/s, us). */
export function writeRow(size: number, bwIters: number, latIters: number, m: {
  pBw: number[]; pBwWall: number[]; eBw: number[]; eRate: number[]; pRate: number[];
  pRtt: number[]; pRttWall: number[]; ppPoll: number[]; ppEvent: number[]; awEvent: number[]; awPoll: number[];
}): WriteRow {
  const { perftestMBps, perftestWallMBps, bwClock, refBw, refRate, perftestRttUs, perftestWallRttUs, latClock, refRtt } =
    perftestReference(size, m);
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
