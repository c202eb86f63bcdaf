/**
 * The report's RDMA WRITE sections (one guest, across hosts): perftest's
 * clock against the wall clock, bandwidth, small-message rate, the ping-pong
 * round trip against ib_write_lat's, and the awaited write apart. Results
 * recorded before the ping-pong (no `pingPong` in their rows) keep the table
 * they were recorded with.
 */
import { troubleText } from '../hosts/counters.js';
import type { HostsWriteRow } from '../hosts/write-runs.js';
import type { WriteRow } from '../vm/write-runs.js';
import { CLOCK_TOLERANCE, type ClockCheck } from './perftest-clock.js';
import type { HostsResult, VmResult } from './results.js';
import { formatSize, formatSpread, type Spread } from './stats.js';

type Img = (name: string, alt: string) => string[];

const table = (head: string[], rows: (string | number)[][]) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const fs = (s: Spread | undefined | null, d = 2) => (s ? formatSpread(s, d) : 'n/a');
const x = (s: Spread | undefined | null, d = 2) => (s && s.n > 0 ? `${fs(s, d)}x` : 'n/a');
/** msg/s as kmsg/s. */
const k = (s: Spread | undefined) => (s && s.n > 0 ? fs({ ...s, median: s.median / 1e3, min: s.min / 1e3, max: s.max / 1e3 }, 1) : 'n/a');
const wallOverOwn = (c: ClockCheck | undefined) => (c && Number.isFinite(c.wallOverOwn) ? `${c.wallOverOwn.toFixed(2)}x` : 'n/a');
const used = (c: ClockCheck | undefined) => (c ? (c.basis === 'wall-clock' ? '**wall clock**' : "perftest's") : 'n/a');
/** Decimals for MB/s: small messages across the emulated wire run well below 1 MB/s. */
const mbDigits = (s: Spread) => (s.n > 0 && s.median < 0.1 ? 4 : s.n > 0 && s.median < 10 ? 2 : 1);
/** The ib_write_bw / ib_write_lat figure the ratios use. */
const bwRef = (w: { perftestMBps: Spread; perftestWallMBps?: Spread; bwClock?: ClockCheck }) => (w.bwClock?.basis === 'wall-clock' ? w.perftestWallMBps : w.perftestMBps);
const rttRef = (w: { perftestRttUs: Spread; perftestWallRttUs?: Spread; latClock?: ClockCheck }) => (w.latClock?.basis === 'wall-clock' ? w.perftestWallRttUs : w.perftestRttUs);

type Row = WriteRow | HostsWriteRow;

/** perftest's own figures against the wall clock, and which the ratios use. */
function clockTable(rows: Row[]): string[] {
  const wall = rows.filter((w) => w.bwClock || w.latClock);
  if (!wall.length) return [];
  const anyWall = wall.some((w) => w.bwClock?.basis === 'wall-clock' || w.latClock?.basis === 'wall-clock');
  return [
    "perftest's clock: its figures rest on a CPU frequency it estimates at start, which emulation can throw off. Each perftest client was run at two " +
      'iteration counts in a row; the difference of their wall-clock times (client start to exit) over the difference of iterations gives a ' +
      'figure without the connection set-up. The ratios use perftest\'s own figure where the two agree within ' +
      `${Math.round(CLOCK_TOLERANCE * 100)}%, the wall-clock one where they do not${anyWall ? ' (marked below)' : ' (none in this run)'}.`,
    '',
    table(['size', 'ib_write_bw MB/s, perftest', 'wall clock', 'wall / perftest', 'ratios use', 'ib_write_lat RTT us, perftest', 'wall clock', 'wall / perftest', 'ratios use'],
      wall.map((w) => [formatSize(w.size), fs(w.perftestMBps, mbDigits(w.perftestMBps)), fs(w.perftestWallMBps, mbDigits(w.perftestMBps)), wallOverOwn(w.bwClock), used(w.bwClock),
        fs(w.perftestRttUs, 1), fs(w.perftestWallRttUs, 1), wallOverOwn(w.latClock), used(w.latClock)])),
    '',
  ];
}

export function writeSection(vm: VmResult, img: Img): string[] {
  const rows = vm.write;
  if (!rows) return [];
  if (!rows.some((w) => w.pingPong)) return olderWriteSection(vm, rows, img);
  const small = rows.filter((w) => w.rate);
  return [
    `## RDMA WRITE beside perftest (${vm.kernel}, one boot)`,
    '',
    'perftest (server and client in this guest) and the library, interleaved per size and repetition. The library: an Endpoint per progress mode ' +
      "('event', the default, and 'poll') in this process, connected to a second process (bench/vm/peer.ts) that exposes the target buffer; " +
      'queue depth 128, cache on, registration pre-warmed, inline data up to 256 B, one work request in 16 signaled.',
    '',
    ...clockTable(rows),
    '### Bandwidth (ib_write_bw -t 128; Endpoint, \'event\', 128 writes in flight)',
    '',
    table(['size', 'iterations', 'ib_write_bw MB/s', 'Endpoint MB/s', 'ratio'],
      rows.map((w) => [formatSize(w.size), w.bwIters, fs(bwRef(w), mbDigits(w.perftestMBps)), fs(w.endpointMBps, mbDigits(w.endpointMBps)), x(w.bwRatio)])),
    '',
    ...img('write-bw', 'WRITE bandwidth'),
    ...(small.length
      ? [
        '### Small messages: message rate, 128 in flight',
        '',
        table(['size', 'ib_write_bw kmsg/s', "Endpoint 'poll' kmsg/s", 'ratio', "Endpoint 'event' kmsg/s", 'ratio'],
          small.map((w) => [formatSize(w.size), k(w.rate!.perftestMsgPerSec), k(w.rate!.pollMsgPerSec), x(w.rate!.pollRatio), k(w.rate!.eventMsgPerSec), x(w.rate!.eventRatio)])),
        '',
        ...img('small-rate', 'small-message rate'),
      ]
      : []),
    '### Round trip: ping-pong between two processes against ib_write_lat',
    '',
    'Both carry the payload twice per round trip: each side writes into the other\'s buffer, the other spins on its last byte, then writes back. ' +
      "ib_write_lat's round trip is 2 x its t_avg. " +
      'Each size: the mean of the timed round trips after 100 untimed ones; before the first size, 3,000 untimed round trips per mode ' +
      '(runs recorded before commit 35808e5 lacked these, so their smallest size measured mostly V8 before it had optimized the path).',
    '',
    table(['size', 'iterations', 'ib_write_lat RTT us', "ping-pong 'poll' us", 'ratio', "ping-pong 'event' us", 'ratio'],
      rows.map((w) => [formatSize(w.size), w.latIters, fs(rttRef(w), 1), fs(w.pingPong?.pollUs, 1), x(w.pingPong?.pollRatio), fs(w.pingPong?.eventUs, 1), x(w.pingPong?.eventRatio)])),
    '',
    ...img('write-lat', 'WRITE round trip'),
    '### Awaited Endpoint.write (post to completion), reported apart',
    '',
    'One write at a time, awaited: a different operation from a ping-pong (one payload, completion through the library), so no ratio against perftest.',
    '',
    table(['size', "'event' us", "'poll' us"], rows.map((w) => [formatSize(w.size), fs(w.endpointWriteUs, 1), fs(w.endpointWritePollUs, 1)])),
    '',
  ];
}

/** Results recorded before the ping-pong: the table as it was. */
function olderWriteSection(vm: VmResult, rows: WriteRow[], img: Img): string[] {
  return [
    `## RDMA WRITE beside perftest (${vm.kernel}, one boot)`,
    '',
    'Bandwidth: 128 writes in flight (ib_write_bw -t 128; Endpoint queue depth 128, cache on, registration pre-warmed). ' +
      'Latency: ib_write_lat reports half a ping-pong round trip; an awaited Endpoint.write (post to completion) is a round trip, so it is set against 2 x ib_write_lat ' +
      '(recorded before the ping-pong comparison: from 64 KiB up this flatters the Endpoint, whose write carries the payload once).',
    '',
    table(['size', 'iterations', 'ib_write_bw MB/s', 'Endpoint MB/s', 'ratio', 'ib_write_lat RTT us', 'Endpoint write us', 'ratio'],
      rows.map((w) => [formatSize(w.size), `${w.bwIters} / ${w.latIters}`, fs(w.perftestMBps, 1), fs(w.endpointMBps, 1), x(w.bwRatio),
        fs(w.perftestRttUs, 1), fs(w.endpointWriteUs, 1), x(w.latRatio)])),
    '',
    ...img('write-bw', 'WRITE bandwidth'),
    ...img('write-lat', 'WRITE latency'),
  ];
}

export function hostsWriteSection(h: HostsResult, img: Img): string[] {
  const w = h.write;
  if (!w) return [];
  const trouble = [`Lost or repeated frames during this phase (rxe retries, sequence errors, RNR; the NIC's drops): ${troubleText(h.counters?.write)}.`, ''];
  if (!w.rows.some((q) => q.pingPong)) {
    return [
      '### RDMA WRITE across hosts beside perftest',
      '',
      `perftest: server on ${w.perftestServer}, client on node1 connecting to ${w.perftestHost} (ib_write_bw -t 128; ib_write_lat). ` +
        `Library: a World of two ranks started by mpirun, rank 0 on ${w.ranks[0]}, rank 1 on ${w.ranks[1]}; world.write bandwidth with 128 writes in flight ` +
        '(queue depth 128, cache on, registration pre-warmed), latency of one awaited world.write (post to completion, a round trip) against 2 x ib_write_lat ' +
        '(recorded before the ping-pong comparison).',
      '',
      table(['size', 'iterations', 'ib_write_bw MB/s', 'world.write MB/s', 'ratio', 'ib_write_lat RTT us', 'world.write us', 'ratio'],
        w.rows.map((q) => [formatSize(q.size), `${q.bwIters} / ${q.latIters}`, fs(q.perftestMBps, mbDigits(q.perftestMBps)), fs(q.worldMBps, mbDigits(q.worldMBps)), x(q.bwRatio),
          fs(q.perftestRttUs, 1), fs(q.worldWriteUs, 1), x(q.latRatio)])),
      '',
      ...trouble,
      ...img('hosts-write-bw', 'WRITE bandwidth across hosts'),
    ];
  }
  const small = w.rows.filter((q) => q.rate);
  return [
    '### RDMA WRITE across hosts beside perftest',
    '',
    `perftest: server on ${w.perftestServer}, client on node1 connecting to ${w.perftestHost} (ib_write_bw -t 128; ib_write_lat). ` +
      `Library: world.write in a World of two ranks started by mpirun (rank 0 on ${w.ranks[0]}, rank 1 on ${w.ranks[1]}; progress 'event', the default) for bandwidth ` +
      `and the awaited write; an Endpoint in 'poll' mode to a peer process on ${w.endpointPeer ?? w.perftestServer} (bench/vm/peer.ts) for the message rate and the ping-pong. ` +
      'Queue depth 128, cache on, registration pre-warmed, 128 writes in flight.',
    '',
    ...clockTable(w.rows),
    table(['size', 'iterations', 'ib_write_bw MB/s', 'world.write MB/s', 'ratio'],
      w.rows.map((q) => [formatSize(q.size), q.bwIters, fs(bwRef(q), mbDigits(q.perftestMBps)), fs(q.worldMBps, mbDigits(q.worldMBps)), x(q.bwRatio)])),
    '',
    ...(small.length
      ? [
        table(['size', 'ib_write_bw kmsg/s', "Endpoint 'poll' kmsg/s", 'ratio', "world.write ('event') kmsg/s", 'ratio'],
          small.map((q) => [formatSize(q.size), k(q.rate!.perftestMsgPerSec), k(q.rate!.pollMsgPerSec), x(q.rate!.pollRatio), k(q.rate!.worldMsgPerSec), x(q.rate!.worldRatio)])),
        '',
      ]
      : []),
    'Ping-pong: before the first size, 1,000 untimed round trips (runs recorded before commit 35808e5 lacked them).',
    '',
    table(['size', 'iterations', 'ib_write_lat RTT us', "ping-pong 'poll' us", 'ratio', 'awaited world.write us (apart)'],
      w.rows.map((q) => [formatSize(q.size), q.latIters, fs(rttRef(q), 1), fs(q.pingPong?.pollUs, 1), x(q.pingPong?.pollRatio), fs(q.worldWriteUs, 1)])),
    '',
    ...trouble,
    ...img('hosts-write-bw', 'WRITE bandwidth across hosts'),
    ...img('hosts-small-rate', 'small-message rate across hosts'),
  ];
}
