/**
 * The cache's miss path on the host, with a fake registrar (no RDMA device):
 * acquire+release of a view the cache does not hold, so every call watches the
 * range, "registers" it and evicts the least recently used entry (unwatch,
 * "deregister"). Reference: a hit (the same view acquired again) on the same
 * cache, same run. Once with the userfaultfd monitor (the host's backend) and
 * once with no monitor, so the monitor's share of a miss is visible.
 *
 *   tsx bench/host/miss.ts [--quick]     last line: one JSON object
 */
import Benchmark from 'benchmark';
import { MemoryMonitor, RegistrationCache, type MonitorBackend } from '../../src/index.js';
import { testing } from '../../src/testing.js';

const t = testing;
const PAGE = t.constants.pageSize;
const PAGES = 1024; // views cycled through; the cache keeps far fewer, so each acquire misses
const KEEP = 64;
const INNER = 100;
const quick = process.argv.includes('--quick');

const registrar = {
  key: 1,
  registerRange() {
    const k = this.key++;
    return { lkey: k, rkey: k, deregister() {} };
  },
};

interface CaseResult {
  bestNs: number;
  meanNs: number;
}

function measure(cases: [string, () => void][]): Promise<Record<string, CaseResult>> {
  return new Promise((resolve) => {
    const out: Record<string, CaseResult> = {};
    const suite = new Benchmark.Suite();
    for (const [name, fn] of cases) suite.add(name, fn, quick ? { maxTime: 0.5, minSamples: 10 } : { maxTime: 2, minSamples: 30 });
    suite.on('cycle', (e: Benchmark.Event) => {
      const target = e.target as unknown as Benchmark;
      const best = Math.min(...target.stats.sample);
      out[target.name!] = { bestNs: (best * 1e9) / INNER, meanNs: (target.stats.mean * 1e9) / INNER };
      console.log(`  ${String(target)}; best ${out[target.name!]!.bestNs.toFixed(0)} ns/op`);
    });
    suite.on('complete', () => resolve(out));
    suite.run();
  });
}

async function missVsHit(backend: MonitorBackend): Promise<Record<string, CaseResult>> {
  const monitor = MemoryMonitor.open({ backend });
  const cache = new RegistrationCache(registrar, { monitor, maxEntries: KEEP, memlockLimit: Infinity });
  const base = t.mmap(PAGES * PAGE);
  const views = Array.from({ length: PAGES }, (_, i) => new Uint8Array(t.wrap(base + BigInt(i * PAGE), PAGE)));
  let k = 0;
  let sink = 0;
  console.log(`miss path, monitor ${backend}`);
  try {
    return await measure([
      ['hit', () => {
        for (let i = 0; i < INNER; i++) {
          const r = cache.acquire(views[0]!);
          sink += r.lkey;
          r.release();
        }
      }],
      ['miss', () => {
        for (let i = 0; i < INNER; i++) {
          // Stride past the KEEP most recent views: never in the cache.
          const r = cache.acquire(views[(k = (k + 1) % PAGES)]!);
          sink += r.lkey;
          r.release();
        }
      }],
    ]);
  } finally {
    const s = cache.stats();
    cache.close();
    monitor.close();
    t.munmap(base, PAGES * PAGE);
    if (s.misses < PAGES || sink === 0.5) throw new Error(`expected misses, got ${JSON.stringify(s)}`);
  }
}

const results: Record<string, Record<string, CaseResult>> = {};
for (const backend of ['userfaultfd', 'none'] as const) results[backend] = await missVsHit(backend);
const ratio = (b: string) => results[b]!.miss!.bestNs / results[b]!.hit!.bestNs;
console.log(`miss / hit: userfaultfd ${ratio('userfaultfd').toFixed(1)}x, no monitor ${ratio('none').toFixed(1)}x`);
console.log(JSON.stringify({ bench: 'cache-miss', quick, perOp: results, ratios: { userfaultfd: ratio('userfaultfd'), none: ratio('none') } }));
