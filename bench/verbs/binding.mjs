// WRITE bandwidth and latency through the binding, with pre-registered buffers
// and two connected RC queue pairs in this process over rdma_cm.
import { connect, listen, openDevice } from '../../dist/index.js';

/** Opens the device and connects a pair; buffers of `maxSize` bytes on each side. */
export async function setup({ device, host, maxSize, txDepth = 128, inline = 0 }) {
  const ctx = openDevice(device);
  const pd = ctx.allocPd();
  const cq = ctx.createCq(4 * txDepth + 64);
  const opts = { pd, sendCq: cq, maxSendWr: txDepth, maxRecvWr: 16, maxInlineData: inline };
  const listener = await listen({ host });
  const accepted = listener.accept(opts);
  const a = await connect({ ...opts, host, port: listener.port });
  const b = await accepted;
  listener.close();
  // SharedArrayBuffers so the latency loop can watch them with Atomics.load.
  // Each holds an outgoing half and an incoming half of maxSize bytes.
  const bufA = new Uint8Array(new SharedArrayBuffer(2 * maxSize));
  const bufB = new Uint8Array(new SharedArrayBuffer(2 * maxSize));
  const mrA = pd.registerMemory(bufA);
  const mrB = pd.registerMemory(bufB);
  return { ctx, cq, a, b, bufA, bufB, mrA, mrB, half: maxSize, inline: a.maxInlineData };
}

/**
 * Streams `iters` WRITEs of `size` bytes A -> B keeping `depth` in flight.
 * mode 'promise': completions arrive through libuv and each promise posts the
 * next write (what an application awaiting operations does).
 * mode 'poll': a synchronous loop posts and reaps with cq.poll() (busy poll).
 */
export async function bindingBw(s, { size, iters, depth = 128, mode }) {
  const local = s.mrA.sge(0, size);
  const remote = s.mrB.remote(0);
  const qp = s.a;
  const t0 = process.hrtime.bigint();
  if (mode === 'poll') {
    let posted = 0;
    while (posted < iters || qp.outstandingSends > 0) {
      while (posted < iters && qp.outstandingSends < depth) {
        qp.write(local, remote);
        posted++;
      }
      s.cq.poll(64);
    }
    await null; // let the resolved promises settle
  } else {
    await new Promise((resolve, reject) => {
      let posted = 0;
      let done = 0;
      const post = () => {
        posted++;
        qp.write(local, remote).then(() => {
          done++;
          if (posted < iters) post();
          else if (done === iters) resolve();
        }, reject);
      };
      for (let i = 0; i < Math.min(depth, iters); i++) post();
    });
  }
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  return { msgPerSec: iters / sec, bytesPerSec: (iters * size) / sec };
}

/**
 * Ping-pong like ib_write_lat: A writes to B, B sees the last byte change and
 * writes back, A sees it; one-way latency = round trip / 2. Both sides spin on
 * memory (Atomics.load) and reap send completions with cq.poll().
 */
export function bindingPingPong(s, { size, iters }) {
  const { a, b, bufA, bufB, mrA, mrB, cq, half } = s;
  const aOut = mrA.sge(0, size);
  const bOut = mrB.sge(0, size);
  const toB = mrB.remote(0); // B's incoming = its outgoing: it forwards what it got
  const toA = mrA.remote(half); // A's incoming half
  const last = size - 1;
  const warm = Math.min(50, iters);
  let t0 = 0n;
  for (let i = 0; i < iters + warm; i++) {
    if (i === warm) t0 = process.hrtime.bigint();
    const v = (i % 255) + 1; // differs from the previous round's value
    Atomics.store(bufA, last, v);
    a.write(aOut, toB);
    while (Atomics.load(bufB, last) !== v) cq.poll(8);
    b.write(bOut, toA);
    while (Atomics.load(bufA, half + last) !== v) cq.poll(8);
    while (a.outstandingSends + b.outstandingSends > 0) cq.poll(8);
  }
  const ns = Number(process.hrtime.bigint() - t0);
  return { tAvgUs: ns / iters / 2 / 1000 };
}

/** Latency of one awaited WRITE (post, completion through libuv, promise). */
export async function bindingAwaitLatency(s, { size, iters }) {
  const local = s.mrA.sge(0, size);
  const remote = s.mrB.remote(0);
  for (let i = 0; i < 20; i++) await s.a.write(local, remote);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) await s.a.write(local, remote);
  return { tAvgUs: Number(process.hrtime.bigint() - t0) / iters / 1000 };
}
