/**
 * The two-host half of `npm run bench` (one `--hosts 2` boot, run on node1):
 * RDMA WRITE across hosts (perftest beside world.write and an Endpoint peer:
 * bandwidth, small-message rate, ping-pong), then allreduce across
 * hosts (Open MPI's MPI_Allreduce beside the library's ring allreduce).
 * Writes one JSON file.
 *
 *   npm run vm -- --hosts 2 'node --import tsx bench/hosts/suite.ts --out build/bench/hosts.json [--quick] [--reps 3]'
 *
 * `--peer local` runs every part in one guest instead (`npm run vm -- '...'`),
 * to try the benchmarks without a second guest; those figures are not across
 * hosts and the file says so.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, release } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { Retries } from '../lib/retries.js';
import { allreducePlan, allreduceRuns } from './allreduce-runs.js';
import { counterDeltas, readCounters, troubleText, type CounterDeltas } from './counters.js';
import { isLocal, type Hosts } from './launch.js';
import { hostsWriteRuns } from './write-runs.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    peer: { type: 'string', default: 'node2' },
    only: { type: 'string' },
    // Comma-separated byte counts instead of the mode's own (a targeted run).
    sizes: { type: 'string' },
    'allreduce-sizes': { type: 'string' },
  },
});
const sizeList = (s: string | undefined) => s?.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
if (!values.out || (values.only !== undefined && !/^(write|allreduce)$/.test(values.only))) {
  console.error('usage (on node1 of the two-host VM): bench/hosts/suite.ts --out FILE [--quick] [--reps N] [--peer node2|local] [--only write|allreduce] [--sizes B,B..] [--allreduce-sizes B,B..]');
  process.exit(2);
}
const hosts: Hosts = { self: isLocal({ self: '', peer: values.peer! }) ? 'local' : hostname(), peer: values.peer! };
const device = process.env.RDMA_REGCACHE_DEVICE ?? 'rxe0';
const quick = values.quick;
const reps = Number(values.reps ?? (quick ? 1 : 3));
const started = Date.now();
const log = (s: string) => console.error(`[bench hosts ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}`);
const errors: string[] = [];
const retries = new Retries();
async function phase<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (err) {
    log(`${name} failed: ${(err as Error).stack ?? String(err)}`);
    errors.push(`${name}: ${(err as Error).message}`);
    return undefined;
  }
}
// The wire's counters (rxe's retries and sequence errors, the NIC's drops) around each phase.
const counters: Record<string, CounterDeltas> = {};
async function counted<T>(name: string, run: () => Promise<T>): Promise<T> {
  const before = await readCounters(hosts, device).catch(() => undefined);
  try {
    return await run();
  } finally {
    const after = await readCounters(hosts, device).catch(() => undefined);
    if (before && after) {
      counters[name] = counterDeltas(before, after);
      log(`${name}: lost or repeated frames on the wire (rxe/NIC counters): ${troubleText(counters[name])}`);
    }
  }
}
const result: Record<string, unknown> = {
  kernel: release(),
  guestCpu: `${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}`,
  device,
  hosts: isLocal(hosts) ? ['local (one guest: not across hosts)'] : [hosts.self, hosts.peer],
  quick,
  reps,
};

if (values.only !== 'allreduce') {
  const sizes = sizeList(values.sizes) ?? (quick ? [8, 65536] : [8, 64, 512, 4096, 65536, 262144, 1048576]);
  log(`RDMA WRITE across hosts, perftest beside world.write: ${sizes.join(', ')} B, ${reps} repetition(s)`);
  result.write = await phase('RDMA WRITE across hosts', () => counted('write', () => hostsWriteRuns({
    hosts,
    device,
    peerAddress: isLocal(hosts) ? process.env.RDMA_REGCACHE_IP ?? '192.0.2.1' : hosts.peer,
    sizes,
    reps,
    budget: quick ? 4 << 20 : 64 << 20,
    // Fewer than the one-guest run's: across the wire an 8 B world.write ran at
    // about a hundred per second on the loaded machine (2026-12-02).
    maxIters: quick ? 300 : 2000,
    latIters: quick ? 50 : 200,
    // Fewer than in one guest: a round trip across the hosts takes milliseconds.
    warmRoundTrips: quick ? 20 : 1000,
    // perftest's second run: this much longer than its first (wall-clock check).
    clockSec: quick ? 0.2 : 1,
    log,
    retries,
  })));
}

if (values.only !== 'write') {
  const only = sizeList(values['allreduce-sizes']);
  const steps = allreducePlan(quick, only);
  log(`allreduce across hosts, MPI_Allreduce beside the ring allreduce: ${steps.map((s) => `${s.size} B x ${s.iters}`).join(', ')}; ${reps} repetition(s)`);
  result.allreduce = await phase('allreduce across hosts', () => counted('allreduce', () => allreduceRuns({ hosts, steps, reps, quick, log })));
}

result.counters = counters;
result.errors = errors;
result.retries = retries.list();
result.seconds = (Date.now() - started) / 1000;
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
log(`wrote ${values.out}${errors.length ? `; ${errors.length} benchmark(s) failed` : ''}`);
process.exit(errors.length ? 1 : 0);
