// The last rank kills itself (SIGKILL) after the set-up; every other rank
// keeps writing to it and reports how long after the kill its operations
// started to fail, and with what error. Prints one JSON line per survivor.
import { World } from '../../dist/index.js';

const world = await World.init();
const { rank, size } = world;
const victim = size - 1;
const target = new Uint8Array(4096);
const remotes = await world.exposeAll(target);
await world.barrier();
if (rank === victim) {
  await new Promise((r) => setTimeout(r, 500));
  process.kill(process.pid, 'SIGKILL');
}
const started = Date.now();
const src = new Uint8Array(4096);
let writes = 0;
let error;
while (Date.now() - started < 60_000) {
  try {
    // Several in flight, so some are pending when the peer dies.
    await Promise.all([0, 1, 2, 3].map(() => world.write(victim, src, remotes[victim])));
    writes += 4;
  } catch (err) {
    error = err;
    break;
  }
  await new Promise((r) => setTimeout(r, 5));
}
const failedAfterMs = Date.now() - started;
let later;
try {
  await world.write(victim, src, remotes[victim]);
  later = 'resolved';
} catch (err) {
  later = err.code;
}
console.log(JSON.stringify({ rank, writes, failedAfterMs, code: error?.code, message: error?.message, later }));
world.close();
process.exit(error ? 0 : 1);
