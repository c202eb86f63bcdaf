/**
 * Times the library's ring allreduce (bench/examples/ring-allreduce.ts) the
 * way bench/hosts/mpi-allreduce.c times MPI_Allreduce: same arguments, same
 * input, same warm-up and timed iterations, a barrier before each timed loop.
 *
 *   mpirun --host node1:2,node2:2 -np 4 node --import tsx bench/hosts/ring-allreduce.ts SIZE:ITERS[:WARMUP] ...
 *
 * Every rank prints one JSON line per size with its own mean time per call;
 * the caller takes the slowest rank's (MPI's program reports the same):
 *
 *   {"op":"allreduce","size":65536,"iters":50,"warmup":5,"rank":2,"hostname":"node2","meanUs":123.4,"check":"exact"}
 *
 * The timed calls reduce in place, each into the previous result (the values
 * grow by a factor of the world size per call and stay finite for the
 * iteration counts used here); after the timed loop one more call on fresh
 * input is checked for the exact sum. First each rank times world.barrier()
 * alone ({"op":"barrier","meanUs":..}), a floor under run()'s time (it
 * starts with one). At the end each rank prints its cache's
 * counters ({"op":"cache",...}): every step's send buffer is a new
 * Float64Array, so reuse goes through the registration cache.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RegistrationCache, World } from 'rdma-regcache';

// RDMA_REGCACHE_RING_MODULE: another module exporting ringAllreduce (a candidate
// change to the example) to time the same way; default: the example itself.
const ringModule = process.env.RDMA_REGCACHE_RING_MODULE;
const { ringAllreduce } = (ringModule
  ? await import(pathToFileURL(resolve(ringModule)).href)
  : await import('../examples/ring-allreduce.js')) as typeof import('../examples/ring-allreduce.js');

interface Step {
  size: number;
  iters: number;
  warmup: number;
}

function parseStep(arg: string): Step {
  const [size, iters, warmup] = arg.split(':').map(Number);
  if (!Number.isInteger(size) || size! < 8 || size! % 8 !== 0 || !Number.isInteger(iters) || iters! < 1)
    throw new RangeError(`bad argument '${arg}' (want SIZE:ITERS[:WARMUP], SIZE a multiple of 8)`);
  return { size: size!, iters: iters!, warmup: warmup === undefined || !Number.isInteger(warmup) || warmup < 0 ? Math.max(1, Math.floor(iters! / 10)) : warmup };
}

const steps = process.argv.slice(2).map(parseStep);
if (!steps.length) {
  console.error('usage: mpirun -np N node --import tsx bench/hosts/ring-allreduce.ts SIZE:ITERS[:WARMUP] ...');
  process.exit(2);
}
// RDMA_REGCACHE_RING_PROGRESS=poll: the World's progress mode for an experiment (default 'event'; pass it with mpirun -x).
const progress = process.env.RDMA_REGCACHE_RING_PROGRESS === 'poll' ? 'poll' : undefined;
const world = await World.init(progress ? { progress } : {});
const { rank, size: ranks } = world;
const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
// Same input as the C program: element i of rank r is (r + i) mod 1000.
const fill = (data: Float64Array, r: number) => {
  for (let i = 0; i < data.length; i++) data[i] = (r + i) % 1000;
};

// What one world.barrier() (a PMIx fence) costs here: ringAllreduce's run()
// starts with one, so it is a floor under every call's time.
{
  const n = Math.min(20, Math.max(3, ...steps.map((s) => s.iters)));
  await world.barrier();
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < n; k++) await world.barrier();
  say({ op: 'barrier', rank, iters: n, meanUs: Number(process.hrtime.bigint() - t0) / 1e3 / n });
}

let wrongSizes = 0;
for (const step of steps) {
  const count = step.size / 8;
  const allreduce = await ringAllreduce(world, count);
  const data = new Float64Array(count);
  fill(data, rank);
  for (let w = 0; w < step.warmup; w++) await allreduce.run(data);
  await world.barrier();
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < step.iters; k++) await allreduce.run(data);
  const meanUs = Number(process.hrtime.bigint() - t0) / 1e3 / step.iters;

  fill(data, rank);
  await allreduce.run(data);
  let wrong = 0;
  const expected = new Float64Array(count);
  for (let r = 0; r < ranks; r++) for (let i = 0; i < count; i++) expected[i]! += (r + i) % 1000;
  for (let i = 0; i < count; i++) if (data[i] !== expected[i]) wrong++;
  if (wrong) wrongSizes++;
  say({ op: 'allreduce', size: step.size, iters: step.iters, warmup: step.warmup, rank, ranks, hostname: world.hostname, meanUs, check: wrong ? `${wrong} WRONG` : 'exact' });
  allreduce.close();
}
const s = world.cache instanceof RegistrationCache ? world.cache.stats() : undefined;
if (s) say({ op: 'cache', rank, hits: s.hits, misses: s.misses, invalidations: s.invalidations, evictions: s.evictions });
await world.barrier();
world.close();
process.exitCode = wrongSizes ? 1 : 0;
