/**
 * The module's C benchmark (bench/kmod/umn_bench.c, built by kmod/tests into
 * build/kmod-tests/umn_bench): mmap/munmap loop with 0 vs 100,000
 * registrations, `reps` runs, its JSON line read from each.
 */
import { spawnSync } from 'node:child_process';
import { spread, type Spread } from '../lib/stats.js';

export interface KmodResult {
  kernel: string;
  regs: number;
  runs: number;
  loopNs0: Spread;
  loopNsRegs: Spread;
  /** loop with `regs` registrations over loop with none, per run. */
  ratio: Spread;
  registerNs: Spread;
  unregisterNs: Spread;
}

export function kmodRuns(reps: number, quick: boolean, binary = 'build/kmod-tests/umn_bench'): KmodResult {
  const env = { ...process.env, ...(quick ? { UMN_BENCH_ITERS: '2000', UMN_BENCH_ROUNDS: '2', UMN_BENCH_EXTRA: '2000' } : {}) };
  const lines: Record<string, number | string>[] = [];
  for (let r = 0; r < reps; r++) {
    const p = spawnSync(binary, [], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    process.stderr.write(p.stdout ?? '');
    const json = (p.stdout ?? '').split('\n').find((l) => l.startsWith('{'));
    if (p.status !== 0 || !json) throw new Error(`${binary} failed (exit ${p.status ?? p.signal}); run \`npm run build\` to build it`);
    lines.push(JSON.parse(json) as Record<string, number | string>);
  }
  const col = (k: string) => spread(lines.map((l) => Number(l[k])));
  return {
    kernel: String(lines[0]!.kernel),
    regs: Number(lines[0]!.regs),
    runs: reps,
    loopNs0: col('loop_ns_0'),
    loopNsRegs: col('loop_ns_regs'),
    ratio: col('ratio'),
    registerNs: col('register_ns'),
    unregisterNs: col('unregister_ns'),
  };
}
