// World as a Slurm job on the two-host test VM (npm run vm -- --hosts 2
// --slurm: munge, slurmctld on node1, slurmd on node1 and node2): the same
// programs as test/hosts/world.test.ts, unchanged, started by
// `srun -N2 -n4 --mpi=pmix`. On a boot without Slurm every test is skipped,
// "not selected".
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeEach, describe, expect, it } from 'vitest';
import { jsonLines } from '../child.js';

// scripts/vm/slurm.sh sets it on node1 once sinfo shows both nodes idle.
const SLURM = process.env.RDMA_REGCACHE_SLURM === '1';
const NOT_SELECTED = 'not selected: no Slurm cluster on this boot (npm run vm -- --hosts 2 --slurm starts one)';

interface Run { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number; startedAt: number }
interface Job { child: ReturnType<typeof spawn>; out: () => string; done: Promise<Run> }

// Asynchronous, with a kill timer, so the test worker keeps answering vitest
// while a job runs and a job that hangs ends anyway.
function start(cmd: string, args: string[], timeoutMs: number): Job {
  const startedAt = Date.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<Run>((resolve) => {
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ status: null, signal: null, stdout, stderr: `${stderr}${err.message}`, ms: Date.now() - startedAt, startedAt });
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, ms: Date.now() - startedAt, startedAt });
    });
  });
  return { child, out: () => stdout, done };
}

const run = (cmd: string, args: string[], timeoutMs = 800_000) => start(cmd, args, timeoutMs).done;
// Under emulation on a loaded 2-core machine a launch of four node processes
// takes one to several minutes; run() kills a job at 800 s.
const TEST_MS = 900_000;
const SRUN = ['-N2', '-n4', '--mpi=pmix'];
const srun = (...args: string[]) => run('srun', [...SRUN, ...args]);

/** The processes of `pattern` (pgrep -f) still alive on node1 and node2, as "host: pids" lines. */
async function leftOnHosts(pattern: string): Promise<string[]> {
  const left: string[] = [];
  for (const host of ['node1', 'node2']) {
    const r = await run('scripts/vm/vm-rsh', [host, `pgrep -f '${pattern}' || true`], 120_000);
    if (r.stdout.trim()) left.push(`${host}: ${r.stdout.trim().replace(/\n/g, ' ')}`);
  }
  return left;
}

/** Waits until the queue has no job named `name` (a cancelled job lingers while COMPLETING). */
async function queueDrained(name: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  let q = '';
  do {
    q = (await run('squeue', ['-h', '-n', name, '-o', '%i %T'], 60_000)).stdout.trim();
    if (!q) return '';
    await sleep(1000);
  } while (Date.now() < deadline);
  return q;
}

/** The last lines of slurmd's log on each node (slurmstepd writes there too): why a step failed to launch. */
async function slurmdLogs(lines = 40): Promise<string> {
  const out: string[] = [];
  for (const host of ['node1', 'node2']) {
    const r = await run('scripts/vm/vm-rsh', [host, `tail -n ${lines} /run/slurm/slurmd.log`], 120_000);
    out.push(`--- ${host}:/run/slurm/slurmd.log (last ${lines} lines) ---\n${r.stdout}${r.stderr}`);
  }
  return out.join('\n');
}

describe('World as a Slurm job (srun -N2 -n4 --mpi=pmix)', () => {
  beforeEach((ctx) => {
    ctx.skip(!SLURM, NOT_SELECTED);
    // srun says only "task N launch failed: Unspecified error"; the reason is in slurmd's log.
    ctx.onTestFailed(async () => console.error(await slurmdLogs()));
  });

  it('all-to-all: every rank writes a distinct pattern into every rank, reads it back, byte for byte', async () => {
    const r = await srun('node', 'test/world/all-to-all.mjs');
    const lines = jsonLines(r.stdout);
    console.log(`srun all-to-all: ${r.ms} ms\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
    expect(r.status, r.stderr).toBe(0);
    expect(lines.map((l) => l.rank).sort()).toEqual([0, 1, 2, 3]);
    expect(lines.filter((l) => l.hostname === 'node1')).toHaveLength(2);
    expect(lines.filter((l) => l.hostname === 'node2')).toHaveLength(2);
    for (const l of lines) expect(l).toMatchObject({ size: 4, received: 4, readBack: 4, mismatches: 0 });
    expect(lines.map((l) => l.localRank).sort()).toEqual([0, 0, 1, 1]);
  }, TEST_MS);

  it('the ring allreduce example gives the exact sum on every rank (8 B, uneven chunks, 512 KiB)', async () => {
    const r = await srun('node', '--import', 'tsx', 'bench/examples/ring-allreduce.ts', '1,1003,65536', '3');
    console.log(`srun allreduce: ${r.ms} ms\n${r.stdout.trim()}`);
    expect(r.status, r.stderr).toBe(0);
    for (const count of [1, 1003, 65536]) {
      const exact = r.stdout.split('\n').filter((l) => l.match(/^rank \d\/4: allreduce of (\d+) doubles x 3: exact/)?.[1] === String(count));
      expect(exact, `${count} doubles`).toHaveLength(4);
    }
  }, TEST_MS);

  it('scancel of a running job: every rank ends, srun exits non-zero, nothing left on either host', async () => {
    const name = 'rrc-cancel';
    const job = start('srun', [...SRUN, '-J', name, 'node', 'test/hosts/fixtures/busy-world.mjs'], 800_000);
    // Cancel once all four ranks are connected and writing.
    const deadline = Date.now() + 600_000;
    let ready = 0;
    while (Date.now() < deadline && job.child.exitCode === null && job.child.signalCode === null) {
      ready = (job.out().match(/^busy: rank \d ready$/gm) ?? []).length;
      if (ready === 4) break;
      await sleep(500);
    }
    const cancelledAt = Date.now();
    const cancel = await run('scancel', ['--name', name], 120_000);
    const r = await job.done;
    const afterCancelMs = Date.now() - cancelledAt;
    console.log(`scancel: srun exit ${r.status} (signal ${r.signal}) ${afterCancelMs} ms after scancel\n${r.stderr.trim()}`);
    expect(ready, `ranks ready before scancel\n${r.stdout}\n${r.stderr}`).toBe(4);
    expect(cancel.status, cancel.stderr).toBe(0);
    // srun ended by itself (not by the kill timer), with a failure status.
    expect(r.signal).toBeNull();
    expect(r.status).not.toBe(0);
    // (A rank may see its peer go before its own SIGTERM arrives and say so:
    // either way it has ended.)
    expect(await queueDrained(name, 120_000)).toBe('');
    expect(await leftOnHosts('fixtures/[b]usy-world.mjs')).toEqual([]);
  }, TEST_MS);

  it('a rank killed by SIGKILL: the others see ECONNRESET naming it (or are cancelled), srun exits non-zero, nothing left', async () => {
    const r = await srun('node', 'test/world/killed-rank.mjs');
    const lines = jsonLines(r.stdout);
    console.log(`killed rank: srun exit ${r.status} after ${r.ms} ms\n${lines.map((l) => JSON.stringify(l)).join('\n')}\n${r.stderr.trim()}`);
    expect(r.signal).toBeNull();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/task 3: Killed/);
    // The others see the connection go within a second or so and report it;
    // then Slurm cancels the step (measured: srun 137, "STEP n.0 CANCELLED").
    // A survivor Slurm ends before it could report has been cancelled, not hung.
    expect(lines.every((l) => [0, 1, 2].includes(l.rank as number))).toBe(true);
    if (lines.length < 3) expect(r.stderr).toMatch(/CANCELLED|Terminated/);
    for (const l of lines) {
      expect(l.code).toBe('ECONNRESET');
      expect(String(l.message)).toMatch(/rank 3/);
      expect(l.failedAfterMs as number).toBeLessThan(30_000);
      expect(l.later).toBe('ECONNRESET');
    }
    expect(await leftOnHosts('test/world/[k]illed-rank.mjs')).toEqual([]);
  }, TEST_MS);

  it('the next job on the same boot runs: srun and mpirun of the same all-to-all side by side', async () => {
    const timed = ['node', 'test/hosts/fixtures/timed-all-to-all.mjs'];
    const launchers: [string, () => Promise<Run>][] = [
      ['srun', () => srun(...timed)],
      ['mpirun', () => run('mpirun', ['--host', 'node1:2,node2:2', '-np', '4', ...timed])],
    ];
    const rows: string[] = [];
    for (const [name, launch] of launchers) {
      const r = await launch();
      const lines = jsonLines(r.stdout);
      expect(r.status, `${name}\n${r.stderr}`).toBe(0);
      expect(lines, name).toHaveLength(4);
      for (const l of lines) expect(l, name).toMatchObject({ size: 4, mismatches: 0 });
      // Seconds after the launcher was started (node2's clock is its own:
      // the guests' clocks agree to about a second).
      const s = (key: string, pick: (xs: number[]) => number) =>
        ((pick(lines.map((l) => l[key] as number)) - r.startedAt) / 1000).toFixed(1);
      const min = (xs: number[]) => Math.min(...xs);
      const max = (xs: number[]) => Math.max(...xs);
      rows.push(`${name.padEnd(6)}  ${s('startedAt', min)}-${s('startedAt', max)}  ${s('initAt', max).padStart(7)}  ` +
        `${s('firstWriteAt', min).padStart(6)}-${s('firstWriteAt', max).padEnd(6)}  ${(r.ms / 1000).toFixed(1).padStart(6)}`);
    }
    console.log(`launcher  ranks started  World.init (last)  first write (first-last)  total (s after launch)\n${rows.join('\n')}`);
  }, TEST_MS * 2);
});
