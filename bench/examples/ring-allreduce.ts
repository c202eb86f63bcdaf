// Ring allreduce (sum) of Float64Arrays over RDMA WRITE, between the ranks of
// a World. Reduce-scatter then allgather, n-1 steps each: at every step a
// rank WRITEs one chunk into its right neighbour's receive area and SENDs it
// an 8-byte note; the note's arrival (RC ordering: a SEND completes after the
// WRITEs posted before it on the same connection) says the chunk is there.
// Each step's send buffer is a new Float64Array, as an application would
// allocate it, so reuse of freed memory goes through the registration cache.
//
//   mpirun --host node1:2,node2:2 -np 4 node --import tsx bench/examples/ring-allreduce.ts [doubles[,doubles...]] [iterations]
import { pathToFileURL } from 'node:url';
import { RegistrationCache, World, type RemoteBuffer } from 'rdma-regcache';

/** State kept between calls for one vector length: the exposed receive areas. */
export interface RingAllreduce {
  /** Sums `data` element-wise over every rank, in place. */
  run(data: Float64Array): Promise<void>;
  close(): void;
}

export async function ringAllreduce(world: World, count: number): Promise<RingAllreduce> {
  const n = world.size;
  const rank = world.rank;
  const right = (rank + 1) % n;
  const left = (rank - 1 + n) % n;
  const chunk = Math.ceil(count / n);
  const start = (c: number) => Math.min(c * chunk, count);
  const end = (c: number) => Math.min((c + 1) * chunk, count);
  // Receive area: [round parity][phase][chunk], so a chunk never lands on one
  // the receiver may still be reading.
  const slots = new Float64Array(2 * 2 * n * chunk);
  const remotes: RemoteBuffer[] = await world.exposeAll(slots);
  const slot = (parity: number, phase: number, c: number) => ((parity * 2 + phase) * n + c) * chunk;
  const toRight = world.endpoint(right);
  const fromLeft = world.endpoint(left);
  const notes = new BigUint64Array(2 * n); // where notes from the left arrive
  const note = new BigUint64Array(1);
  let round = 0;

  async function run(data: Float64Array): Promise<void> {
    if (data.length !== count) throw new RangeError(`this allreduce was set up for ${count} doubles, got ${data.length}`);
    if (n === 1) return;
    const parity = round++ & 1;
    const steps = 2 * (n - 1);
    // Every note of this round, posted before anyone can send one.
    const arrivals = Array.from({ length: steps }, (_, k) => fromLeft.recv(notes.subarray(k, k + 1)));
    await world.barrier();
    const sends: Promise<void>[] = [];
    const post = (phase: number, c: number, k: number) => {
      const len = end(c) - start(c);
      if (len > 0) {
        const out = new Float64Array(len); // a fresh buffer every step
        out.set(data.subarray(start(c), end(c)));
        sends.push(toRight.write(out, remotes[right]!, slot(parity, phase, c) * 8));
      }
      note[0] = BigInt(k);
      sends.push(toRight.send(note));
    };
    // Reduce-scatter: after step s we hold the sum of s+2 ranks for chunk rank-s-1.
    for (let s = 0; s < n - 1; s++) {
      post(0, (rank - s + n) % n, s);
      await arrivals[s];
      const c = (rank - s - 1 + n) % n;
      const at = slot(parity, 0, c);
      for (let i = start(c), j = at; i < end(c); i++, j++) data[i]! += slots[j]!;
    }
    // Allgather: pass the finished chunks around.
    for (let s = 0; s < n - 1; s++) {
      post(1, (rank + 1 - s + n) % n, n - 1 + s);
      await arrivals[n - 1 + s];
      const c = (rank - s + n) % n;
      data.set(slots.subarray(slot(parity, 1, c), slot(parity, 1, c) + end(c) - start(c)), start(c));
    }
    await Promise.all(sends);
  }

  return { run, close: () => world.unexpose(slots) };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Arguments: doubles per vector (a comma-separated list runs each), iterations.
  const counts = (process.argv[2] ?? String(1 << 16)).split(',').map(Number);
  const iterations = Number(process.argv[3] ?? 5);
  const world = await World.init();
  let failed = false;
  for (const count of counts) {
    const allreduce = await ringAllreduce(world, count);
    let wrong = 0;
    for (let it = 0; it < iterations; it++) {
      // Integers, so the sum is exact in any order: element i of rank r is r*count + i + it.
      const data = Float64Array.from({ length: count }, (_, i) => world.rank * count + i + it);
      await allreduce.run(data);
      const n = world.size;
      for (let i = 0; i < count; i++) {
        const expected = (count * n * (n - 1)) / 2 + n * (i + it);
        if (data[i] !== expected) wrong++;
      }
    }
    const s = world.cache instanceof RegistrationCache ? world.cache.stats() : undefined;
    console.log(
      `rank ${world.rank}/${world.size}: allreduce of ${count} doubles x ${iterations}: ${wrong === 0 ? 'exact' : `${wrong} WRONG`}` +
        (s ? ` (cache hits ${s.hits}, misses ${s.misses}, invalidations ${s.invalidations})` : ''),
    );
    allreduce.close();
    failed ||= wrong > 0;
  }
  await world.barrier();
  world.close();
  process.exitCode = failed ? 1 : 0;
}
