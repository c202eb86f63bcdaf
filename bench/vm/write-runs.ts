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
import { formatSize } from '../lib/stats.js';
import { PeerLink } from './peer-link.js';
import { clockedBw, clockedLat, type PerftestPeer, type RunLog } from './perftest-runs.js';

import { describeWriteRow, SMALL, writeRow, type WriteRow } from './write-row.js';

export { nonZero, type PerftestRecord } from './perftest-runs.js';
export { SMALL, type PingPongFigures, type RateFigures, type WriteRow } from './write-row.js';

export interface WriteOptions extends RunLog {
  device: string;
  host: string;
  sizes: number[];
  reps: number;
  /** Bytes per bandwidth run (iterations = budget / size, within 200..maxIters). */
  budget: number;
  maxIters: number;
  latIters: number;
  /** Untimed ping-pong round trips per progress mode before the first size (the JIT's warm-up). */
  warmRoundTrips: number;
  /** Seconds of wall-clock difference between the two runs of a clocked perftest. */
  clockSec: number;
}

export async function writeRuns(o: WriteOptions): Promise<WriteRow[]> {
  const link = await PeerLink.open({ device: o.device, host: o.host, bytes: Math.max(...o.sizes), log: o.log });
  const perftest: PerftestPeer = { device: o.device, host: o.host };
  const rows: WriteRow[] = [];
  try {
    await link.warmPingPong(['poll', 'event'], Math.min(...o.sizes), o.warmRoundTrips);
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

