// Connect/disconnect and register/deregister cycles: file descriptors and
// memory return to baseline. Sizes come from the environment so CI stays short:
//   VERBS_CONNECT_CYCLES  (default 1000, the full size: about 15-25 s in the VM)
//   VERBS_REGISTER_CYCLES (default 10000, the full size: about 5 s in the VM)
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, listen, openDevice, type CompletionQueue, type Context, type ProtectionDomain } from '../../src/index.js';
import { runChild } from '../child.js';
import { DEVICE, HOST, openFds, rssKiB } from './verbs-helpers.js';

const CONNECTS = Number(process.env.VERBS_CONNECT_CYCLES ?? 1000);
const REGISTERS = Number(process.env.VERBS_REGISTER_CYCLES ?? 10000);

// A full GC before each memory reading, so that only native leaks would show.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function settledRss(): number {
  gc();
  gc();
  return rssKiB();
}

let ctx: Context;
let pd: ProtectionDomain;
let cq: CompletionQueue;

beforeAll(() => {
  ctx = openDevice(DEVICE);
  pd = ctx.allocPd();
  cq = ctx.createCq(1024);
});
afterAll(() => ctx?.close());

async function cycle(port: number, listener: Awaited<ReturnType<typeof listen>>, buf: Buffer): Promise<void> {
  const accepted = listener.accept({ pd, sendCq: cq, maxSendWr: 16, maxRecvWr: 16 });
  const client = await connect({ pd, sendCq: cq, host: HOST, port, maxSendWr: 16, maxRecvWr: 16 });
  const server = await accepted;
  const mr = pd.registerMemory(buf);
  await client.write(mr.sge(0, 64), mr.remote(64));
  await client.disconnect();
  await server.disconnected;
  client.close();
  server.close();
  mr.deregister();
}

describe('resource cycles return to baseline', () => {
  it(`${CONNECTS} connect/write/disconnect cycles`, async () => {
    const listener = await listen({ host: HOST });
    const buf = Buffer.alloc(4096);
    for (let i = 0; i < 3; i++) await cycle(listener.port, listener, buf); // warm up
    const fds = openFds();
    const rss = settledRss();
    const t0 = performance.now();
    for (let i = 0; i < CONNECTS; i++) await cycle(listener.port, listener, buf);
    const ms = performance.now() - t0;
    const fdsAfter = openFds();
    const rssAfter = settledRss();
    listener.close();
    console.log(
      `connect cycles: ${CONNECTS} in ${ms.toFixed(0)} ms (${(ms / CONNECTS).toFixed(1)} ms each); ` +
        `fds ${fds} -> ${fdsAfter}; rss ${rss} -> ${rssAfter} KiB`,
    );
    expect(fdsAfter).toBe(fds);
    expect(cq.pending).toBe(0);
    expect(rssAfter - rss).toBeLessThan(16 * 1024);
  });

  it(`${REGISTERS} register/deregister cycles`, () => {
    const bufs = [Buffer.alloc(4096), new Uint8Array(65536), new Float64Array(8192)];
    for (let i = 0; i < 100; i++) pd.registerMemory(bufs[i % 3]!).deregister();
    const fds = openFds();
    const rss = settledRss();
    const t0 = performance.now();
    for (let i = 0; i < REGISTERS; i++) pd.registerMemory(bufs[i % 3]!).deregister();
    const ms = performance.now() - t0;
    const fdsAfter = openFds();
    const rssAfter = settledRss();
    console.log(
      `register cycles: ${REGISTERS} in ${ms.toFixed(0)} ms (${((ms * 1000) / REGISTERS).toFixed(0)} us each); ` +
        `fds ${fds} -> ${fdsAfter}; rss ${rss} -> ${rssAfter} KiB`,
    );
    expect(fdsAfter).toBe(fds);
    expect(rssAfter - rss).toBeLessThan(16 * 1024);
  });
});

describe('process exit with objects still open', () => {
  const script = (tail: string) => `
    import { openDevice, listen, connect } from './dist/index.js';
    const host = ${JSON.stringify(HOST)};
    const ctx = openDevice(${JSON.stringify(DEVICE)});
    const pd = ctx.allocPd(), cq = ctx.createCq(1024);
    const l = await listen({ host });
    const acc = l.accept({ pd, sendCq: cq });
    const c = await connect({ pd, sendCq: cq, host, port: l.port });
    const s = await acc;
    const b = Buffer.alloc(64), mr = pd.registerMemory(b);
    await c.write(mr.sge(0, 8), mr.remote(8));
    ${tail}
  `;
  const run = (tail: string) =>
    runChild(process.execPath, ['--input-type=module', '-e', script(tail)], { cwd: process.cwd(), timeoutMs: 120_000 });

  // The child runs the compiled package (npm run vm builds dist/ first).
  it('an idle process with an open device, CQ, listener and connections exits by itself', async () => {
    const r = await run("console.log('done');");
    expect(r.stdout).toContain('done');
    expect(r.status, r.stderr).toBe(0);
  });

  it('process.exit() with a connection request nobody took is cleaned up without a crash', async () => {
    const r = await run(`
      const l2 = await listen({ host });
      let got = false;
      l2.nextRequest().then(() => (got = true));
      connect({ pd, sendCq: cq, host, port: l2.port }).catch(() => {});
      for (let i = 0; i < 100 && !got; i++) await new Promise((res) => setTimeout(res, 100));
      console.log('request seen', got);
      process.exit(4);
    `);
    expect(r.stdout).toContain('request seen true');
    expect(r.status, r.stderr).toBe(4);
  });

  it('a worker thread that leaves everything open exits cleanly, and so does the process', async () => {
    const file = join(tmpdir(), `verbs-worker-${process.pid}.mjs`);
    const body = script("(await import('node:worker_threads')).parentPort.postMessage('wrote');");
    writeFileSync(file, body.replace("'./dist/index.js'", JSON.stringify(join(process.cwd(), 'dist', 'index.js'))));
    try {
      const main = `
        import { Worker } from 'node:worker_threads';
        const w = new Worker(${JSON.stringify(file)}, { execArgv: [] }); // not our --input-type
        w.on('message', (m) => console.log('worker', m));
        w.on('exit', (code) => console.log('worker exit', code));
      `;
      const r = await runChild(process.execPath, ['--input-type=module', '-e', main], { timeoutMs: 120_000 });
      expect(r.stdout, r.stderr).toContain('worker wrote');
      expect(r.stdout, r.stderr).toContain('worker exit 0');
      expect(r.status, r.stderr).toBe(0);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('process.exit() with everything open is cleaned up without a crash', async () => {
    const r = await run("s.recv(mr.sge()); console.log('done'); process.exit(3);");
    expect(r.status, r.stderr).toBe(3);
  });
});
