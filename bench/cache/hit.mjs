// Micro benchmarks of the cache's fast paths, on the host (no RDMA needed):
//   1. the generation check vs a bare typed-array load loop (target <= 1.2x);
//   2. acquire+release hits with 1,000 and 100,000 cached entries vs a bare
//      Map.get over as many entries (target <= 3x), for the same view acquired
//      again (per-buffer fast path) and for new views found by the tree lookup.
// Run: npx tsc -p tsconfig.json && node bench/cache/hit.mjs   (BENCH_QUICK=1 for a short run)
import Benchmark from 'benchmark';
import { MemoryMonitor, RegistrationCache } from '../../dist/index.js';
import { testing } from '../../dist/testing.js';

const t = testing;
const PAGE = t.constants.pageSize;
const INNER = 1000; // operations per benchmark call, to keep the harness's own cost out
const quick = !!process.env.BENCH_QUICK;
const backend = process.env.BENCH_MONITOR ?? 'userfaultfd';

/** A registrar that registers nothing: the benchmark measures the cache only. */
const registrar = {
  key: 1,
  registerRange() {
    const k = this.key++;
    return { lkey: k, rkey: k, deregister() {} };
  },
};

function run(name, cases) {
  return new Promise((resolve) => {
    const suite = new Benchmark.Suite(name);
    for (const [label, fn] of cases) suite.add(label, fn, quick ? { maxTime: 0.5, minSamples: 10 } : { maxTime: 3, minSamples: 40 });
    const hz = {};
    // Ratios use each case's fastest sample: on a shared machine the mean mostly measures the neighbours.
    suite.on('cycle', (e) => {
      const best = Math.min(...e.target.stats.sample);
      hz[e.target.name] = INNER / best;
      perOp[`${name}: ${e.target.name}`] = { bestNs: (best * 1e9) / INNER, meanNs: (e.target.stats.mean * 1e9) / INNER };
      console.log(`  ${String(e.target)}`.replace(/ops\/sec/, `calls/s (x${INNER} ops)`) + `; best ${(best * 1e9 / INNER).toFixed(1)} ns/op`);
    });
    suite.on('complete', () => resolve(hz));
    console.log(name);
    suite.run();
  });
}

const results = {};
const perOp = {}; // ns per operation of every case, for the JSON line
let sink = 0;

// ---- 1. generation check ----
{
  const monitor = MemoryMonitor.open({ backend });
  const cache = new RegistrationCache(registrar, { monitor });
  const bare = new Uint32Array(monitor.counter.buffer, 0, 2);
  let seen = bare[0];
  const hz = await run('generation check', [
    ['bare typed-array load', () => {
      for (let i = 0; i < INNER; i++) if (bare[0] !== seen) { seen = bare[0]; sink++; }
    }],
    ['cache.checkGeneration()', () => {
      for (let i = 0; i < INNER; i++) if (cache.checkGeneration()) sink++;
    }],
    ['monitor.changed', () => {
      for (let i = 0; i < INNER; i++) if (monitor.changed) sink++;
    }],
  ]);
  results.generationCheck = hz['bare typed-array load'] / hz['cache.checkGeneration()'];
  results.monitorChanged = hz['bare typed-array load'] / hz['monitor.changed'];
  cache.close();
  monitor.close();
}

// ---- 2. hits ----
for (const n of [1000, 100_000]) {
  const monitor = MemoryMonitor.open({ backend });
  const cache = new RegistrationCache(registrar, { monitor, maxEntries: 2 * n, memlockLimit: Infinity });
  // n adjacent pages of one mapping: n views of their own ArrayBuffers (and one big one for subviews).
  const base = t.mmap(n * PAGE);
  const views = Array.from({ length: n }, (_, i) => new Uint8Array(t.wrap(base + BigInt(i * PAGE), PAGE)));
  const big = t.wrap(base, n * PAGE);
  for (const v of views) cache.acquire(v).release();
  // Baselines, read in the same random order: a Map from small-integer keys (page numbers) to
  // objects, and the naive cache a user would write, a Map from the view object to its registration.
  const map = new Map();
  for (let i = 0; i < n; i++) map.set(i, { lkey: i });
  const byView = new Map();
  for (let i = 0; i < n; i++) byView.set(views[i], { lkey: i });
  const order = Int32Array.from({ length: 1 << 16 }, () => Math.floor(Math.random() * n));
  const keys = order;
  const subviews = Array.from(order, (i) => new Uint8Array(big, i * PAGE + 64, 128));
  let k = 0;
  const hz = await run(`hits with ${n} entries`, [
    ['bare Map.get', () => {
      for (let i = 0; i < INNER; i++) sink += map.get(keys[k++ & 0xffff]).lkey;
    }],
    ['bare Map.get(view)', () => {
      for (let i = 0; i < INNER; i++) sink += byView.get(views[order[k++ & 0xffff]]).lkey;
    }],
    ['acquire+release, same views', () => {
      for (let i = 0; i < INNER; i++) {
        const r = cache.acquire(views[order[k++ & 0xffff]]);
        sink += r.lkey;
        r.release();
      }
    }],
    ['acquire+release, tree lookup', () => {
      for (let i = 0; i < INNER; i++) {
        const r = cache.acquire(subviews[k++ & 0xffff]);
        sink += r.lkey;
        r.release();
      }
    }],
  ]);
  results[`hit${n}`] = hz['bare Map.get'] / hz['acquire+release, same views'];
  results[`hit${n}View`] = hz['bare Map.get(view)'] / hz['acquire+release, same views'];
  results[`hit${n}Tree`] = hz['bare Map.get'] / hz['acquire+release, tree lookup'];
  const s = cache.stats();
  if (s.misses !== n) throw new Error(`expected only hits after warm-up, got ${s.misses} misses`);
  cache.close();
  monitor.close();
  t.munmap(base, n * PAGE);
}

console.log(`\nratios of best samples (lower is better; monitor backend ${backend}):`);
console.log(`  generation check / bare load:          ${results.generationCheck.toFixed(2)}x   (target <= 1.2x)`);
console.log(`  monitor.changed / bare load:           ${results.monitorChanged.toFixed(2)}x`);
for (const n of [1000, 100_000]) {
  console.log(`  hit, ${String(n).padStart(6)} entries, same view / Map.get: ${results[`hit${n}`].toFixed(2)}x   (target <= 3x)`);
  console.log(`  hit, ${String(n).padStart(6)} entries, same view / Map.get(view): ${results[`hit${n}View`].toFixed(2)}x`);
  console.log(`  hit, ${String(n).padStart(6)} entries, tree lookup / Map.get: ${results[`hit${n}Tree`].toFixed(2)}x`);
}
if (sink === 0.5) console.log(sink);
// One JSON line for bench/run.ts: the ratios above and every case's ns/op.
console.log(JSON.stringify({ bench: 'cache-hit', backend, quick, ratios: results, perOp }));
