// The buffer-reuse workload across ranks: each round allocates a fresh source
// buffer (large ones are mmap'd by malloc and unmapped when collected, so the
// next one often lands at the same address), writes it into the right-hand
// neighbour's exposed buffer and reads it back into another fresh buffer. A
// stale registration would send the NIC to the old pages: the read-back
// would differ. Run with --expose-gc. Prints one JSON line per rank.
import { World } from '../../dist/index.js';

const ROUNDS = Number(process.env.WORLD_REUSE_ROUNDS ?? 200);
const MAX = 256 * 1024;
const world = await World.init();
const { rank, size } = world;
const right = (rank + 1) % size;
const target = new Uint8Array(size * MAX);
const remotes = await world.exposeAll(target);
let seed = rank * 7919 + 1;
const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);

let mismatches = 0;
let bytes = 0;
for (let round = 0; round < ROUNDS; round++) {
  const len = 4096 + Math.floor(random() * (MAX - 4096));
  const src = new Uint8Array(len);
  const fill = (round * 17 + rank * 101) & 0xff;
  for (let i = 0; i < len; i += 997) src[i] = (fill + i) & 0xff;
  src[len - 1] = fill ^ 0x5a;
  await world.write(right, src, remotes[right], rank * MAX);
  const back = new Uint8Array(len);
  await world.read(right, back, remotes[right], rank * MAX);
  for (let i = 0; i < len; i += 997) if (back[i] !== src[i]) mismatches++;
  if (back[len - 1] !== src[len - 1]) mismatches++;
  bytes += len;
  if (round % 16 === 15) globalThis.gc?.();
}
await world.barrier();
const s = world.cache.stats();
console.log(JSON.stringify({ rank, rounds: ROUNDS, bytes, mismatches, hits: s.hits, misses: s.misses, invalidations: s.invalidations, staleAvoided: s.staleAvoided }));
world.close();
