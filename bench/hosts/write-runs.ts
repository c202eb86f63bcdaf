/**
 * RDMA WRITE across hosts: perftest (server on the peer, client here) beside
 * world.write in a World of two ranks, one per host, same boot. For each size
 * and repetition: ib_write_bw, then world.write bandwidth (128 in flight),
 * then ib_write_lat, then an awaited world.write; interleaved like the
 * one-guest benchmark (bench/vm/write-runs.ts), so drifts of the shared
 * machine hit both. The World stays up between steps (bench/hosts/world-write.ts,
 * steered through mpirun's stdin).
 */
// @ts-expect-error: plain JS module of the verbs benchmark (its perftest runner)
import { perftestBw, perftestLat } from '../verbs/perftest.mjs';
import type { Retries } from '../lib/retries.js';
import { formatSize, spread, type Spread } from '../lib/stats.js';
import { nonZero } from '../vm/write-runs.js';
import { JsonChild, isLocal, mpiEnv, mpirunArgs, onPeer, type Hosts } from './launch.js';

export interface HostsWriteRow {
  size: number;
  bwIters: number;
  latIters: number;
  perftestMBps: Spread;
  worldMBps: Spread;
  /** world.write MB/s over ib_write_bw MB/s, per repetition. */
  bwRatio: Spread;
  /** ib_write_lat round trip (2 x its one-way t_avg), us. */
  perftestRttUs: Spread;
  /** One awaited world.write (post to completion), us. */
  worldWriteUs: Spread;
  /** world.write latency over ib_write_lat's round trip, per repetition. */
  latRatio: Spread;
}

export interface HostsWriteResult {
  /** Where each rank of the World ran (hostname per rank). */
  ranks: string[];
  /** Where perftest's server ran ('node2'), its client connecting to `perftestHost`. */
  perftestServer: string;
  perftestHost: string;
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
    const rows: HostsWriteRow[] = [];
    for (const size of o.sizes) {
      const bwIters = Math.max(200, Math.min(o.maxIters, Math.floor(o.budget / size)));
      const latIters = Math.max(50, Math.min(o.latIters, Math.floor(o.budget / 4 / size)));
      const m = { pBw: [] as number[], wBw: [] as number[], pRtt: [] as number[], wLat: [] as number[] };
      for (let r = 0; r < o.reps; r++) {
        for (const tool of ['ib_write_bw', 'ib_write_lat']) o.retries.ran(`${tool} ${formatSize(size)} across hosts, repetitions`);
        o.log(`${formatSize(size)}, repetition ${r + 1}: ib_write_bw, world.write, ib_write_lat, awaited world.write`);
        const pb = await nonZero(`ib_write_bw ${formatSize(size)} across hosts`, r + 1,
          (record) => perftestBw({ device: o.device, host: o.peerAddress, size, iters: bwIters, record, via }),
          (x: { bytesPerSec: number }) => x.bytesPerSec, o);
        m.pBw.push(pb / 1e6);
        m.wBw.push(Number((await ask(`bw ${size} ${bwIters}`, 1800_000)).bytesPerSec) / 1e6);
        const pl = await nonZero(`ib_write_lat ${formatSize(size)} across hosts`, r + 1,
          (record) => perftestLat({ device: o.device, host: o.peerAddress, size, iters: latIters, record, via }),
          (x: { tAvgUs: number }) => x.tAvgUs, o);
        m.pRtt.push(2 * pl);
        m.wLat.push(Number((await ask(`lat ${size} ${latIters}`, 1800_000)).us));
      }
      const row: HostsWriteRow = {
        size,
        bwIters,
        latIters,
        perftestMBps: spread(m.pBw),
        worldMBps: spread(m.wBw),
        bwRatio: spread(m.wBw.map((w, i) => w / m.pBw[i]!)),
        perftestRttUs: spread(m.pRtt),
        worldWriteUs: spread(m.wLat),
        latRatio: spread(m.wLat.map((w, i) => w / m.pRtt[i]!)),
      };
      rows.push(row);
      o.log(`across hosts, write ${formatSize(size)}: ib_write_bw ${row.perftestMBps.median.toFixed(1)} MB/s, world.write ${row.worldMBps.median.toFixed(1)} MB/s ` +
        `(${row.bwRatio.median.toFixed(2)}x); ib_write_lat RTT ${row.perftestRttUs.median.toFixed(1)} us, world.write ${row.worldWriteUs.median.toFixed(1)} us ` +
        `(${row.latRatio.median.toFixed(2)}x)`);
    }
    world.send('end');
    const end = await Promise.race([world.done, new Promise<undefined>((r) => setTimeout(() => r(undefined), 120_000))]);
    if (end === undefined) throw new Error(`world-write did not end within 120 s of 'end' (${world.tail()})`);
    if (end.code !== 0) throw new Error(`world-write: mpirun exited ${end.code ?? end.signal} (${world.tail()})`);
    return { ranks, perftestServer: isLocal(o.hosts) ? 'local' : o.hosts.peer, perftestHost: o.peerAddress, rows };
  } finally {
    world.kill();
  }
}
