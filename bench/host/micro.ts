/**
 * The host half of `npm run bench`: the cache's micro-benchmarks (the
 * 'benchmark' package), each run `reps` times in its own process, their JSON
 * lines summarised: bench/cache/hit.mjs (generation check, hits at 1,000 and
 * 100,000 entries, own buffers and views of a few heaps, against a Map keyed
 * by the same views) and bench/host/miss.ts (miss path).
 */
import { spawnSync } from 'node:child_process';
import { spread, type Spread } from '../lib/stats.js';

interface CaseNs {
  bestNs: number;
  meanNs: number;
}

export interface HostMicro {
  reps: number;
  backend: string;
  /** Ratio name -> spread over runs (e.g. generationCheck, hit1000Own, hit100000Heap). */
  hitRatios: Record<string, Spread>;
  /** Case -> best ns/op over runs. */
  hitNs: Record<string, Spread>;
  /** Miss / hit per monitor backend. */
  missRatios: Record<string, Spread>;
  /** "backend: hit|miss" -> best ns/op over runs. */
  missNs: Record<string, Spread>;
}

function jsonLineOf(cmd: string, args: string[], env: NodeJS.ProcessEnv): Record<string, unknown> {
  const p = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  process.stdout.write(p.stdout ?? '');
  const line = (p.stdout ?? '').split('\n').reverse().find((l) => l.startsWith('{'));
  if (p.status !== 0 || !line) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${p.status ?? p.signal}) or printed no JSON line`);
  return JSON.parse(line) as Record<string, unknown>;
}

function collect<T>(runs: T[], pick: (r: T) => Record<string, number>): Record<string, Spread> {
  // The union over runs: a benchmark may gain a case between runs of a long suite.
  const keys = [...new Set(runs.flatMap((r) => Object.keys(pick(r))))];
  return Object.fromEntries(keys.map((k) => [k, spread(runs.map((r) => pick(r)[k]!))]));
}

export function hostMicro(reps: number, quick: boolean, log: (s: string) => void): HostMicro {
  const hits: HitLine[] = [];
  const misses: MissLine[] = [];
  for (let r = 0; r < reps; r++) {
    log(`host micro-benchmarks, run ${r + 1} of ${reps}: bench/cache/hit.mjs`);
    hits.push(jsonLineOf(process.execPath, ['bench/cache/hit.mjs'], quick ? { BENCH_QUICK: '1' } : {}) as (typeof hits)[number]);
    log(`host micro-benchmarks, run ${r + 1} of ${reps}: bench/host/miss.ts`);
    misses.push(jsonLineOf(process.execPath, ['--import', 'tsx', 'bench/host/miss.ts', ...(quick ? ['--quick'] : [])], {}) as (typeof misses)[number]);
  }
  return summarise(hits, misses);
}

type HitLine = { backend: string; ratios: Record<string, number>; perOp: Record<string, CaseNs> };
type MissLine = { ratios: Record<string, number>; perOp: Record<string, Record<string, CaseNs>> };

/** Summarises the JSON lines of hit.mjs and miss.ts runs (also usable on lines taken from a log). */
export function summarise(hits: HitLine[], misses: MissLine[]): HostMicro {
  return {
    reps: hits.length,
    backend: hits[0]!.backend,
    hitRatios: collect(hits, (h) => h.ratios),
    hitNs: collect(hits, (h) => Object.fromEntries(Object.entries(h.perOp).map(([k, v]) => [k, v.bestNs]))),
    missRatios: collect(misses, (m) => m.ratios),
    missNs: collect(misses, (m) =>
      Object.fromEntries(Object.entries(m.perOp).flatMap(([b, cases]) => Object.entries(cases).map(([c, v]) => [`${b}: ${c}`, v.bestNs]))),
    ),
  };
}
