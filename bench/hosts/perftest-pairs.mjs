// How often perftest's own client dies across the two test-VM hosts: runs N
// ib_write_lat pairs (8 B, server on node2) the way the bench does and prints
// every run that gave no result, with perftest's error lines. Two-host VM only:
//   npm run vm -- --hosts 2 'node bench/hosts/perftest-pairs.mjs 20'
// (bench/verbs/perftest.mjs, "perftest 4.5-0.17", says what it finds).
import { perftestLat } from '../verbs/perftest.mjs';

const pairs = Number(process.argv[2] ?? 20);
if (!Number.isInteger(pairs) || pairs < 1) throw new RangeError(`pairs must be a positive integer, got ${process.argv[2]}`);
const device = process.env.RDMA_REGCACHE_DEVICE ?? 'rxe0';
let clients = 0;
let crashed = 0;
const record = {
  ran() {},
  failed(why) {
    if (why.startsWith('client killed')) crashed++;
    console.log(`  no result: ${why}`);
  },
};
for (let i = 0; i < pairs; i++) {
  const t0 = Date.now();
  const r = await perftestLat({ device, host: '192.0.2.2', size: 8, iters: 200, record, via: ['scripts/vm/vm-rsh', 'node2'] });
  clients++;
  console.log(`pair ${i + 1}/${pairs}: t_avg ${r.tAvgUs} us, ${Date.now() - t0} ms`);
}
console.log(`${pairs} pairs: ${clients} clients got through, ${crashed} killed by a signal`);
