/**
 * RDMA WRITE across hosts: perftest (server on the peer, client here) beside
 * the library between the two hosts, same boot. For each size and
 * repetition, interleaved like the one-guest benchmark (bench/vm/write-runs.ts)
 * so drifts of the shared machine hit both:
 *
 * - ib_write_bw (clocked: two iteration counts, checked against the wall
 *   clock), then world.write bandwidth (128 in flight) in a World of two
 *   ranks, one per host, and up to SMALL bytes the message rate of an
 *   Endpoint in 'poll' mode to a peer process on the other host (bench/vm/peer.ts);
 * - ib_write_lat (clocked), then a ping-pong through Endpoint ('poll') with
 *   that peer process, then an awaited world.write (reported, not a ratio).
 *
 * The World stays up between steps (bench/hosts/world-write.ts, steered
 * through mpirun's stdin), and so does the peer process.
 */
import { perftestReference, type ClockCheck } from '../lib/perftest-clock.js';
import type { Retries } from '../lib/retries.js';
import { formatSize, ratios, spread, type Spread } from '../lib/stats.js';
import { PeerLink } from '../vm/peer-link.js';
import { clockedBw, clockedLat, type PerftestPeer } from '../vm/perftest-runs.js';
import { SMALL } from '../vm/write-runs.js';
import { JsonChild, isLocal, mpiEnv, mpirunArgs, onPeer, type Hosts } from './launch.js';

export interface HostsWriteRow {
  size: number;
  bwIters: number;
  latIters: number;
  /** ib_write_bw by its own clock. */
  perftestMBps: Spread;
  /** ib_write_bw by the wall clock (absent in older results). */
  perftestWallMBps?: Spread;
  /** Which ib_write_bw figure the bandwidth and rate ratios use. */
  bwClock?: ClockCheck;
  worldMBps: Spread;
  /** world.write MB/s over ib_write_bw MB/s (the chosen clock), per repetition. */
  bwRatio: Spread;
  /** Sizes up to SMALL: messages per second with 128 in flight. */
  rate?: {
    /** ib_write_bw, by the clock the ratios use. */
    perftestMsgPerSec: Spread;
    /** Endpoint, 'poll', to the peer process on the other host. */
    pollMsgPerSec: Spread;
    pollRatio: Spread;
    /** world.write (the World's default progress, 'event'): the bandwidth run. */
    worldMsgPerSec: Spread;
    worldRatio: Spread;
  };
  /** ib_write_lat round trip (2 x its one-way t_avg), us, by its own clock. */
  perftestRttUs: Spread;
  perftestWallRttUs?: Spread;
  latClock?: ClockCheck;
  /** Ping-pong through Endpoint ('poll') between the two hosts, against ib_write_lat's round trip. */
  pingPong?: { iters: number; pollUs: Spread; pollRatio: Spread };
  /** One awaited world.write (post to completion), us: reported, not a ratio. */
  worldWriteUs: Spread;
  /** Older results: the awaited world.write over ib_write_lat's round trip (not like with like). */
  latRatio?: Spread;
}

export interface HostsWriteResult {
  /** Where each rank of the World ran (hostname per rank). */
  ranks: string[];
  /** Where perftest's server ran ('node2'), its client connecting to `perftestHost`. */
  perftestServer: string;
  perftestHost: string;
  /** Where the Endpoint peer process ran (absent in older results). */
  endpointPeer?: string;
  rows: HostsWriteRow[];
}

export interface HostsWriteOptions {
  hosts: Hosts;
  device: string;
  /** Address perftest's client connects to (the peer's name; this guest's address in local mode). */
  peerAddress: string;
  sizes: number[];
  reps: number;
  /** Bytes per bandwidth run (iterations = budget / size, within 200..maxIters). */
  budget: number;
  maxIters: number;
  latIters: number;
  /** Untimed ping-pong round trips ('poll') before the first size (the JIT's warm-up). */
  warmRoundTrips: number;
  /** Seconds of wall-clock difference between the two runs of a clocked perftest. */
  clockSec: number;
  log: (s: string) => void;
  retries: Retries;
}

export async function hostsWriteRuns(o: HostsWriteOptions): Promise<HostsWriteResult> {
  const maxSize = Math.max(...o.sizes);
  const world = new JsonChild('mpirun',
    mpirunArgs(o.hosts, 1, ['node', '--import', 'tsx', 'bench/hosts/world-write.ts', String(maxSize)]),
    { env: mpiEnv(), stdin: true, timeoutMs: 3 * 3600_000 });
  try {
    const ranks: string[] = [];
    for (let r = 0; r < 2; r++) {
      const line = await world.next((x) => x.op === 'rank', 600_000, 'world-write: World.init over two hosts');
      ranks[Number(line.rank)] = String(line.hostname);
    }
    await world.next((x) => x.op === 'ready', 120_000, 'world-write: ready');
    if (!isLocal(o.hosts) && ranks[0] === ranks[1]) throw new Error(`world-write: both ranks ran on ${ranks[0]}, not one per host`);
    o.log(`world.write: rank 0 on ${ranks[0]}, rank 1 on ${ranks[1]}; perftest server on ${isLocal(o.hosts) ? 'this guest' : o.hosts.peer}`);
    const ask = async (cmd: string, timeoutMs: number) => {
      world.send(cmd);
      return world.next((x) => x.op === cmd.split(' ')[0], timeoutMs, `world-write '${cmd}'`);
    };
    const via = onPeer(o.hosts);
    const perftest: PerftestPeer = { device: o.device, host: o.peerAddress, via, label: ' across hosts' };
    const link = await PeerLink.open({ device: o.device, bytes: maxSize, via, log: o.log });
    const rows: HostsWriteRow[] = [];
    try {
      await link.warmPingPong(['poll'], Math.min(...o.sizes), o.warmRoundTrips);
      for (const size of o.sizes) {
        const small = size <= SMALL;
        const bwIters = Math.max(200, Math.min(o.maxIters, Math.floor(o.budget / size)));
        const latIters = Math.max(50, Math.min(o.latIters, Math.floor(o.budget / 4 / size)));
        const m = {
          pBw: [] as number[], pBwWall: [] as number[], wBw: [] as number[], wRate: [] as number[], pRate: [] as number[],
          pRtt: [] as number[], pRttWall: [] as number[], pp: [] as number[], wLat: [] as number[],
        };
        for (let r = 0; r < o.reps; r++) {
          for (const tool of ['ib_write_bw', 'ib_write_lat']) o.retries.ran(`${tool} ${formatSize(size)} across hosts, repetitions`);
          o.log(`${formatSize(size)}, repetition ${r + 1}: ib_write_bw, world.write${small ? ', Endpoint poll rate' : ''}, ib_write_lat, ping-pong, awaited world.write`);
          const pb = await clockedBw(perftest, size, bwIters, r + 1, o.clockSec, o);
          m.pBw.push(pb.bytesPerSec / 1e6);
          m.pBwWall.push(pb.wallBytesPerSec / 1e6);
          const wb = await ask(`bw ${size} ${bwIters}`, 1800_000);
          m.wBw.push(Number(wb.bytesPerSec) / 1e6);
          m.wRate.push(Number(wb.msgPerSec));
          if (small) m.pRate.push((await link.rate('poll', size, bwIters)).msgPerSec);
          const pl = await clockedLat(perftest, size, latIters, r + 1, o.clockSec, o);
          m.pRtt.push(pl.rttUs);
          m.pRttWall.push(pl.wallRttUs);
          m.pp.push((await link.pingPong('poll', size, latIters)).avgUs);
          m.wLat.push(Number((await ask(`lat ${size} ${latIters}`, 1800_000)).us));
        }
        const { perftestMBps, perftestWallMBps, bwClock, refBw, refRate, perftestRttUs, perftestWallRttUs, latClock, refRtt } =
          perftestReference(size, m);
        const row: HostsWriteRow = {
          size,
          bwIters,
          latIters,
          perftestMBps,
          perftestWallMBps,
          bwClock,
          worldMBps: spread(m.wBw),
          bwRatio: ratios(m.wBw, refBw),
          rate: small
            ? { perftestMsgPerSec: spread(refRate), pollMsgPerSec: spread(m.pRate), pollRatio: ratios(m.pRate, refRate), worldMsgPerSec: spread(m.wRate), worldRatio: ratios(m.wRate, refRate) }
            : undefined,
          perftestRttUs,
          perftestWallRttUs,
          latClock,
          pingPong: { iters: latIters, pollUs: spread(m.pp), pollRatio: ratios(m.pp, refRtt) },
          worldWriteUs: spread(m.wLat),
        };
        rows.push(row);
        const f = (s: Spread | undefined, d = 1) => (s && s.n ? s.median.toFixed(d) : 'n/a');
        const c = (k: ClockCheck) => `wall/own ${Number.isFinite(k.wallOverOwn) ? k.wallOverOwn.toFixed(2) : 'n/a'}, ${k.basis}`;
        o.log(`across hosts, write ${formatSize(size)}: ib_write_bw ${f(row.perftestMBps)} MB/s (${c(bwClock)}), ` +
          `world.write ${f(row.worldMBps)} MB/s (${f(row.bwRatio, 2)}x)${row.rate ? `; rate: Endpoint poll ${f(row.rate.pollRatio, 2)}x, world.write ${f(row.rate.worldRatio, 2)}x` : ''}; ` +
          `ib_write_lat RTT ${f(row.perftestRttUs)} us (${c(latClock)}), ` +
          `ping-pong poll ${f(row.pingPong!.pollUs)} us (${f(row.pingPong!.pollRatio, 2)}x); awaited world.write ${f(row.worldWriteUs)} us`);
      }
    } finally {
      await link.close().catch((err: Error) => o.log(`peer process: ${err.message}`));
    }
    world.send('end');
    const end = await Promise.race([world.done, new Promise<undefined>((r) => setTimeout(() => r(undefined), 120_000))]);
    if (end === undefined) throw new Error(`world-write did not end within 120 s of 'end' (${world.tail()})`);
    if (end.code !== 0) throw new Error(`world-write: mpirun exited ${end.code ?? end.signal} (${world.tail()})`);
    const where = isLocal(o.hosts) ? 'local' : o.hosts.peer;
    return { ranks, perftestServer: where, perftestHost: o.peerAddress, endpointPeer: where, rows };
  } finally {
    world.kill();
  }
}
