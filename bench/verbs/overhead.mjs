// Where the per-operation time of small WRITEs goes, measured piece by piece:
//   npm run vm -- 'node bench/verbs/overhead.mjs'   (or on a host with a device)
import { addressOf } from '../../dist/index.js';
import { setup } from './binding.mjs';

const device = process.env.RDMA_REGCACHE_DEVICE ?? 'rxe0';
const host = process.env.RDMA_REGCACHE_IP;
const N = Number(process.env.VERBS_OVERHEAD_N ?? 20000);
const ns = (t0, n) => Number(process.hrtime.bigint() - t0) / n;
const buf = Buffer.alloc(64);

let t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) addressOf(buf);
console.log(`N-API call (addressOf):          ${ns(t0, N).toFixed(0)} ns`);

t0 = process.hrtime.bigint();
const m = new Map();
for (let i = 0; i < N; i++) {
  let r;
  new Promise((res) => (r = res));
  m.set(i, r);
  m.get(i)();
  m.delete(i);
}
console.log(`promise + Map set/get/delete:    ${ns(t0, N).toFixed(0)} ns`);

const s = await setup({ device, host, maxSize: 4096 });
const local = s.mrA.sge(0, 8);
const remote = s.mrB.remote(0);
t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) s.cq.poll(8);
console.log(`cq.poll() on an empty CQ:        ${ns(t0, N).toFixed(0)} ns`);

let post = 0n;
let reap = 0n;
let ops = 0;
while (ops < N) {
  let t = process.hrtime.bigint();
  for (let i = 0; i < 100; i++) s.a.write(local, remote);
  post += process.hrtime.bigint() - t;
  t = process.hrtime.bigint();
  while (s.a.outstandingSends > 0) s.cq.poll(64);
  reap += process.hrtime.bigint() - t;
  ops += 100;
  await null;
}
console.log(`qp.write() post (8 B):           ${(Number(post) / ops).toFixed(0)} ns`);
console.log(`wait + reap, per op:             ${(Number(reap) / ops).toFixed(0)} ns`);
s.ctx.close();
