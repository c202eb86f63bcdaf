// Every rank writes a distinct pattern into every rank's exposed buffer (its
// own slot there), then reads each back; every byte is checked on both sides.
// Prints one JSON line per rank.
import { World } from '../../dist/index.js';

const SLOT = Number(process.env.WORLD_SLOT_BYTES ?? 8192);
const world = await World.init();
const { rank, size } = world;
const pattern = (src, dst, i) => (src * 31 + dst * 7 + i * 13 + (i >> 8)) & 0xff;

const target = new Uint8Array(size * SLOT);
const remotes = await world.exposeAll(target);
await Promise.all(
  remotes.map((remote, p) => {
    const out = Uint8Array.from({ length: SLOT }, (_, i) => pattern(rank, p, i));
    return world.write(p, out, remote, rank * SLOT);
  }),
);
await world.barrier();

let received = 0;
let mismatches = 0;
for (let src = 0; src < size; src++) {
  for (let i = 0; i < SLOT; i++) if (target[src * SLOT + i] !== pattern(src, rank, i)) mismatches++;
  received++;
}
let readBack = 0;
for (let p = 0; p < size; p++) {
  const back = new Uint8Array(SLOT);
  await world.read(p, back, remotes[p], rank * SLOT);
  for (let i = 0; i < SLOT; i++) if (back[i] !== pattern(rank, p, i)) mismatches++;
  readBack++;
}
await world.barrier();
console.log(JSON.stringify({ rank, size, localRank: world.localRank, hostname: world.hostname, received, readBack, mismatches }));
world.close();
