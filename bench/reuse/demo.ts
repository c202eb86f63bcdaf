/**
 * The buffer-reuse demo (what `npm start` runs inside the test VM): two
 * endpoints over rxe0, the reuse workload at several sizes, once registering
 * every operation and once through the cache; a table, a JSON file and an SVG
 * chart of the results.
 *
 *   tsx bench/reuse/demo.ts [--quick] [--sizes 4096,65536] [--rounds N] [--repeat N] [--unsafe] [--guard-pages] [--out DIR]
 *
 * rxe in an emulated guest is noisy (runs of the same mode differ by 20%), so
 * within a pass the modes take turns round by round (the order alternating),
 * over `--repeat` passes after a warm-up pass that is not counted; the table
 * shows the median pass and the range, and the speedup is the median of
 * per-pass ratios. The time counted is the workload's (reallocating, filling,
 * writing), not the demo's byte-for-byte check that follows each round.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import { Endpoint, MemoryMonitor, type RemoteBuffer } from '../../src/index.js';
import { groupedBarChart } from '../lib/chart.js';
import { spread } from '../lib/stats.js';
import { ReuseRun, type Mode, type ReuseResult } from './workload.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string', default: '4096,65536,1048576' },
    rounds: { type: 'string' },
    buffers: { type: 'string', default: '16' },
    churn: { type: 'string', default: '4' },
    repeat: { type: 'string' },
    unsafe: { type: 'boolean', default: false },
    'guard-pages': { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results/demo' },
  },
});

const device = process.env.RDMA_REGCACHE_DEVICE;
if (!process.env.RDMA_REGCACHE_IP) {
  console.error('demo: RDMA_REGCACHE_IP is not set: run it through `npm start` (which boots the test VM) or set it to an RDMA device address');
  process.exit(2);
}
const host: string = process.env.RDMA_REGCACHE_IP;
const sizes = values.sizes.split(',').map(Number);
const buffers = Number(values.buffers);
const churn = Number(values.churn);
const repeat = Number(values.repeat ?? (values.quick ? 1 : 5));
if (sizes.some((s) => !Number.isInteger(s) || s < 8) || !(buffers > 0) || !(churn >= 0 && churn <= buffers) || !(Number.isInteger(repeat) && repeat >= 1)) {
  console.error('demo: --sizes must be integers >= 8, --buffers positive, --churn between 0 and --buffers, --repeat a positive integer');
  process.exit(2);
}
// Rounds per size: enough bytes to measure, fewer for big buffers, but at
// least 48: at 1 MiB a round takes ~0.3 s and single rounds vary by 10%, while
// what a cache can save there is a few per cent.
const roundsFor = (size: number) =>
  values.rounds ? Number(values.rounds) : values.quick ? 6 : Math.max(48, Math.min(256, Math.round((96 << 20) / (size * buffers))));
const modes: Mode[] = ['per-operation', 'cache', ...(values.unsafe ? (['cache-unmonitored'] as const) : [])];
const label: Record<Mode, string> = {
  'per-operation': 'register per op',
  cache: 'cache + ummunotify',
  'cache-unmonitored': 'cache, no monitor (unsafe)',
};

const target = Buffer.alloc(Math.max(...sizes) * buffers);
console.log(`demo: ${modes.map((m) => label[m]).join(' vs ')}; sizes ${sizes.map(formatSize).join(', ')}; ${buffers} buffers, ${churn} reallocated per round`);
const listener = await Endpoint.listen({ device, host, port: 0 });

// One connection per mode: the client's cache (or none) is what differs.
async function connectPair(mode: Mode): Promise<[Endpoint, Endpoint]> {
  const cache =
    mode === 'per-operation'
      ? ('per-operation' as const)
      : { monitor: MemoryMonitor.open({ backend: mode === 'cache' ? 'ummunotify' : 'none' }) };
  const [peer, client] = await Promise.all([listener.accept(), Endpoint.connect({ device, host, port: listener.port, cache })]);
  return [client, peer];
}

// An rkey is only good on its own connection's PD: each peer exposes the target.
const clients = new Map<Mode, { client: Endpoint; remote: RemoteBuffer }>();
const peers: Endpoint[] = [];
for (const mode of modes) {
  const [client, peer] = await connectPair(mode);
  clients.set(mode, { client, remote: peer.expose(target) });
  peers.push(peer);
}
listener.close();

const WARMUP_ROUNDS = 2;
const total = sizes.reduce((n, s) => n + (WARMUP_ROUNDS + repeat * roundsFor(s)) * buffers * modes.length, 0);
const bar = new SingleBar({
  format: 'reuse workload [{bar}] {percentage}% | {value}/{total} writes | {step}',
  noTTYOutput: true,
  notTTYSchedule: 5000,
});
bar.start(total, 0, { step: '' });
let done = 0;
/**
 * One pass at one size: every mode runs the same rounds, interleaved round by
 * round (the order alternating), so drift in the guest's speed hits all modes alike.
 */
async function pass(size: number, rounds: number, step: string): Promise<ReuseResult[]> {
  bar.update(done, { step: `${step}, ${formatSize(size)}` });
  const runs = modes.map((mode) => {
    const { client, remote } = clients.get(mode)!;
    return new ReuseRun(mode, client, target, remote, { size, buffers, churn, guard: values['guard-pages'] });
  });
  try {
    for (let r = 0; r < rounds; r++) {
      for (const run of r % 2 ? [...runs].reverse() : runs) {
        await run.round();
        bar.update((done += buffers));
      }
    }
  } catch (e) {
    for (const run of runs) run.finish(); // unmaps the buffers
    throw e;
  }
  return runs.map((run) => run.finish());
}
const passes: ReuseResult[][] = []; // [pass][size x mode]
const warmups: ReuseResult[] = []; // not timed, but verified like the rest
for (const size of sizes) warmups.push(...(await pass(size, WARMUP_ROUNDS, 'warm-up')));
for (let p = 0; p < repeat; p++) {
  const results: ReuseResult[] = [];
  for (const size of sizes) results.push(...(await pass(size, roundsFor(size), `pass ${p + 1}/${repeat}`)));
  passes.push(results);
}
bar.update(total, { step: 'done' });
bar.stop();
for (const c of clients.values()) c.client.close();
for (const p of peers) p.close();

/** One row per size and mode: sums of counts, median and range of the passes' rates. */
interface Row extends ReuseResult {
  opsPerSecondRange: [number, number];
  /** Median over passes of ops/s divided by register-per-op's ops/s in the same pass. */
  speedup: number;
  speedupRange: [number, number];
  passes: number;
}
const pick = (rs: ReuseResult[], size: number, mode: Mode) => rs.find((r) => r.size === size && r.mode === mode)!;
const results: Row[] = [];
for (const size of sizes) {
  for (const mode of modes) {
    const mine = passes.map((rs) => pick(rs, size, mode));
    const ratios = passes.map((rs) => pick(rs, size, mode).opsPerSecond / pick(rs, size, 'per-operation').opsPerSecond);
    const sum = (k: keyof ReuseResult) => mine.reduce((n, r) => n + (Number(r[k]) || 0), 0);
    const optional = (k: 'hits' | 'misses' | 'invalidations' | 'staleAvoided') => (mine[0]![k] === undefined ? undefined : sum(k));
    const ops = spread(mine.map((r) => r.opsPerSecond));
    const speedup = spread(ratios);
    results.push({
      mode,
      size,
      writes: sum('writes'),
      seconds: sum('seconds'),
      opsPerSecond: ops.median,
      opsPerSecondRange: [ops.min, ops.max],
      megabytesPerSecond: spread(mine.map((r) => r.megabytesPerSecond)).median,
      speedup: speedup.median,
      speedupRange: [speedup.min, speedup.max],
      passes: mine.length,
      verified: sum('verified'),
      mismatches: sum('mismatches'),
      reallocations: sum('reallocations'),
      sameAddress: sum('sameAddress'),
      hits: optional('hits'),
      misses: optional('misses'),
      invalidations: optional('invalidations'),
      staleAvoided: optional('staleAvoided'),
    });
  }
}

const table = new Table({
  style: { head: [], border: [] }, // plain text: the output often ends up in a log
  head: ['size', 'mode', 'writes', repeat > 1 ? 'ops/s (range)' : 'ops/s', 'MB/s', repeat > 1 ? 'speedup (range)' : 'speedup', 'hits', 'misses', 'invalidations', 'stale avoided', 'verified', 'mismatches'],
});
const range = (v: number, [lo, hi]: [number, number], digits: number, unit = '') =>
  repeat > 1 ? `${v.toFixed(digits)}${unit} (${lo.toFixed(digits)}-${hi.toFixed(digits)})` : `${v.toFixed(digits)}${unit}`;
for (const r of results) {
  table.push([
    formatSize(r.size),
    label[r.mode],
    r.writes,
    range(r.opsPerSecond, r.opsPerSecondRange, 0),
    r.megabytesPerSecond.toFixed(1),
    range(r.speedup, r.speedupRange, 2, 'x'),
    r.hits ?? '-',
    r.misses ?? '-',
    r.invalidations ?? '-',
    r.staleAvoided ?? '-',
    r.verified,
    r.mismatches,
  ]);
}
console.log(table.toString());

const safe = [...results, ...warmups].filter((r) => r.mode !== 'cache-unmonitored');
const mismatches = safe.reduce((n, r) => n + r.mismatches, 0);
const verified = safe.reduce((n, r) => n + r.verified, 0);
const sameAddress = results.reduce((n, r) => n + r.sameAddress, 0);
const reallocations = results.reduce((n, r) => n + r.reallocations, 0);
console.log(`verified ${verified} writes byte for byte: ${mismatches} mismatches` +
  ` (${sameAddress} of ${reallocations} reallocations got the freed address back)`);
const slower = sizes.filter((s) => results.find((r) => r.size === s && r.mode === 'cache')!.speedup < 1);
if (slower.length) console.log(`note: the cache was slower than registering per operation at ${slower.map(formatSize).join(', ')}`);

mkdirSync(values.out, { recursive: true });
const report = {
  date: new Date().toISOString(),
  kernel: (await import('node:os')).release(),
  device,
  options: { sizes, buffers, churn, repeat, warmupRounds: WARMUP_ROUNDS, quick: values.quick, guardPages: values['guard-pages'] },
  results,
  verified,
  mismatches,
};
writeFileSync(join(values.out, 'reuse.json'), `${JSON.stringify(report, null, 2)}\n`);
const svg = await groupedBarChart(
  results.map((r) => ({ x: formatSize(r.size), series: label[r.mode], value: r.megabytesPerSecond })),
  { title: `Buffer reuse over rxe (${buffers} buffers, ${churn} reallocated per round)`, xTitle: 'buffer size', yTitle: 'MB/s (higher is better)', logScale: true },
);
writeFileSync(join(values.out, 'reuse.svg'), svg);
console.log(`results: ${join(values.out, 'reuse.json')} and ${join(values.out, 'reuse.svg')}`);
process.exit(mismatches === 0 ? 0 : 1);

function formatSize(n: number): string {
  if (n % (1 << 20) === 0) return `${n >> 20} MiB`;
  if (n % 1024 === 0) return `${n >> 10} KiB`;
  return `${n} B`;
}
