// World inside one guest: a plain process is a world of one; under mpirun,
// four ranks on this host connect over rxe0 (loopback through the NIC) and
// pass the all-to-all write/read check. The same fixtures run across two
// guests in the hosts group.
import { describe, expect, it } from 'vitest';
import { ClosedError, Domain, Endpoint, RegistrationCache, World } from '../../src/index.js';
import { jsonLines, runChild } from '../child.js';

const DEVICE = process.env.RDMA_REGCACHE_DEVICE ?? 'rxe0';
const HOST = process.env.RDMA_REGCACHE_IP ?? '192.0.2.1';

const run = (cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 240_000) => runChild(cmd, args, { env, timeoutMs });

const MPI_ENV = { OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', OMPI_MCA_btl: 'self,vader,tcp', OMPI_MCA_pml: 'ob1' };


describe('World in one process (no launcher)', () => {
  it('is a world of one that writes to and reads from itself', async () => {
    const world = await World.init({ device: DEVICE });
    try {
      expect([world.rank, world.size, world.localRank]).toEqual([0, 1, 0]);
      expect(typeof world.hostname).toBe('string');
      const heap = new Uint8Array(4096);
      const [remote] = await world.exposeAll(heap);
      expect(remote).toBeDefined();
      const out = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);
      await world.write(0, out, remote!, 100);
      expect(Buffer.from(heap.subarray(100, 1100)).equals(out)).toBe(true);
      const back = new Uint8Array(1000);
      await world.read(0, back, remote!, 100);
      expect(Buffer.from(back).equals(out)).toBe(true);
      await world.barrier();
      expect(world.cache).toBeInstanceOf(RegistrationCache);
      expect(world.endpoint(0).cache).toBe(world.cache);
      expect(() => world.endpoint(1)).toThrow(RangeError);
      expect(() => world.endpoint(0.5)).toThrow(TypeError);
    } finally {
      world.close();
    }
    world.close(); // idempotent
    expect(() => world.endpoint(0)).toThrow(ClosedError);
    await expect(world.write(0, new Uint8Array(8), { address: '0x1000', rkey: 1, length: 8 })).rejects.toThrow(ClosedError);
  });

  it('rejects bad options with TypeError/RangeError', async () => {
    await expect(World.init({ queueDepth: 0 })).rejects.toThrow(RangeError);
    await expect(World.init({ device: 7 as unknown as string })).rejects.toThrow(TypeError);
    await expect(World.init({ timeoutMs: -1 })).rejects.toThrow(RangeError);
  });
});

describe('Domain: one device stack for many connections', () => {
  it('shares one CQ and one cache between endpoints; closing it closes them', async () => {
    const domain = Domain.open({ device: DEVICE });
    const listener = await Endpoint.listen({ domain, host: HOST });
    const [a, b] = await Promise.all([listener.accept(), Endpoint.connect({ domain, host: HOST, port: listener.port })]);
    const [c, d] = await Promise.all([listener.accept(), Endpoint.connect({ domain, host: HOST, port: listener.port })]);
    listener.close();
    try {
      for (const ep of [a, b, c, d]) {
        expect(ep.cq).toBe(domain.cq);
        expect(ep.cache).toBe(domain.cache);
      }
      const target = new Uint8Array(65536);
      const remote = a.expose(target);
      const src = Uint8Array.from({ length: 65536 }, (_, i) => i & 0xff);
      await b.write(src, remote);
      await d.write(src, remote); // the same source buffer over another connection: one registration
      const stats = (domain.cache as RegistrationCache).stats();
      expect(stats.misses).toBe(2); // the target and the source, once each
      expect(stats.hits).toBeGreaterThanOrEqual(1);
      expect(Buffer.from(target).equals(src)).toBe(true);
      await expect(Endpoint.connect({ domain, device: DEVICE, host: HOST, port: 1 })).rejects.toThrow(TypeError);
    } finally {
      const pending = b.write(new Uint8Array(1 << 20), a.expose(new Uint8Array(1 << 20)));
      domain.close();
      await expect(pending).rejects.toThrow(ClosedError);
    }
    expect([a, b, c, d].every((ep) => ep.closed)).toBe(true);
    domain.close(); // idempotent
  });
});

describe('World under mpirun in one guest', () => {
  it('4 ranks: all-to-all writes and reads verified byte for byte', async () => {
    const r = await run('mpirun', ['--oversubscribe', '-np', '4', process.execPath, 'test/world/all-to-all.mjs'], MPI_ENV);
    const lines = jsonLines(r.stdout);
    expect(r.stderr + r.stdout).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    expect(lines.map((l) => l.rank).sort()).toEqual([0, 1, 2, 3]);
    for (const l of lines) expect(l).toMatchObject({ size: 4, received: 4, readBack: 4, mismatches: 0 });
  });

  it('a rank killed mid-run: the others reject with ECONNRESET within 30 s (mpirun --enable-recovery)', async () => {
    const r = await run('mpirun', ['--oversubscribe', '--enable-recovery', '-np', '3', process.execPath, 'test/world/killed-rank.mjs'], MPI_ENV);
    const lines = jsonLines(r.stdout);
    console.log(lines.map((l) => JSON.stringify(l)).join('\n'));
    expect(lines.map((l) => l.rank).sort()).toEqual([0, 1]);
    for (const l of lines) {
      expect(l.code).toBe('ECONNRESET');
      expect(String(l.message)).toMatch(/rank 2/);
      expect(l.failedAfterMs as number).toBeLessThan(30_000);
      expect(l.later).toBe('ECONNRESET');
    }
  });

  it('a rank killed mid-run: mpirun ends the job and exits non-zero, no rank left behind', async () => {
    const started = Date.now();
    const r = await run('mpirun', ['--oversubscribe', '-np', '3', process.execPath, 'test/world/killed-rank.mjs'], MPI_ENV);
    expect(r.signal).toBeNull(); // ended by itself, not by our time limit
    expect(r.status).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/signal 9|Killed/i);
    expect(Date.now() - started).toBeLessThan(120_000);
    const left = await run('pgrep', ['-f', 'test/world/killed-rank.mjs']);
    expect(left.stdout.trim()).toBe('');
  });
});
