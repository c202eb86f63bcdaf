// WRITE bandwidth and latency through the binding, with pre-registered buffers
// and two connected RC queue pairs in this process over rdma_cm.
import { connect, listen, openDevice } from '../../dist/index.js';

/** Opens the device and connects a pair; buffers of `maxSize` bytes on each side. */
export async function setup({ device, host, maxSize, txDepth = 128 }) {
  const ctx = openDevice(device);
  const pd = ctx.allocPd();
  const cq = ctx.createCq(4 * txDepth + 64);
  const opts = { pd, sendCq: cq, maxSendWr: txDepth, maxRecvWr: 16 };
  const listener = await listen({ host });
  const accepted = listener.accept(opts);
  const a = await connect({ ...opts, host, port: listener.port });
  const b = await accepted;
  listener.close();
  const bufA = new Uint8Array(maxSize);
  const bufB = new Uint8Array(maxSize);
  const mrA = pd.registerMemory(bufA);
  const mrB = pd.registerMemory(bufB);
  return { ctx, cq, a, b, bufA, bufB, mrA, mrB };
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

/** Latency of one awaited WRITE (post, completion through libuv, promise). */
export async function bindingAwaitLatency(s, { size, iters }) {
  const local = s.mrA.sge(0, size);
  const remote = s.mrB.remote(0);
  for (let i = 0; i < 20; i++) await s.a.write(local, remote);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) await s.a.write(local, remote);
  return { tAvgUs: Number(process.hrtime.bigint() - t0) / iters / 1000 };
}
