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
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bindingAwaitLatency, bindingBw, setup } from './binding.mjs';
import { pingPongClient } from './pingpong.mjs';
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

// The binding's ping-pong runs in two processes, like ib_write_lat: a passive
// peer (child) and the active side here.
async function bindingPingPong(size, iters) {
  const script = fileURLToPath(new URL('./pingpong.mjs', import.meta.url));
  const child = spawn(process.execPath, [script, host, device, String(size), String(iters), String(INLINE)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`ping-pong peer exited with ${code}`)));
  });
  const latency = await pingPongClient({ device, host, port, size, iters, inline: INLINE });
  await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
  return latency;
}

// Other guests may share the host: every measurement is repeated, interleaved
// (perftest, binding, perftest, binding, ...), and the medians are compared.
const repeat = Number(process.env.VERBS_BENCH_REPEAT ?? 3);
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

const rows = [];
for (const size of sizes) {
  const iters = bwIters(size);
  const li = latItersFor(size);
  const m = { pBw1: [], pBw: [], prmBw: [], polBw: [], pLat: [], pLatTyp: [], pp: [], ppTyp: [], awaited: [] };
  for (let r = 0; r < repeat; r++) {
    m.pBw.push((await perftestBw({ device, host, size, iters })).bytesPerSec);
    m.pBw1.push((await perftestBw({ device, host, size, iters, cqMod: 1 })).bytesPerSec);
    m.prmBw.push((await bindingBw(bw, { size, iters, mode: 'promise' })).bytesPerSec);
    m.polBw.push((await bindingBw(bw, { size, iters, mode: 'poll' })).bytesPerSec);
    const pl = await perftestLat({ device, host, size, iters: li, inline: INLINE });
    m.pLat.push(pl.tAvgUs);
    m.pLatTyp.push(pl.tTypicalUs);
    const pp = await bindingPingPong(size, li);
    m.pp.push(pp.avgUs);
    m.ppTyp.push(pp.typicalUs);
    m.awaited.push((await bindingAwaitLatency(bw, { size, iters: Math.min(li, 300) })).tAvgUs);
  }
  const row = {
    size,
    bwIters: iters,
    perftestMBps: median(m.pBw) / 1e6,
    perftestSignalAllMBps: median(m.pBw1) / 1e6,
    bwRatioPollVsSignalAll: median(m.polBw) / median(m.pBw1),
    bindingPromiseMBps: median(m.prmBw) / 1e6,
    bindingPollMBps: median(m.polBw) / 1e6,
    bwRatioPromise: median(m.prmBw) / median(m.pBw),
    bwRatioPoll: median(m.polBw) / median(m.pBw),
    latIters: li,
    perftestLatUs: median(m.pLat),
    perftestLatTypicalUs: median(m.pLatTyp),
    bindingPingPongUs: median(m.pp),
    bindingPingPongTypicalUs: median(m.ppTyp),
    latRatio: median(m.pp) / median(m.pLat),
    latRatioTypical: median(m.ppTyp) / median(m.pLatTyp),
    bindingAwaitedWriteUs: median(m.awaited),
    samples: m,
  };
  rows.push(row);
  console.error(`size ${size}: bw ratio ${row.bwRatioPromise.toFixed(2)} (promise) ${row.bwRatioPoll.toFixed(2)} (poll), latency ratio ${row.latRatio.toFixed(2)} (avg) ${row.latRatioTypical.toFixed(2)} (typical)`);
}
bw.ctx.close();

const f = (x, d = 1) => x.toFixed(d).padStart(9);
console.log(`\nRDMA WRITE on ${device}, same boot, medians of ${repeat} interleaved runs`);
console.log('bandwidth MB/s (1e6 B/s); binding: prm = awaiting promises (libuv), pol = busy cq.poll()');
console.log('ib_w_bw: perftest defaults (a completion every 100 writes); -Q 1: a completion per write, as the binding does');
console.log('    size |  ib_w_bw | ib_w_bw -Q1 | bind.prm | bind.pol | ratio prm | ratio pol | pol/-Q1');
for (const r of rows)
  console.log(
    `${String(r.size).padStart(8)} |${f(r.perftestMBps)} |${f(r.perftestSignalAllMBps, 1).padStart(12)} |${f(r.bindingPromiseMBps)} |${f(r.bindingPollMBps)} |${f(r.bwRatioPromise, 2)}  |${f(r.bwRatioPoll, 2)}  |${f(r.bwRatioPollVsSignalAll, 2)}`,
  );
console.log('latency us one way (ping-pong round trip / 2, two processes, inline <= 220 B), avg and typical (median)');
console.log('    size | ib_w_lat avg      typ | binding avg      typ | ratio avg | ratio typ || awaited write (1 process, libuv)');
for (const r of rows)
  console.log(
    `${String(r.size).padStart(8)} |${f(r.perftestLatUs, 1)}${f(r.perftestLatTypicalUs, 1)} |${f(r.bindingPingPongUs, 1)}${f(r.bindingPingPongTypicalUs, 1)} |${f(r.latRatio, 2)} |${f(r.latRatioTypical, 2)} ||${f(r.bindingAwaitedWriteUs, 1)}`,
  );
const result = { device, kernel: process.env.RDMA_REGCACHE_KERNEL ?? null, repeat, inlineForLatency: INLINE, txDepth: 128, rows };
console.log(JSON.stringify(result));
if (process.env.VERBS_BENCH_JSON) writeFileSync(process.env.VERBS_BENCH_JSON, JSON.stringify(result, null, 2));
