// Ping-pong over RDMA WRITE between two processes, the way ib_write_lat does
// it: each side spins on the last byte of its incoming buffer, then writes.
//
// As a script it is the passive peer:
//   node bench/verbs/pingpong.mjs <host> <device> <size> <iters> <inline>
// prints "port <n>" once listening, serves one connection and exits.
import { connect, listen, openDevice } from '../../dist/index.js';

/** Buffer, region and connection of one side. The buffer has an out half and an in half of `size` bytes. */
async function side({ device, host, size, inline, port }) {
  const ctx = openDevice(device);
  const pd = ctx.allocPd();
  const cq = ctx.createCq(64);
  const buf = new Uint8Array(new SharedArrayBuffer(2 * size));
  const mr = pd.registerMemory(buf);
  const mine = Buffer.alloc(12);
  mine.writeBigUInt64LE(mr.address + BigInt(size));
  mine.writeUInt32LE(mr.rkey, 8);
  const opts = { pd, sendCq: cq, maxSendWr: 16, maxRecvWr: 4, maxInlineData: inline };
  let qp;
  let peer;
  if (port === undefined) {
    const listener = await listen({ host });
    console.log(`port ${listener.port}`);
    const req = await listener.nextRequest();
    peer = req.privateData;
    qp = await req.accept({ ...opts, privateData: mine });
    listener.close();
  } else {
    qp = await connect({ ...opts, host, port, privateData: mine });
    peer = qp.peerPrivateData;
  }
  const remote = { address: peer.readBigUInt64LE(0), rkey: peer.readUInt32LE(8) };
  return { ctx, cq, qp, buf, out: mr.sge(0, size), remote, inAt: size, last: size - 1 };
}

/**
 * Runs the loop. On the active side returns the one-way latency in us (round
 * trip / 2): the average and the median ('typical', as perftest reports it).
 */
function loop(s, { iters, active }) {
  const { qp, cq, buf, out, remote, inAt, last } = s;
  const warm = Math.min(50, iters);
  const rtt = new Float64Array(iters);
  let t = process.hrtime.bigint();
  for (let i = 0; i < iters + warm; i++) {
    const v = (i % 255) + 1; // differs from the previous round's value
    if (active) {
      Atomics.store(buf, last, v);
      qp.write(out, remote);
      while (Atomics.load(buf, inAt + last) !== v);
      const now = process.hrtime.bigint();
      if (i >= warm) rtt[i - warm] = Number(now - t);
    } else {
      while (Atomics.load(buf, inAt + last) !== v);
      Atomics.store(buf, last, v);
      qp.write(out, remote);
    }
    // Reap send completions without waiting for them (perftest does the same);
    // wait only if the send queue is close to full.
    cq.poll(8);
    while (qp.outstandingSends >= qp.maxSendWr - 1) cq.poll(8);
    if (active) t = process.hrtime.bigint();
  }
  while (qp.outstandingSends > 0) cq.poll(8);
  const sorted = rtt.slice().sort();
  const sum = rtt.reduce((a, b) => a + b, 0);
  return { avgUs: sum / iters / 2 / 1000, typicalUs: sorted[Math.floor(iters / 2)] / 2 / 1000 };
}

/** Active side: connects to a passive peer on `port`; returns { avgUs, typicalUs } one way. */
export async function pingPongClient({ device, host, port, size, iters, inline }) {
  const s = await side({ device, host, size, inline, port });
  const result = loop(s, { iters, active: true });
  await s.qp.disconnect();
  s.ctx.close();
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [host, device, size, iters, inline] = process.argv.slice(2);
  const s = await side({ device, host, size: Number(size), inline: Number(inline) });
  loop(s, { iters: Number(iters), active: false });
  await Promise.race([s.qp.disconnected, new Promise((r) => setTimeout(r, 10_000))]);
  s.ctx.close();
}
