/**
 * Allreduce across hosts: Open MPI's MPI_Allreduce (bench/hosts/mpi-allreduce.c,
 * built here with Debian's mpicc into build/bench-hosts/) beside the
 * library's ring allreduce (bench/hosts/ring-allreduce.ts), both launched by
 * the same `mpirun --host node1:2,node2:2 -np 4` on the same boot, same
 * sizes, same warm-up and timed iterations. Each repetition runs both, their
 * order alternating. Once beforehand, a short run of the C program with
 * Open MPI's selection logs on names the transport it picked.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { formatSize, spread, type Spread } from '../lib/stats.js';
import { JsonChild, mpiEnv, mpirunArgs, type Hosts } from './launch.js';

export const MPI_ALLREDUCE_SOURCE = 'bench/hosts/mpi-allreduce.c';
export const MPI_ALLREDUCE_BINARY = 'build/bench-hosts/mpi-allreduce';

export interface AllreduceStep {
  size: number;
  iters: number;
  warmup: number;
}

export interface AllreduceRow extends AllreduceStep {
  /** MPI_Allreduce: the slowest rank's mean per call, us, per repetition summarised. */
  mpiUs: Spread;
  /** ringAllreduce: the slowest rank's mean per call, us. */
  ringUs: Spread;
  /** The library's speed relative to Open MPI's: MPI time over ring time, per repetition (above 1: the library is ahead). */
  ratio: Spread;
}

export interface Transport {
  /** The PML each rank selected ('ob1'). */
  pml: string;
  /** BTL by kind of path, from Open MPI's "bml: Using X btl for send to ..." lines. */
  btl: { betweenHosts: string[]; withinHost: string[]; self: string[] };
  /** What the environment forced (OMPI_MCA_pml / _btl), if anything. */
  forced: { pml?: string; btl?: string };
  /** One line: "pml ob1; btl tcp between hosts, vader within a host, self to itself". */
  summary: string;
}

export interface AllreduceResult {
  ranks: number;
  /** Hostname of every rank of the ring allreduce's World. */
  hosts: string[];
  transport: Transport | null;
  rows: AllreduceRow[];
  /** Registration cache counters of the ring allreduce's ranks, last repetition. */
  cache: Record<string, unknown>[];
  /** One world.barrier() (PMIx fence), the slowest rank's mean, us, per repetition: ringAllreduce's run() starts with one. */
  barrierUs: Spread;
}

export interface AllreduceOptions {
  hosts: Hosts;
  steps: AllreduceStep[];
  reps: number;
  /** Quick mode: no separate transport probe, the one MPI run carries Open MPI's selection logs (its times are not judged). */
  quick?: boolean;
  log: (s: string) => void;
}

/** Sizes (8 B, then powers of 4 from 64 B to 16 MiB; or `only`) and iteration counts from a byte budget, within [minIters, maxIters]. */
export function allreducePlan(quick: boolean, only?: number[]): AllreduceStep[] {
  const sizes = only ?? (quick ? [8, 65536] : [8, ...Array.from({ length: 10 }, (_, k) => 64 * 4 ** k)]); // 8 B, 64 B .. 16 MiB
  // Under emulation on a shared 2-core machine one ring call takes from about
  // a second (8 B) to tens of seconds (16 MiB): counts stay small.
  const budget = quick ? 1 << 20 : 16 << 20;
  const [minIters, maxIters] = quick ? [3, 3] : [3, 20];
  return sizes.map((size) => {
    const iters = Math.max(minIters, Math.min(maxIters, Math.floor(budget / size)));
    return { size, iters, warmup: Math.max(1, Math.floor(iters / 10)) };
  });
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => (out += `cannot start ${cmd}: ${err.message}\n`));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** Builds the C program with mpicc unless the binary is newer than its source. */
export async function buildMpiAllreduce(log: (s: string) => void): Promise<string> {
  if (existsSync(MPI_ALLREDUCE_BINARY) && statSync(MPI_ALLREDUCE_BINARY).mtimeMs >= statSync(MPI_ALLREDUCE_SOURCE).mtimeMs) return MPI_ALLREDUCE_BINARY;
  mkdirSync('build/bench-hosts', { recursive: true });
  log(`building ${MPI_ALLREDUCE_BINARY} with mpicc`);
  const r = await run('mpicc', ['-O2', '-Wall', '-o', MPI_ALLREDUCE_BINARY, MPI_ALLREDUCE_SOURCE], 300_000);
  if (r.code !== 0) throw new Error(`mpicc ${MPI_ALLREDUCE_SOURCE} failed (exit ${r.code}; libopenmpi-dev installed? npm run build): ${r.out.trim()}`);
  return MPI_ALLREDUCE_BINARY;
}

/**
 * Which transport Open MPI used: the PML from "select: component X selected",
 * the BTL per peer from "bml: Using X btl for send to [[job,vpid],rank] on
 * node NODE", each line prefixed "[host:pid]" by the sender.
 */
export function parseTransport(out: string, env: NodeJS.ProcessEnv = process.env): Transport {
  const pmls = new Set<string>();
  const between = new Set<string>();
  const within = new Set<string>();
  const self = new Set<string>();
  for (const line of out.split('\n')) {
    const p = /select: component (\w+) selected/.exec(line);
    if (p && /pml|ob1|ucx|cm\b/.test(line)) pmls.add(p[1]!);
    const b = /^\[([^:\]]+):\d+\] mca: bml: Using (\w+) btl for send to \[\[\d+,\d+\],\d+\] on node (\S+)/.exec(line);
    if (b) {
      const [, from, btl, to] = b;
      if (btl === 'self') self.add(btl);
      else (from === to ? within : between).add(btl!);
    }
  }
  const pml = [...pmls].join(',') || 'unknown';
  const list = (s: Set<string>) => [...s].sort();
  const btl = { betweenHosts: list(between), withinHost: list(within), self: list(self) };
  const parts = [
    btl.betweenHosts.length ? `${btl.betweenHosts.join('+')} between hosts` : '',
    btl.withinHost.length ? `${btl.withinHost.join('+')} within a host` : '',
    btl.self.length ? 'self to itself' : '',
  ].filter(Boolean);
  const forced = { pml: env.OMPI_MCA_pml, btl: env.OMPI_MCA_btl };
  const forcedText = forced.pml || forced.btl ? ` (the harness sets${forced.pml ? ` pml=${forced.pml}` : ''}${forced.btl ? ` btl=${forced.btl}` : ''})` : '';
  return {
    pml,
    btl,
    forced,
    summary: `pml ${pml}${parts.length ? `; btl ${parts.join(', ')}` : pml === 'ob1' ? '; btl not reported' : ''}${forcedText}`,
  };
}

const arg = (s: AllreduceStep) => `${s.size}:${s.iters}:${s.warmup}`;

/** The slowest rank's mean per size from per-rank (ring) or per-run (MPI) JSON lines. */
function slowest(lines: Record<string, unknown>[], steps: AllreduceStep[], ranks: number, what: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of steps) {
    const mine = lines.filter((l) => Number(l.size) === s.size && l.meanUs !== undefined);
    if (!mine.length) throw new Error(`${what}: no result for ${formatSize(s.size)}`);
    const bad = mine.find((l) => l.check !== 'exact');
    if (bad) throw new Error(`${what}: ${formatSize(s.size)}: the sum was not exact (${String(bad.check)})`);
    // MPI's program prints one line (already the slowest rank); ours prints one per rank.
    if (mine.length !== 1 && mine.length !== ranks) throw new Error(`${what}: ${mine.length} results for ${formatSize(s.size)}, expected ${ranks}`);
    out.set(s.size, Math.max(...mine.map((l) => Number(l.meanUs))));
  }
  return out;
}

export async function allreduceRuns(o: AllreduceOptions): Promise<AllreduceResult> {
  const binary = await buildMpiAllreduce(o.log);
  const perHost = 2;
  const ranks = 2 * perHost;
  const env = mpiEnv();
  // Long enough for the full plan under emulation; the harness's own time limit is above it.
  const timeoutMs = 3600_000;

  const verbose = ['--mca', 'pml_base_verbose', '10', '--mca', 'btl_base_verbose', '30'];
  let transport: Transport | null = null;
  if (!o.quick) {
    o.log('MPI_Allreduce transport: one short run with pml/btl selection logs');
    const probe = new JsonChild('mpirun', mpirunArgs(o.hosts, perHost, [binary, '8:2:1'], verbose),
      { env, timeoutMs: 600_000, echo: () => {} });
    const end = await probe.all();
    if (end.code !== 0) throw new Error(`MPI_Allreduce transport probe: mpirun exited ${end.code ?? end.signal} (${probe.tail()})`);
    transport = parseTransport(probe.output.join('\n'), env);
    o.log(`Open MPI's transport: ${transport.summary}`);
  }

  const mpi: Map<number, number>[] = [];
  const ring: Map<number, number>[] = [];
  let hosts: string[] = [];
  let cache: Record<string, unknown>[] = [];
  const barrier: number[] = [];
  for (let r = 0; r < o.reps; r++) {
    const order = r % 2 === 0 ? ['mpi', 'ring'] : ['ring', 'mpi'];
    for (const which of order) {
      if (which === 'mpi') {
        o.log(`rep ${r + 1}/${o.reps}: MPI_Allreduce, ${ranks} ranks, ${o.steps.length} sizes`);
        const probe = o.quick && transport === null;
        const c = new JsonChild('mpirun', mpirunArgs(o.hosts, perHost, [binary, ...o.steps.map(arg)], probe ? verbose : []),
          { env, timeoutMs, echo: probe ? () => {} : undefined });
        const end = await c.all();
        if (end.code !== 0) throw new Error(`MPI_Allreduce: mpirun exited ${end.code ?? end.signal} (${c.tail()})`);
        if (probe) {
          transport = parseTransport(c.output.join('\n'), env);
          o.log(`Open MPI's transport: ${transport.summary}`);
        }
        mpi.push(slowest(end.lines, o.steps, ranks, 'MPI_Allreduce'));
      } else {
        o.log(`rep ${r + 1}/${o.reps}: ring allreduce (World), ${ranks} ranks, ${o.steps.length} sizes`);
        const c = new JsonChild('mpirun', mpirunArgs(o.hosts, perHost, ['node', '--import', 'tsx', 'bench/hosts/ring-allreduce.ts', ...o.steps.map(arg)]), { env, timeoutMs });
        const end = await c.all();
        if (end.code !== 0) throw new Error(`ring allreduce: mpirun exited ${end.code ?? end.signal} (${c.tail()})`);
        const lines = end.lines.filter((l) => l.op === 'allreduce');
        ring.push(slowest(lines, o.steps, ranks, 'ring allreduce'));
        const byRank = new Map(lines.map((l) => [Number(l.rank), String(l.hostname)]));
        hosts = Array.from({ length: ranks }, (_, k) => byRank.get(k) ?? '?');
        cache = end.lines.filter((l) => l.op === 'cache').sort((a, b) => Number(a.rank) - Number(b.rank));
        const fences = end.lines.filter((l) => l.op === 'barrier').map((l) => Number(l.meanUs));
        barrier.push(fences.length ? Math.max(...fences) : NaN);
      }
    }
  }
  const rows = o.steps.map((s) => {
    const m = mpi.map((x) => x.get(s.size)!);
    const g = ring.map((x) => x.get(s.size)!);
    const row: AllreduceRow = { ...s, mpiUs: spread(m), ringUs: spread(g), ratio: spread(g.map((v, i) => m[i]! / v)) };
    o.log(`allreduce ${formatSize(s.size)}: MPI_Allreduce ${row.mpiUs.median.toFixed(1)} us, ring ${row.ringUs.median.toFixed(1)} us (MPI/ring ${row.ratio.median.toFixed(2)}x)`);
    return row;
  });
  return { ranks, hosts, transport, rows, cache, barrierUs: spread(barrier) };
}
