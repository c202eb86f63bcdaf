// Small messages through Endpoint against perftest, in one VM boot (issue 15):
//
//   npm run vm -- 'node bench/verbs/small-messages.mjs'
//
// - message rate of RDMA WRITE, 8 B to 4 KiB, 128 in flight: ib_write_bw -s <size>
//   (-t 128, its default cq moderation) vs Endpoint in 'event' and 'poll' mode
//   (both endpoints in this process, like ib_write_bw's two processes on one rxe);
// - 8 B ping-pong round trip between two processes: ib_write_lat (round trip =
//   2 x its t_avg, perftest's own cycle-based timing) vs Endpoint ping-pong
//   (each side awaits its write, then spins on the last byte of its inbox);
// - one awaited Endpoint write (post to completion), reported separately.
//
// Measurements are interleaved per repetition; medians are reported, ratios per
// repetition. Knobs: SMALL_SIZES (8,64,512,4096), SMALL_REPS (3), SMALL_ITERS
// (20000 writes per rate run), SMALL_PP_ITERS (2000 round trips). Prints a table
// and one JSON line.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Endpoint } from '../../dist/index.js';
import { perftestBw, perftestLat } from './perftest.mjs';

const host = process.env.RDMA_REGCACHE_IP ?? '192.0.2.1';
const device = process.env.RDMA_REGCACHE_DEVICE ?? 'rxe0';
const self = fileURLToPath(import.meta.url);

async function pair(progress, queueDepth = 128) {
  const listener = await Endpoint.listen({ device, host, port: 0, queueDepth, progress });
  const [server, client] = await Promise.all([listener.accept(), Endpoint.connect({ device, host, port: listener.port, queueDepth, progress })]);
  listener.close();
  const remote = server.expose(Buffer.alloc(1 << 20));
  return { server, client, remote, close: () => (client.close(), server.close()) };
}

async function rate(p, size, iters, depth = 128) {
  const src = new Uint8Array(size).fill(7);
  for (let i = 0; i < 200; i++) await p.client.write(src, p.remote);
  let left = iters;
  const pump = async () => {
    while (left > 0) {
      left--;
      await p.client.write(src, p.remote);
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: depth }, pump));
  return iters / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function awaitedWrite(p, iters) {
  const src = new Uint8Array(8).fill(1);
  for (let i = 0; i < 50; i++) await p.client.write(src, p.remote);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) await p.client.write(src, p.remote);
  return Number(process.hrtime.bigint() - t0) / 1e3 / iters;
}

// --- ping-pong through Endpoint, two processes ---------------------------------

// One side: an 8 B SharedArrayBuffer inbox exposed to the peer, the remotes
// swapped by SEND/RECV. Returns the loop's round trips (ns) on the active side.
async function pingPongSide({ port, progress, size, iters }) {
  let ep;
  if (port === undefined) {
    const listener = await Endpoint.listen({ device, host, port: 0, progress });
    console.log(`port ${listener.port}`);
    ep = await listener.accept();
    listener.close();
  } else {
    ep = await Endpoint.connect({ device, host, port, progress });
  }
  const inbox = new Uint8Array(new SharedArrayBuffer(size));
  const out = new Uint8Array(size);
  const msg = Buffer.alloc(256);
  const got = ep.recv(msg);
  const mine = Buffer.from(JSON.stringify(ep.expose(inbox)));
  if (port !== undefined) await new Promise((r) => setTimeout(r, 200)); // the passive side posts its RECV first
  await ep.send(mine);
  const n = await got;
  const remote = JSON.parse(msg.subarray(0, n).toString());
  const active = port !== undefined;
  const warm = Math.min(100, iters);
  const rtt = new Float64Array(iters);
  const last = size - 1;
  let t = process.hrtime.bigint();
  for (let i = 0; i < iters + warm; i++) {
    const v = (i % 255) + 1;
    if (!active) while (Atomics.load(inbox, last) !== v);
    out[last] = v;
    await ep.write(out, remote);
    if (active) {
      while (Atomics.load(inbox, last) !== v);
      const now = process.hrtime.bigint();
      if (i >= warm) rtt[i - warm] = Number(now - t);
      t = now;
    }
  }
  const sorted = rtt.slice().sort();
  await new Promise((r) => setTimeout(r, 100));
  ep.close();
  return { avgUs: rtt.reduce((a, b) => a + b, 0) / iters / 1000, medianUs: sorted[iters >> 1] / 1000 };
}

async function pingPong(progress, size, iters) {
  const child = spawn(process.execPath, [self, 'peer', progress, String(size), String(iters)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`ping-pong peer exited ${code}`)));
  });
  const r = await pingPongSide({ port, progress, size, iters });
  await new Promise((res) => (child.exitCode !== null ? res() : child.on('exit', res)));
  return r;
}

// --- main ------------------------------------------------------------------------

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[s.length >> 1] : NaN;
};

async function main() {
  const sizes = (process.env.SMALL_SIZES ?? '8,64,512,4096').split(',').map(Number);
  const reps = Number(process.env.SMALL_REPS ?? 3);
  const iters = Number(process.env.SMALL_ITERS ?? 20000);
  const ppIters = Number(process.env.SMALL_PP_ITERS ?? 2000);
  const pairs = { event: await pair('event'), poll: await pair('poll') };
  const rows = [];
  for (const size of sizes) {
    const m = { perftest: [], event: [], poll: [] };
    for (let r = 0; r < reps; r++) {
      const pb = await perftestBw({ device, host, size, iters, txDepth: 128 }).catch((e) => (console.error(String(e).slice(0, 300)), { msgPerSec: NaN }));
      m.perftest.push(pb.msgPerSec);
      m.event.push(await rate(pairs.event, size, iters));
      m.poll.push(await rate(pairs.poll, size, iters));
    }
    const row = {
      size,
      perftestMsgPerSec: median(m.perftest),
      eventMsgPerSec: median(m.event),
      pollMsgPerSec: median(m.poll),
      eventRatio: median(m.event.map((e, i) => e / m.perftest[i])),
      pollRatio: median(m.poll.map((e, i) => e / m.perftest[i])),
      inlineMax: pairs.poll.client.qp.maxInlineData,
    };
    rows.push(row);
    console.log(`write ${size} B x128 in flight: ib_write_bw ${(row.perftestMsgPerSec / 1e3).toFixed(1)} kmsg/s, ` +
      `Endpoint event ${(row.eventMsgPerSec / 1e3).toFixed(1)} (${row.eventRatio.toFixed(2)}x), poll ${(row.pollMsgPerSec / 1e3).toFixed(1)} (${row.pollRatio.toFixed(2)}x)`);
  }
  const stats = { event: pairs.event.client.stats(), poll: pairs.poll.client.stats() };
  const lat = { perftestRtt: [], pollRtt: [], eventRtt: [], pollWrite: [], eventWrite: [] };
  for (let r = 0; r < reps; r++) {
    const pl = await perftestLat({ device, host, size: 8, iters: ppIters }).catch((e) => (console.error(String(e).slice(0, 300)), { tAvgUs: NaN }));
    lat.perftestRtt.push(2 * pl.tAvgUs);
    lat.pollRtt.push((await pingPong('poll', 8, ppIters)).avgUs);
    lat.eventRtt.push((await pingPong('event', 8, ppIters)).avgUs);
    lat.pollWrite.push(await awaitedWrite(pairs.poll, ppIters));
    lat.eventWrite.push(await awaitedWrite(pairs.event, ppIters));
  }
  pairs.event.close();
  pairs.poll.close();
  const latency = {
    perftestRttUs: median(lat.perftestRtt),
    pollRttUs: median(lat.pollRtt),
    eventRttUs: median(lat.eventRtt),
    pollRatio: median(lat.pollRtt.map((x, i) => x / lat.perftestRtt[i])),
    eventRatio: median(lat.eventRtt.map((x, i) => x / lat.perftestRtt[i])),
    awaitedWritePollUs: median(lat.pollWrite),
    awaitedWriteEventUs: median(lat.eventWrite),
  };
  console.log(`8 B ping-pong round trip: ib_write_lat ${latency.perftestRttUs.toFixed(1)} us (2 x t_avg), ` +
    `Endpoint poll ${latency.pollRttUs.toFixed(1)} us (${latency.pollRatio.toFixed(2)}x), event ${latency.eventRttUs.toFixed(1)} us (${latency.eventRatio.toFixed(2)}x)`);
  console.log(`8 B awaited Endpoint write (post to completion): poll ${latency.awaitedWritePollUs.toFixed(1)} us, event ${latency.awaitedWriteEventUs.toFixed(1)} us`);
  console.log(JSON.stringify({ device, kernel: process.env.RDMA_REGCACHE_KERNEL ?? null, reps, iters, ppIters, rows, latency, stats, raw: lat }));
}

if (process.argv[2] === 'peer') {
  const [, , , progress, size, iters] = process.argv;
  await pingPongSide({ progress, size: Number(size), iters: Number(iters) });
} else {
  await main();
}
