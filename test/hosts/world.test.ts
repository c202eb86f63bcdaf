// World across node1 and node2, started by a plain mpirun: 4 ranks, 2 per
// host, every connection over rxe0 (across the wire, or through the NIC's
// loopback on the same host). The fixtures are shared with the one-guest
// tests (test/world/); the examples are the README's.
import { describe, expect, it } from 'vitest';
import { jsonLines, runChild } from '../child.js';

// `until`: stop the job (SIGKILL) once its output satisfies this.
const run = (cmd: string, args: string[], timeoutMs = 800_000, until?: (stdout: string) => boolean) =>
  runChild(cmd, args, { timeoutMs, until });

// Generous: under emulation on a loaded 2-core machine one mpirun of four
// node processes took up to 7 minutes; run() kills a job at 800 s.
const TEST_MS = 900_000;
const HOSTS = ['--host', 'node1:2,node2:2', '-np', '4'];
const mpirun = (...args: string[]) => run('mpirun', [...HOSTS, ...args]);


describe('World across two hosts (mpirun, 4 ranks)', () => {
  it('all-to-all: every rank writes a distinct pattern into every rank, reads it back, byte for byte', async () => {
    const r = await mpirun('node', 'test/world/all-to-all.mjs');
    const lines = jsonLines(r.stdout);
    console.log(`all-to-all: ${r.ms} ms\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
    expect(r.status, r.stderr).toBe(0);
    expect(lines.map((l) => l.rank).sort()).toEqual([0, 1, 2, 3]);
    expect(lines.filter((l) => l.hostname === 'node1')).toHaveLength(2);
    expect(lines.filter((l) => l.hostname === 'node2')).toHaveLength(2);
    for (const l of lines) expect(l).toMatchObject({ size: 4, received: 4, readBack: 4, mismatches: 0 });
    expect(lines.map((l) => l.localRank).sort()).toEqual([0, 0, 1, 1]);
  }, TEST_MS);

  it('buffer reuse across hosts through World: 0 mismatches, and the cache saw the reuse', async () => {
    const r = await mpirun('-x', 'WORLD_REUSE_ROUNDS=160', 'node', '--expose-gc', 'test/world/reuse.mjs');
    const lines = jsonLines(r.stdout);
    console.log(`reuse: ${r.ms} ms\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
    expect(r.status, r.stderr).toBe(0);
    expect(lines).toHaveLength(4);
    for (const l of lines) expect(l).toMatchObject({ rounds: 160, mismatches: 0 });
    // Freed buffers came back at used addresses: the monitor reported them.
    expect(lines.reduce((n, l) => n + (l.invalidations as number), 0)).toBeGreaterThan(0);
  }, TEST_MS);

  it('the ring allreduce example gives the exact sum on every rank (8 B, uneven chunks, 512 KiB)', async () => {
    const r = await mpirun('node', '--import', 'tsx', 'bench/examples/ring-allreduce.ts', '1,1003,65536', '3');
    console.log(`allreduce: ${r.ms} ms\n${r.stdout.trim()}`);
    expect(r.status, r.stderr).toBe(0);
    for (const count of [1, 1003, 65536]) {
      const exact = r.stdout.split('\n').filter((l) => l.match(/^rank \d\/4: allreduce of (\d+) doubles x 3: exact/)?.[1] === String(count));
      expect(exact, `${count} doubles`).toHaveLength(4);
    }
  }, TEST_MS);

  it('the PGAS example (the README quick start) puts and gets on every rank', async () => {
    const r = await mpirun('node', '--import', 'tsx', 'bench/examples/world-pgas.ts');
    console.log(r.stdout.trim());
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter((l) => /put from rank \d ok .* get ok/.test(l))).toHaveLength(4);
  }, TEST_MS);

  it('a rank killed mid-run: the others reject with ECONNRESET within 30 s (--enable-recovery)', async () => {
    // With --enable-recovery across the two hosts, mpirun was once still
    // running 800 s after every survivor had printed and exited (in one
    // guest it ends at once); what this case checks is the survivors'
    // errors, so the job is stopped once all three have reported. The
    // default mode's case below checks that the job ends by itself.
    const r = await run('mpirun', [...HOSTS, '--enable-recovery', 'node', 'test/world/killed-rank.mjs'], 800_000,
      (out) => out.split('\n').slice(0, -1).filter((l) => l.startsWith('{')).length >= 3);
    const lines = jsonLines(r.stdout);
    console.log(`killed rank (recovery): ${r.ms} ms\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
    expect(lines.map((l) => l.rank).sort()).toEqual([0, 1, 2]);
    for (const l of lines) {
      expect(l.code).toBe('ECONNRESET');
      expect(String(l.message)).toMatch(/rank 3/);
      expect(l.failedAfterMs as number).toBeLessThan(30_000);
      expect(l.later).toBe('ECONNRESET');
    }
  }, TEST_MS);

  it('a rank killed mid-run: mpirun ends the job with a non-zero status, nothing left on either host', async () => {
    const r = await mpirun('node', 'test/world/killed-rank.mjs');
    console.log(`killed rank (default): mpirun exit ${r.status} after ${r.ms} ms`);
    expect(r.signal).toBeNull();
    expect(r.status).not.toBe(0);
    for (const host of ['node1', 'node2']) {
      const left = await run('scripts/vm/vm-rsh', [host, "pgrep -f 'test/world/[k]illed-rank.mjs' || true"]);
      expect(left.stdout.trim(), host).toBe('');
    }
  }, TEST_MS);
});
