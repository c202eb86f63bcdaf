import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Endpoint, EndpointListener, RdmaError, RegisterPerOperation, type RegistrationCache } from '../../src/index.js';
import { testing } from '../../src/testing.js';

const HOST = process.env.RDMA_REGCACHE_IP ?? '192.0.2.1';
const DEVICE = process.env.RDMA_REGCACHE_DEVICE ?? 'rxe0';
// Outstanding operations in the concurrency test (CI size; raise for a soak).
const CONCURRENT_OPS = Number(process.env.RDMA_REGCACHE_ENDPOINT_OPS ?? 2000);
const t = testing;
const PAGE = t.constants.pageSize;

async function pair(options: { cache?: 'per-operation'; queueDepth?: number } = {}) {
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
