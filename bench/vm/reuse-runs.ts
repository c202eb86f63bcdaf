/**
 * The buffer-reuse workload, through its own demo (bench/reuse/demo.ts) in all
 * three modes (register per operation, cache, cache without monitor), `reps`
 * times; each run's reuse.json is read back and summarised per size and mode.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Retries } from '../lib/retries.js';
import { spread, type Spread } from '../lib/stats.js';

interface DemoResult {
  mode: string;
  size: number;
  writes: number;
  opsPerSecond: number;
  megabytesPerSecond: number;
  verified: number;
  mismatches: number;
  hits?: number;
  misses?: number;
  invalidations?: number;
  staleAvoided?: number;
}

export interface ReuseRow {
  mode: string;
  size: number;
  writes: number;
  opsPerSecond: Spread;
  megabytesPerSecond: Spread;
  /** ops/s over register-per-op ops/s of the same run, per run. */
  speedup: Spread;
  verified: number;
  mismatches: number;
  hits: number;
  misses: number;
  invalidations: number;
  staleAvoided: number;
}

export const REUSE_DEMO = 'buffer-reuse demo';

export function reuseRuns(reps: number, quick: boolean, retries: Retries): ReuseRow[] {
  const runs: DemoResult[][] = [];
  for (let r = 0; r < reps; r++) {
    const out = mkdtempSync(join(tmpdir(), 'bench-reuse-'));
    try {
      // Two alternating passes per run (one in quick mode): each run's row is their median.
      const args = ['--import', 'tsx', 'bench/reuse/demo.ts', '--unsafe', '--repeat', quick ? '1' : '2', '--out', out, ...(quick ? ['--quick'] : [])];
      retries.ran(REUSE_DEMO);
      let p = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
      if (p.signal !== null) {
        // Seen once in many runs: SIGILL before the demo printed anything (the emulated CPU
        // was the suspect: see the README's VM section). Run again once, and recorded: the
        // results and the report say "n of N runs died" with the signal, never drop it.
        console.error(`bench: the reuse demo (repetition ${r + 1}) died of ${p.signal} before finishing; running it again (recorded in the results)`);
        retries.failed(REUSE_DEMO, `rep ${r + 1}: killed by ${p.signal}, run again`);
        retries.ran(REUSE_DEMO);
        p = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
        if (p.signal !== null) retries.failed(REUSE_DEMO, `rep ${r + 1}: killed by ${p.signal} again`);
      }
      // The demo exits 1 on a mismatch in a safe mode: keep its numbers, the report shows the mismatches.
      if (p.status !== 0 && p.status !== 1) throw new Error(`reuse demo failed (exit ${p.status ?? p.signal})`);
      runs.push((JSON.parse(readFileSync(join(out, 'reuse.json'), 'utf8')) as { results: DemoResult[] }).results);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  const rows: ReuseRow[] = [];
  for (const first of runs[0]!) {
    const same = runs.map((rs) => rs.find((x) => x.mode === first.mode && x.size === first.size)!);
    const base = runs.map((rs) => rs.find((x) => x.mode === 'per-operation' && x.size === first.size)!);
    const sum = (k: keyof DemoResult) => same.reduce((n, x) => n + (Number(x[k]) || 0), 0);
    rows.push({
      mode: first.mode,
      size: first.size,
      writes: sum('writes'),
      opsPerSecond: spread(same.map((x) => x.opsPerSecond)),
      megabytesPerSecond: spread(same.map((x) => x.megabytesPerSecond)),
      speedup: spread(same.map((x, i) => x.opsPerSecond / base[i]!.opsPerSecond)),
      verified: sum('verified'),
      mismatches: sum('mismatches'),
      hits: sum('hits'),
      misses: sum('misses'),
      invalidations: sum('invalidations'),
      staleAvoided: sum('staleAvoided'),
    });
  }
  return rows;
}
