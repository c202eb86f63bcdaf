#!/usr/bin/env node
// Inside the test VM: one RDMA WRITE through the library over rxe0, checked
// byte for byte. The workload of scripts/vm/flake-rate.mjs (node starts, the
// native addon loads, /dev/ummunotify and the verbs are used once).
//
//   npm run vm -- node scripts/vm/rdma-write-once.mjs [--size BYTES]
//
// REGCACHE_LIB: the library's entry to import (default: the project's dist/index.js).
import { randomFillSync } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { size: { type: 'string', default: '65536' } } });
const size = Number(values.size);
const entry = resolve(process.env.REGCACHE_LIB ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'index.js'));
const { Endpoint } = await import(pathToFileURL(entry).href);
const host = process.env.RDMA_REGCACHE_IP;
const device = process.env.RDMA_REGCACHE_DEVICE;
if (!host) {
  console.error('rdma-write-once: RDMA_REGCACHE_IP is not set (run it in the test VM: npm run vm -- node scripts/vm/rdma-write-once.mjs)');
  process.exit(2);
}
const started = performance.now();
// Time-stamped steps: when a run hits its time limit, the last mark says how
// far it got (with the harness's sysrq dump: slow or hung, and where).
const mark = (step) => console.log(`rdma-write-once: ${performance.now().toFixed(0)} ms after node started: ${step}`);
mark('library loaded');
const listener = await Endpoint.listen({ device, host });
mark('listening');
const [a, b] = await Promise.all([Endpoint.connect({ device, host, port: listener.port }), listener.accept()]);
mark('connected');
listener.close();
const target = new Uint8Array(size);
const source = randomFillSync(new Uint8Array(size));
await a.write(source, b.expose(target), 0);
mark('written');
const bad = target.findIndex((v, i) => v !== source[i]);
a.close();
b.close();
if (bad >= 0) {
  console.error(`rdma-write-once: MISMATCH at byte ${bad} of ${size}`);
  process.exit(1);
}
console.log(`rdma-write-once: ${size} B written over ${device ?? 'the first device'} and verified, ${(performance.now() - started).toFixed(0)} ms`);
