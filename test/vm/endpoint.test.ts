import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Endpoint, EndpointListener, RdmaError, RegisterPerOperation, type RegistrationCache } from '../../src/index.js';
import { testing } from '../../src/testing.js';
import { PEER_GONE_GRACE_MS } from '../../src/endpoint/endpoint.js';

const HOST = process.env.RDMA_REGCACHE_IP ?? '192.0.2.1';
const DEVICE = process.env.RDMA_REGCACHE_DEVICE ?? 'rxe0';
// Outstanding operations in the concurrency test (CI size; raise for a soak).
const CONCURRENT_OPS = Number(process.env.RDMA_REGCACHE_ENDPOINT_OPS ?? 2000);
const t = testing;
const PAGE = t.constants.pageSize;

async function pair(options: Record<string, unknown> & { cache?: 'per-operation'; queueDepth?: number } = {}) {
  const listener = await Endpoint.listen({ device: DEVICE, host: HOST, port: 0, ...options });
  const [server, client] = await Promise.all([
    listener.accept(),
    Endpoint.connect({ device: DEVICE, host: HOST, port: listener.port, ...options }),
  ]);
  listener.close();
  return { server, client };
}

function fill(view: Uint8Array, seed: number) {
  for (let i = 0; i < view.length; i++) view[i] = (seed + i * 31) & 0xff;
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('Endpoint over rxe0', () => {
  let server: Endpoint;
  let client: Endpoint;
  const target = Buffer.alloc(8 << 20);
  let remote: ReturnType<Endpoint['expose']>;

  beforeAll(async () => {
    ({ server, client } = await pair());
    remote = server.expose(target);
  });
  afterAll(() => {
    client?.close();
    server?.close();
  });

  it('writes, reads, sends and receives byte for byte, with offsets', async () => {
    expect(JSON.parse(JSON.stringify(remote))).toEqual(remote);
    for (const size of [1, 7, 4096, 65_537, 1 << 20, 4 << 20]) {
      const src = Buffer.alloc(size + 3).subarray(3); // a view with a nonzero offset
      fill(src, size);
      await client.write(src, remote, 11);
      expect(target.subarray(11, 11 + size).equals(src)).toBe(true);
      const back = new Uint8Array(size);
      await client.read(back, remote, 11);
      expect(Buffer.from(back).equals(src)).toBe(true);
    }
    const inbox = Buffer.alloc(64);
    const got = server.recv(inbox);
    await client.send(Buffer.from('hello over rxe'));
    expect(await got).toBe(14);
    expect(inbox.subarray(0, 14).toString()).toBe('hello over rxe');
  });

  it('keeps thousands of mixed writes and reads in flight, in order of the queue, all verified', async () => {
    const sizes = [64, 1000, 4096, 20_000];
    const slot = 32 * 1024;
    const count = Math.min(CONCURRENT_OPS, Math.floor(target.length / slot));
    const sources = Array.from({ length: count }, (_, i) => {
      const b = Buffer.alloc(sizes[i % sizes.length]!);
      fill(b, i);
      return b;
    });
    const writes = sources.map((b, i) => client.write(b, remote, i * slot));
    expect(client.pending.inFlight + client.pending.waiting).toBeGreaterThan(0);
    await Promise.all(writes);
    const reads = sources.map((b) => Buffer.alloc(b.length));
    await Promise.all(reads.map((b, i) => client.read(b, remote, i * slot)));
    let mismatches = 0;
    sources.forEach((b, i) => {
      if (!target.subarray(i * slot, i * slot + b.length).equals(b)) mismatches++;
      if (!reads[i]!.equals(b)) mismatches++;
    });
    expect(mismatches).toBe(0);
    expect(client.pending).toEqual({ inFlight: 0, waiting: 0 });
  });

  it('never sends the NIC to old pages when a buffer is freed and its address reused', async () => {
    const cache = client.cache as RegistrationCache;
    const before = cache.stats();
    const len = 4 * PAGE;
    const a = t.mmap(len);
    const viewA = new Uint8Array(t.wrap(a, len));
    viewA.fill(0xaa);
    await client.write(viewA, remote, 0);
    await client.write(viewA, remote, 0); // a hit
    t.munmap(a, len);
    // The new buffer at exactly the old address (NOREPLACE: fails loudly if taken).
    const { MAP_PRIVATE, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE } = t.constants;
    const b = t.mmap(len, undefined, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, a);
    expect(b).toBe(a);
    const viewB = new Uint8Array(t.wrap(b, len));
    viewB.fill(0x55);
    await client.write(viewB, remote, 0);
    expect(target.subarray(0, len).every((x) => x === 0x55)).toBe(true);
    const after = cache.stats();
    expect(after.invalidations).toBeGreaterThan(before.invalidations);
    expect(after.staleAvoided).toBeGreaterThan(before.staleAvoided);
    t.munmap(b, len);
  });

  it('rejects a remote range past the exposed buffer before posting anything', async () => {
    await expect(client.write(Buffer.alloc(16), remote, remote.length - 8)).rejects.toThrow(RangeError);
    await expect(client.write(Buffer.alloc(16), { address: 'nope', rkey: 1, length: 1 } as never)).rejects.toThrow(TypeError);
    await expect(client.write('text' as never, remote)).rejects.toThrow(TypeError);
  });

  it('reports a wrong rkey as a failed completion carrying its status', async () => {
    const { server: s2, client: c2 } = await pair();
    const r2 = s2.expose(Buffer.alloc(4096));
    const err = await c2.write(Buffer.alloc(64), { ...r2, rkey: (r2.rkey + 0x100) >>> 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RdmaError);
    expect((err as RdmaError).status).toMatch(/IBV_WC_/);
    c2.close();
    s2.close();
  });
});

describe('Endpoint failures and lifetime', () => {
  it('close() with operations pending settles each with an ERR_CLOSED error and frees everything', async () => {
    const fds = openFds();
    const { server, client } = await pair({ queueDepth: 4 });
    const remote = server.expose(Buffer.alloc(1 << 20));
    const ops = Array.from({ length: 32 }, () => client.write(Buffer.alloc(64 << 10), remote));
    const recv = client.recv(Buffer.alloc(16));
    client.close();
    client.close(); // idempotent
    const settled = await Promise.allSettled([...ops, recv]);
    const rejected = settled.filter((s) => s.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    for (const s of rejected) expect((s as PromiseRejectedResult).reason).toHaveProperty('code');
    await expect(client.write(Buffer.alloc(1), remote)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    server.close();
    expect(openFds()).toBe(fds);
  });

  it('a peer that goes away mid-stream fails the pending operations, and the process stays up', async () => {
    const { server, client } = await pair();
    const remote = server.expose(Buffer.alloc(1 << 20));
    const ops = Array.from({ length: 64 }, () => client.write(Buffer.alloc(16 << 10), remote));
    server.close();
    const settled = await Promise.allSettled(ops);
    // Some may have completed before the peer left; the rest fail with a reason.
    for (const s of settled) if (s.status === 'rejected') expect(s.reason).toBeInstanceOf(Error);
    const later = await client.write(Buffer.alloc(64), remote).catch((e: unknown) => e);
    expect(later).toBeInstanceOf(Error);
    client.close();
  });

  it('the per-operation baseline registers around every operation and leaves nothing behind', async () => {
    const { server, client } = await pair({ cache: 'per-operation' });
    const target = Buffer.alloc(4096);
    const remote = server.expose(target);
    for (let i = 0; i < 5; i++) await client.write(Buffer.alloc(4096, i + 1), remote);
    expect(target.every((x) => x === 5)).toBe(true);
    expect(client.cache).toBeInstanceOf(RegisterPerOperation);
    expect((client.cache as RegisterPerOperation).registrations).toBe(5);
    client.close();
    server.close();
  });

  it('refuses wrong options with TypeError/RangeError', async () => {
    await expect(Endpoint.connect(null as never)).rejects.toThrow(TypeError);
    await expect(Endpoint.connect({ host: HOST, port: 1, queueDepth: 0 })).rejects.toThrow(RangeError);
    await expect(Endpoint.listen({ host: 42 } as never)).rejects.toThrow(TypeError);
    expect(EndpointListener).toBeTypeOf('function');
  });

  it('an exposed buffer whose memory is remapped is revoked: fresh rkey for the new pages, remote access error for the old', async () => {
    const { server, client } = await pair();
    const cache = server.cache as RegistrationCache;
    const { MAP_PRIVATE, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE } = t.constants;
    const len = 4 * PAGE;
    const a = t.mmap(len);
    new Uint8Array(t.wrap(a, len)).fill(1);
    const r1 = server.expose(new Uint8Array(t.wrap(a, len)));
    await client.write(Buffer.alloc(len, 2), r1);
    expect(new Uint8Array(t.wrap(a, len)).every((x) => x === 2)).toBe(true);

    // The memory behind the exposure changes; new memory at the same address.
    t.munmap(a, len);
    const b = t.mmap(len, undefined, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, a);
    expect(b).toBe(a);
    const viewB = new Uint8Array(t.wrap(b, len));
    viewB.fill(3);
    // The server does nothing: its cache notices on the event loop and revokes.
    for (let i = 0; i < 250 && cache.stats().revocations === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(cache.stats().revocations).toBe(1);

    const r2 = server.expose(viewB);
    expect(r2.address).toBe(r1.address);
    expect(r2.rkey).not.toBe(r1.rkey);
    await client.write(Buffer.alloc(len, 5), r2);
    expect(viewB.every((x) => x === 5)).toBe(true);

    // The peer's old description no longer reaches any page.
    const err = await client.write(Buffer.alloc(len, 6), r1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RdmaError);
    expect((err as RdmaError).status).toBe('IBV_WC_REM_ACCESS_ERR');
    expect(viewB.every((x) => x === 5)).toBe(true);
    client.close();
    server.close();
    t.munmap(b, len);
  });
});

describe("Endpoint small messages: 'poll' progress, inline data, chained posts with selective signaling", () => {
  it("'poll' mode: mixed writes/reads/sends keep their order and results, and a timer fires during a long run", async () => {
    const { server, client } = await pair({ progress: 'poll' });
    expect(client.progress).toBe('poll');
    const target = Buffer.alloc(4 << 20);
    const remote = server.expose(target);
    // A long run of dependent rounds: each round writes, then reads back what it wrote.
    let fired = 0;
    const timer = setInterval(() => fired++, 5);
    const order: number[] = [];
    const sizes = [8, 200, 300, 4096, 65_536];
    let mismatches = 0;
    const t0 = Date.now();
    for (let round = 0; Date.now() - t0 < 1500 || round < 20; round++) {
      const srcs = sizes.map((n, i) => {
        const b = Buffer.alloc(n);
        fill(b, round * 7 + i);
        return b;
      });
      const ops = srcs.map((b, i) => client.write(b, remote, i * 65_536).then(() => order.push(round * 10 + i)));
      await Promise.all(ops);
      const backs = srcs.map((b) => Buffer.alloc(b.length));
      await Promise.all(backs.map((b, i) => client.read(b, remote, i * 65_536)));
      srcs.forEach((b, i) => {
        if (!backs[i]!.equals(b) || !target.subarray(i * 65_536, i * 65_536 + b.length).equals(b)) mismatches++;
      });
    }
    clearInterval(timer);
    expect(mismatches).toBe(0);
    // Completions settle in posting order.
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(fired).toBeGreaterThan(0);
    // SEND/RECV in poll mode.
    const inbox = Buffer.alloc(32);
    const got = server.recv(inbox);
    await client.send(Buffer.from('polled'));
    expect(await got).toBe(6);
    // A timer scheduled while thousands of operations are in flight fires before they all finish.
    let timerFired = false;
    let doneBeforeTimer = true;
    const many = Array.from({ length: 3000 }, (_, i) => client.write(Buffer.alloc(64, i & 0xff), remote, (i % 1000) * 64));
    setTimeout(() => {
      timerFired = true;
    }, 1);
    const all = Promise.all(many).then(() => {
      doneBeforeTimer = !timerFired;
    });
    await all;
    expect(timerFired).toBe(true);
    expect(doneBeforeTimer).toBe(false);
    client.close();
    server.close();
  });

  it('inline writes and sends are byte for byte, skip the cache and are counted', async () => {
    const { server, client } = await pair({ inline: 256 });
    expect(client.qp.maxInlineData).toBeGreaterThanOrEqual(64);
    const limit = Math.min(256, client.qp.maxInlineData);
    const target = Buffer.alloc(1 << 16);
    const remote = server.expose(target);
    const cache = client.cache as RegistrationCache;
    const before = cache.stats();
    const sizes = [1, 7, 8, 63, 64, 100, limit - 1, limit];
    // Views of every kind, with odd offsets, including ones V8 keeps on its heap (small typed arrays).
    const views: Uint8Array[] = [];
    for (const n of sizes) {
      const big = new Uint8Array(n + 5);
      const v = big.subarray(5);
      fill(v, n);
      views.push(v);
    }
    await Promise.all(views.map((v, i) => client.write(v, remote, i * 512)));
    views.forEach((v, i) => expect(target.subarray(i * 512, i * 512 + v.length).equals(v)).toBe(true));
    const dv = new DataView(new ArrayBuffer(16));
    dv.setFloat64(0, Math.PI);
    dv.setFloat64(8, Math.E);
    await client.write(dv, remote, 8000);
    expect(target.readDoubleBE(8000)).toBe(Math.PI);
    expect(target.readDoubleBE(8008)).toBe(Math.E);
    const inbox = Buffer.alloc(limit);
    const got = server.recv(inbox);
    const msg = Buffer.alloc(limit);
    fill(msg, 99);
    await client.send(msg);
    expect(await got).toBe(limit);
    expect(inbox.equals(msg)).toBe(true);
    const after = cache.stats();
    expect(after.hits + after.misses).toBe(before.hits + before.misses);
    expect(client.stats().inline).toBe(sizes.length + 2);
    // One byte over the limit goes through the cache.
    const over = Buffer.alloc(limit + 1, 3);
    await client.write(over, remote, 9000);
    expect(target.subarray(9000, 9001 + limit).equals(over)).toBe(true);
    expect(client.stats().inline).toBe(sizes.length + 2);
    expect(cache.stats().hits + cache.stats().misses).toBe(before.hits + before.misses + 1);
    client.close();
    server.close();
  });

  it('operations issued in one tick go out as one chain, one in N signaled', async () => {
    const { server, client } = await pair({ signalEvery: 8 });
    const target = Buffer.alloc(1 << 20);
    const remote = server.expose(target);
    const srcs = Array.from({ length: 100 }, (_, i) => {
      const b = Buffer.alloc(i % 2 ? 48 : 2048);
      fill(b, i);
      return b;
    });
    const s0 = client.stats();
    await Promise.all(srcs.map((b, i) => client.write(b, remote, i * 4096)));
    const s1 = client.stats();
    expect(s1.operations - s0.operations).toBe(100);
    expect(s1.doorbells - s0.doorbells).toBe(1);
    expect(s1.signaled - s0.signaled).toBe(13); // 12 every 8th, and the last of the chain
    srcs.forEach((b, i) => expect(target.subarray(i * 4096, i * 4096 + b.length).equals(b)).toBe(true));
    client.close();
    server.close();
  });

  it('a remote error, then the connection goes down within the grace: ECONNRESET, the completion error as cause', async () => {
    const { server, client } = await pair();
    const remote = server.expose(Buffer.alloc(4096));
    const bad = { ...remote, rkey: (remote.rkey + 0x100) >>> 0 };

    // A live peer: the remote error arrives after the grace, unchanged.
    let t0 = Date.now();
    const alive = await client.write(Buffer.alloc(64, 1), bad).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(PEER_GONE_GRACE_MS - 5);
    expect((alive as RdmaError).code).toBe('ECOMM');
    expect((alive as RdmaError).status).toBe('IBV_WC_REM_ACCESS_ERR');
    client.close();
    server.close();

    // A dying peer, as seen across two hosts: its memory went first (the
    // NAK is back, nothing in flight), its connection a moment later.
    const p = await pair();
    const remote2 = p.server.expose(Buffer.alloc(4096));
    const bad2 = { ...remote2, rkey: (remote2.rkey + 0x100) >>> 0 };
    t0 = Date.now();
    const dying = p.client.write(Buffer.alloc(64, 1), bad2).catch((e: unknown) => e);
    while (p.client.pending.inFlight !== 0) await new Promise((r) => setTimeout(r, 5));
    p.server.close();
    const err = (await dying) as RdmaError & { cause?: RdmaError };
    expect(err.code).toBe('ECONNRESET');
    expect(err.message).toMatch(/is down/);
    expect(err.cause?.status).toBe('IBV_WC_REM_ACCESS_ERR');
    expect(Date.now() - t0).toBeLessThan(PEER_GONE_GRACE_MS + 30_000);
    expect(p.client.peerGone).toBe(true);
    p.client.close();
  });

  for (const progress of ['event', 'poll'] as const) {
    it(`a failed operation in the middle of a chain rejects it and those after it, not those before (${progress})`, async () => {
      const { server, client } = await pair({ signalEvery: 64, progress });
      const target = Buffer.alloc(1 << 20);
      const remote = server.expose(target);
      const bad = { ...remote, rkey: (remote.rkey + 0x100) >>> 0 };
      const srcs = Array.from({ length: 20 }, (_, i) => {
        const b = Buffer.alloc(i % 2 ? 32 : 1024);
        fill(b, i + 1);
        return b;
      });
      const settled = await Promise.allSettled(srcs.map((b, i) => client.write(b, i === 10 ? bad : remote, i * 4096)));
      expect(client.stats().doorbells).toBe(1);
      for (let i = 0; i < 10; i++) {
        expect(settled[i]!.status).toBe('fulfilled');
        expect(target.subarray(i * 4096, i * 4096 + srcs[i]!.length).equals(srcs[i]!)).toBe(true);
      }
      const failed = (settled[10] as PromiseRejectedResult).reason as RdmaError;
      expect(failed).toBeInstanceOf(RdmaError);
      expect(failed.status).toMatch(/IBV_WC_(REM_ACCESS_ERR|REM_INV_REQ_ERR|REM_OP_ERR)/);
      for (let i = 11; i < 20; i++) {
        expect(settled[i]!.status).toBe('rejected');
        expect(((settled[i] as PromiseRejectedResult).reason as RdmaError).status).toBe('IBV_WC_WR_FLUSH_ERR');
      }
      expect(client.pending).toEqual({ inFlight: 0, waiting: 0 });
      client.close();
      server.close();
    });
  }
  for (const progress of ['event', 'poll'] as const) {
    it(`awaited writes one after another leave timers running, though they may settle at post (${progress})`, async () => {
      const { server, client } = await pair({ progress });
      const target = Buffer.alloc(4096);
      const remote = server.expose(target);
      const src = Buffer.alloc(1024); // not inline: a registration from the cache too
      let fired = 0;
      const timer = setInterval(() => fired++, 2);
      const t0 = Date.now();
      let n = 0;
      try {
        // Completions reaped right after the post settle without an event-loop
        // turn; the library must still let timers and I/O run.
        while (Date.now() - t0 < 600) {
          src.writeUInt32LE(n, 0);
          await client.write(src, remote);
          n++;
        }
      } finally {
        clearInterval(timer);
      }
      expect(target.readUInt32LE(0)).toBe(n - 1);
      expect(fired).toBeGreaterThanOrEqual(5);
      const s = client.stats();
      expect(s.operations).toBe(n);
      expect(s.reapedAtPost).toBeLessThanOrEqual(s.signaled);
      expect(client.pending).toEqual({ inFlight: 0, waiting: 0 });
      client.close();
      server.close();
    });
  }
});
