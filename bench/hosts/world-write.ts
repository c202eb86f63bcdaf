/**
 * world.write across hosts, one rank per host, steered step by step from
 * mpirun's stdin so the caller (bench/hosts/write-runs.ts) can interleave
 * every step with perftest between the same hosts:
 *
 *   mpirun --host node1:1,node2:1 -np 2 node --import tsx bench/hosts/world-write.ts MAX_BYTES
 *
 * Rank 1 exposes MAX_BYTES and waits in a barrier until the end; rank 0 (its
 * stdin is mpirun's) reads one command per line and answers each with one
 * JSON line on stdout:
 *
 *   bw SIZE ITERS   -> {"op":"bw","size":..,"iters":..,"bytesPerSec":..,"msgPerSec":..}
 *                      (ITERS writes of SIZE bytes to rank 1, 128 in flight, registration pre-warmed)
 *   lat SIZE ITERS  -> {"op":"lat","size":..,"iters":..,"us":..}  (mean of ITERS awaited writes)
 *   end             -> both ranks leave (EOF on stdin does the same)
 *
 * Each rank prints {"op":"rank","rank":..,"hostname":..} once the world is up,
 * rank 0 then {"op":"ready"}. An error is a JSON line
 * {"op":"error","message":..} and exit status 1.
 */
import { createInterface } from 'node:readline';
import { World } from 'rdma-regcache';

const maxBytes = Number(process.argv[2]);
if (!Number.isInteger(maxBytes) || maxBytes < 1) {
  console.error('usage: mpirun -np 2 node --import tsx bench/hosts/world-write.ts MAX_BYTES');
  process.exit(2);
}
const DEPTH = 128;
const world = await World.init({ queueDepth: DEPTH });
if (world.size !== 2) {
  console.error(`world-write: needs exactly 2 ranks, got ${world.size}`);
  world.close();
  process.exit(2);
}
const target = new Uint8Array(maxBytes);
const remotes = await world.exposeAll(target);
const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
say({ op: 'rank', rank: world.rank, hostname: world.hostname });

if (world.rank === 1) {
  await world.barrier();
  world.close();
  process.exit(0);
}

const remote = remotes[1]!;
const sources = new Map<number, Uint8Array>();
const source = (size: number) => {
  let s = sources.get(size);
  if (!s) sources.set(size, (s = new Uint8Array(size).fill(7)));
  return s;
};

async function bandwidth(size: number, iters: number) {
  const src = source(size);
  await world.write(1, src, remote); // pre-warm: cached from here on
  let left = iters;
  const pump = async () => {
    while (left > 0) {
      left--;
      await world.write(1, src, remote);
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Math.min(DEPTH, iters) }, pump));
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  return { bytesPerSec: (iters * size) / sec, msgPerSec: iters / sec };
}

async function latency(size: number, iters: number) {
  const src = source(size);
  for (let i = 0; i < Math.min(20, iters); i++) await world.write(1, src, remote);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) await world.write(1, src, remote);
  return Number(process.hrtime.bigint() - t0) / 1e3 / iters;
}

say({ op: 'ready', queueDepth: DEPTH });
let status = 0;
try {
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    const [op, a, b] = line.trim().split(/\s+/);
    if (!op) continue;
    if (op === 'end') break;
    const size = Number(a);
    const iters = Number(b);
    if (!Number.isInteger(size) || size < 1 || size > maxBytes || !Number.isInteger(iters) || iters < 1)
      throw new RangeError(`bad command '${line}' (sizes 1..${maxBytes}, iterations >= 1)`);
    if (op === 'bw') say({ op, size, iters, ...(await bandwidth(size, iters)) });
    else if (op === 'lat') say({ op, size, iters, us: await latency(size, iters) });
    else throw new Error(`unknown command '${op}'`);
  }
} catch (err) {
  say({ op: 'error', message: (err as Error).message });
  status = 1;
}
await world.barrier();
world.close();
process.exit(status);
