// PGAS put/get across the ranks of a job (the README's multi-host quick start):
//   mpirun --host node1:2,node2:2 -np 4 node --import tsx bench/examples/world-pgas.ts
//   srun -N2 -n4 --mpi=pmix node --import tsx bench/examples/world-pgas.ts
import { World } from 'rdma-regcache';

const world = await World.init();
const { rank, size } = world;

// Every rank's symmetric heap: one slot of 4 doubles per rank.
const heap = new Float64Array(4 * size);
const heaps = await world.exposeAll(heap); // collective: heaps[p] describes rank p's heap

// put: write my 4 values into slot `rank` of the next rank's heap (offsets in bytes).
const right = (rank + 1) % size;
const mine = Float64Array.from({ length: 4 }, (_, i) => rank * 10 + i);
await world.write(right, mine, heaps[right]!, rank * 4 * 8);
await world.barrier(); // every put has landed

const left = (rank - 1 + size) % size;
const got = heap.subarray(left * 4, left * 4 + 4);
const putOk = got.every((v, i) => v === left * 10 + i);

// get: read back what I put into the next rank's heap.
const check = new Float64Array(4);
await world.read(right, check, heaps[right]!, rank * 4 * 8);
const getOk = check.every((v, i) => v === mine[i]);

console.log(`rank ${rank}/${size} on ${world.hostname}: put from rank ${left} ${putOk ? 'ok' : 'WRONG'} [${[...got].join(',')}], get ${getOk ? 'ok' : 'WRONG'}`);
await world.barrier();
world.close();
process.exitCode = putOk && getOk ? 0 : 1;
