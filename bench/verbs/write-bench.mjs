// RDMA WRITE through the binding against perftest on the same device, same
// boot: bandwidth (ib_write_bw) and latency (ib_write_lat), 8 B to 1 MiB,
// pre-registered buffers. Prints a table and a JSON line with the ratios.
//
//   npm run vm -- 'node bench/verbs/write-bench.mjs'
//
// Environment: VERBS_BENCH_SIZES (comma list), VERBS_BENCH_BYTES (bytes per
// bandwidth run, default 128 MiB), VERBS_BENCH_MAX_ITERS (default 10000),
// VERBS_BENCH_LAT_ITERS (default 1000), VERBS_BENCH_JSON (file to write).
import { writeFileSync } from 'node:fs';
import { bindingAwaitLatency, bindingBw, bindingPingPong, setup } from './binding.mjs';
import { perftestBw, perftestLat } from './perftest.mjs';

const device = process.env.RDMA_REGCACHE_DEVICE ?? 'rxe0';
const host = process.env.RDMA_REGCACHE_IP;
if (!host) {
  console.error('RDMA_REGCACHE_IP is not set: run inside the test VM (npm run vm -- node bench/verbs/write-bench.mjs)');
  process.exit(2);
}
const sizes = (process.env.VERBS_BENCH_SIZES ?? '8,64,512,4096,65536,262144,1048576').split(',').map(Number);
const budget = Number(process.env.VERBS_BENCH_BYTES ?? 128 * 2 ** 20);
const maxIters = Number(process.env.VERBS_BENCH_MAX_ITERS ?? 10000);
const latIters = Number(process.env.VERBS_BENCH_LAT_ITERS ?? 1000);
const INLINE = 220; // perftest's default inline size for latency tests; used for both

const bwIters = (size) => Math.max(200, Math.min(maxIters, Math.floor(budget / size)));
const latItersFor = (size) => Math.max(50, Math.min(latIters, Math.floor((budget / 4) / size)));
const maxSize = Math.max(...sizes);
const bw = await setup({ device, host, maxSize });
const lat = await setup({ device, host, maxSize, inline: INLINE });

// Other guests may share the host: every measurement is repeated, interleaved
// (perftest, binding, perftest, binding, ...), and the medians are compared.
const repeat = Number(process.env.VERBS_BENCH_REPEAT ?? 3);
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

const rows = [];
for (const size of sizes) {
  const iters = bwIters(size);
  const li = latItersFor(size);
  const m = { pBw: [], prmBw: [], polBw: [], pLat: [], pLatTyp: [], pp: [], awaited: [] };
  for (let r = 0; r < repeat; r++) {
    m.pBw.push((await perftestBw({ device, host, size, iters })).bytesPerSec);
    m.prmBw.push((await bindingBw(bw, { size, iters, mode: 'promise' })).bytesPerSec);
    m.polBw.push((await bindingBw(bw, { size, iters, mode: 'poll' })).bytesPerSec);
    const pl = await perftestLat({ device, host, size, iters: li, inline: INLINE });
    m.pLat.push(pl.tAvgUs);
    m.pLatTyp.push(pl.tTypicalUs);
    m.pp.push(bindingPingPong(lat, { size, iters: li }).tAvgUs);
    m.awaited.push((await bindingAwaitLatency(bw, { size, iters: Math.min(li, 300) })).tAvgUs);
  }
  const row = {
    size,
    bwIters: iters,
    perftestMBps: median(m.pBw) / 1e6,
    bindingPromiseMBps: median(m.prmBw) / 1e6,
    bindingPollMBps: median(m.polBw) / 1e6,
    bwRatioPromise: median(m.prmBw) / median(m.pBw),
    bwRatioPoll: median(m.polBw) / median(m.pBw),
    latIters: li,
    perftestLatUs: median(m.pLat),
    perftestLatTypicalUs: median(m.pLatTyp),
    bindingPingPongUs: median(m.pp),
    latRatio: median(m.pp) / median(m.pLat),
    bindingAwaitedWriteUs: median(m.awaited),
    samples: m,
  };
  rows.push(row);
  console.error(`size ${size}: bw ratio ${row.bwRatioPromise.toFixed(2)} (promise) ${row.bwRatioPoll.toFixed(2)} (poll), latency ratio ${row.latRatio.toFixed(2)}`);
}
bw.ctx.close();
lat.ctx.close();

const f = (x, d = 1) => x.toFixed(d).padStart(9);
console.log('\nRDMA WRITE on', device, '(same boot) - bandwidth MB/s (1e6), latency us (one way, ping-pong / 2)');
console.log(
  '    size |  ib_w_bw | bind.prm | bind.pol | ratio prm | ratio pol || ib_w_lat | bind.pp | ratio | awaited write',
);
for (const r of rows)
  console.log(
    `${String(r.size).padStart(8)} |${f(r.perftestMBps)} |${f(r.bindingPromiseMBps)} |${f(r.bindingPollMBps)} |${f(r.bwRatioPromise, 2)}  |${f(r.bwRatioPoll, 2)}  ||${f(r.perftestLatUs, 2)} |${f(r.bindingPingPongUs, 2)} |${f(r.latRatio, 2)} |${f(r.bindingAwaitedWriteUs, 2)}`,
  );
const result = { device, kernel: process.env.RDMA_REGCACHE_KERNEL ?? null, repeat, inlineForLatency: INLINE, txDepth: 128, rows };
console.log(JSON.stringify(result));
if (process.env.VERBS_BENCH_JSON) writeFileSync(process.env.VERBS_BENCH_JSON, JSON.stringify(result, null, 2));
