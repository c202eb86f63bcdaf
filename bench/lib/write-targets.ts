/**
 * The small-message and latency targets of DESIGN.md §5 (issue 15), in one
 * guest and across two hosts: WRITE message rate with 128 in flight in 'poll'
 * against ib_write_bw ('event' reported beside it, in the absolute column),
 * and the ping-pong round trip in 'poll' against ib_write_lat's. The awaited
 * write is no target: the report shows it apart.
 */
import type { BenchResults } from './results.js';
import { formatSize, type Spread } from './stats.js';
import { row, type TargetRow } from './targets.js';

/** Sizes of the small-message rate target (issue 15). */
export const SMALL_SIZES = [8, 64, 512, 4096];

const kmsg = (s: Spread | undefined) => (s && s.n > 0 ? `${(s.median / 1e3).toFixed(1)}` : 'n/a');
const us = (s: Spread | undefined) => (s && s.n > 0 ? `${s.median.toFixed(1)} us` : 'n/a');
const times = (s: Spread | undefined) => (s && s.n > 0 ? `${s.median.toFixed(2)}x` : 'n/a');
const basis = (c: { basis: string } | undefined) => (c?.basis === 'wall-clock' ? ', perftest by the wall clock' : '');
/** ib_write_bw MB/s by the clock the ratios use, marked when it is the wall clock. */
export function perftestMBps(x: { perftestMBps: Spread; perftestWallMBps?: Spread; bwClock?: { basis: string } }): string {
  const s = x.bwClock?.basis === 'wall-clock' ? x.perftestWallMBps : x.perftestMBps;
  return `${s?.median?.toFixed(1) ?? 'n/a'} MB/s${basis(x.bwClock)}`;
}
/** ib_write_lat's round trip by the clock the ratios use. */
const rtt = (x: { perftestRttUs: Spread; perftestWallRttUs?: Spread; latClock?: { basis: string } }) =>
  (x.latClock?.basis === 'wall-clock' ? x.perftestWallRttUs : x.perftestRttUs);

/**
 * Small messages in one guest (issue 15): WRITE message rate with 128 in
 * flight in 'poll' against ib_write_bw ('event' reported beside it), and the
 * 8 B two-process ping-pong in 'poll' against ib_write_lat's round trip
 * ('event' reported). Results without these figures (before the ping-pong)
 * get no rows: they measured something else.
 */
export function smallTargets(r: BenchResults): TargetRow[] {
  const w = r.vm['6.1']?.write;
  if (w && !w.some((x) => x.pingPong)) return [];
  const rows: TargetRow[] = [];
  for (const size of SMALL_SIZES) {
    const q = w?.find((x) => x.size === size)?.rate;
    rows.push(row(`RDMA WRITE message rate, ${formatSize(size)}, 128 in flight, Endpoint 'poll', vs ib_write_bw`, q?.pollRatio, '>=', 0.9,
      q ? `${kmsg(q.pollMsgPerSec)} vs ${kmsg(q.perftestMsgPerSec)} kmsg/s${basis(w!.find((x) => x.size === size)!.bwClock)}; 'event': ${kmsg(q.eventMsgPerSec)} kmsg/s, ${times(q.eventRatio)}` : 'n/a'));
  }
  const p8 = w?.find((x) => x.size === 8);
  const pp = p8?.pingPong;
  rows.push(row("8 B ping-pong round trip, two processes, Endpoint 'poll', vs ib_write_lat's round trip", pp?.pollRatio, '<=', 1.3,
    pp ? `${us(pp.pollUs)} vs ${us(rtt(p8!))}${basis(p8!.latClock)}; 'event': ${us(pp.eventUs)}, ${times(pp.eventRatio)}` : 'n/a'));
  return rows;
}

/** Across two hosts; results from before the ping-pong keep the row they were recorded with. */
export function hostsSmallTargets(r: BenchResults): TargetRow[] {
  if (r.hosts === undefined) return [];
  const w = r.hosts?.write?.rows;
  const rows: TargetRow[] = [];
  const lat = w?.find((q) => q.size === 8);
  if (lat && !lat.pingPong) {
    // Results before the ping-pong: the awaited write against the round trip, as it was recorded.
    rows.push(row('across hosts: 8 B awaited world.write vs ib_write_lat round trip', lat.latRatio, '<=', 1.3,
      `${lat.worldWriteUs.median.toFixed(1)} vs ${lat.perftestRttUs.median.toFixed(1)} us`));
  } else {
    for (const size of SMALL_SIZES) {
      const x = w?.find((q) => q.size === size);
      const q = x?.rate;
      rows.push(row(`across hosts: RDMA WRITE message rate, ${formatSize(size)}, 128 in flight, Endpoint 'poll', vs ib_write_bw`, q?.pollRatio, '>=', 0.9,
        q ? `${kmsg(q.pollMsgPerSec)} vs ${kmsg(q.perftestMsgPerSec)} kmsg/s${basis(x!.bwClock)}; world.write ('event'): ${times(q.worldRatio)}` : 'n/a'));
    }
    rows.push(row("across hosts: 8 B ping-pong round trip, Endpoint 'poll', vs ib_write_lat's round trip", lat?.pingPong?.pollRatio, '<=', 1.3,
      lat?.pingPong ? `${us(lat.pingPong.pollUs)} vs ${us(rtt(lat))}${basis(lat.latClock)}` : 'n/a'));
  }
  return rows;
}
