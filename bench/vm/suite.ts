/**
 * The in-VM half of `npm run bench` (one boot): RDMA WRITE beside perftest
 * (bandwidth, small-message rate in 'event' and 'poll', the two-process
 * ping-pong, perftest's clock checked against the wall clock), registration
 * and invalidation cost, the buffer-reuse workload in three modes, and the
 * module's C benchmark. Writes one JSON file.
 *
 *   npm run vm -- --timeout 900 'node --import tsx bench/vm/suite.ts --out build/bench/vm-6.1.json [--quick] [--reps 3] [--only kmod|write] [--sizes 8,64]'
 *
 * `--only write` runs the WRITE phase alone (with `--sizes 8,64,512,4096`:
 * the small-message measurements of issue 15).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { openDevice } from '../../src/index.js';
import { invalidationCost } from './invalidation-cost.js';
import { Retries } from '../lib/retries.js';
import { kmodRuns } from './kmod-runs.js';
import { registrationCost } from './registration-cost.js';
import { reuseRuns } from './reuse-runs.js';
import { writeRuns } from './write-runs.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    only: { type: 'string' },
    // Comma-separated byte counts for the WRITE phase instead of the mode's own.
    sizes: { type: 'string' },
  },
});
const host = process.env.RDMA_REGCACHE_IP;
const device = process.env.RDMA_REGCACHE_DEVICE ?? 'rxe0';
const sizeList = values.sizes?.split(',').map(Number);
if (!values.out || (values.only !== 'kmod' && !host) || (values.only !== undefined && !/^(kmod|write)$/.test(values.only)) ||
  (sizeList && !sizeList.every((n) => Number.isInteger(n) && n > 0))) {
  console.error('usage (inside the test VM): bench/vm/suite.ts --out FILE [--quick] [--reps N] [--only kmod|write] [--sizes B,B..]');
  process.exit(2);
}
const quick = values.quick;
const reps = Number(values.reps ?? (quick ? 1 : 3));
const started = Date.now();
const log = (s: string) => console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}`);
const errors: string[] = [];
// Failed runs that were run again (perftest, the reuse demo): kept in the results.
const retries = new Retries();
// One failing benchmark must not take the others with it: each phase records its error.
async function phase<T>(name: string, run: () => T | Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (err) {
    log(`${name} failed: ${(err as Error).stack ?? String(err)}`);
    errors.push(`${name}: ${(err as Error).message}`);
    return undefined;
  }
}
const result: Record<string, unknown> = {
  kernel: release(),
  guestCpu: `${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}`,
  device,
  quick,
  reps,
};

if (values.only !== 'kmod') {
  // Quick: one small message and one bandwidth size, so every column comes out.
  const sizes = sizeList ?? (quick ? [8, 65536] : [8, 64, 512, 4096, 65536, 262144, 1048576]);
  log(`RDMA WRITE beside perftest: ${sizes.join(', ')} B, ${reps} repetition(s)`);
  result.write = await phase('RDMA WRITE beside perftest', () => writeRuns({
    device,
    host: host!,
    sizes,
    reps,
    budget: quick ? 4 << 20 : 64 << 20,
    maxIters: quick ? 500 : 10000,
    latIters: quick ? 100 : 500,
    warmRoundTrips: quick ? 100 : 3000,
    // perftest's second run: this much longer than its first (wall-clock check).
    clockSec: quick ? 0.2 : 1,
    log,
    retries,
  }));
}

if (values.only === undefined) {
  const ctx = openDevice(device);
  const pd = ctx.allocPd();
  try {
    log('registration cost by size');
    result.registration = await phase('registration cost', () => (quick ? [4096, 1 << 20] : [4096, 65536, 1 << 20, 16 << 20]).map((size) => {
      const iters = quick ? 20 : Math.max(20, Math.min(500, Math.floor((256 << 20) / size)));
      const runs = Array.from({ length: reps }, () => registrationCost(pd, size, iters));
      return { size, iters, runs };
    }));
    log('invalidation cost');
    result.invalidation = await phase('invalidation cost', () => (quick ? [4096] : [4096, 1 << 20]).map((size) => {
      const runs = Array.from({ length: reps }, () => invalidationCost(pd, size, quick ? 20 : 200, quick ? 100 : undefined));
      return { size, runs };
    }));
  } finally {
    ctx.close();
  }

  log('buffer-reuse workload (bench/reuse/demo.ts --unsafe)');
  result.reuse = await phase('buffer reuse', () => reuseRuns(reps, quick, retries));
}

if (values.only !== 'write') {
  log('kernel benchmark (bench/kmod/umn_bench)');
  result.kmod = await phase('kernel benchmark', () => kmodRuns(reps, quick));
}
result.errors = errors;
result.retries = retries.list();
result.seconds = (Date.now() - started) / 1000;
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
log(`wrote ${values.out}${errors.length ? `; ${errors.length} benchmark(s) failed` : ''}`);
process.exit(errors.length ? 1 : 0);
