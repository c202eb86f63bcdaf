// Micro benchmarks of the cache's fast paths, on the host (no RDMA needed):
//   1. the generation check vs a bare typed-array load loop (target <= 1.2x);
//   2. acquire+release hits with 1,000 and 100,000 cached entries, in random
//      order, vs a Map keyed by the same view objects read in the same order
//      (target <= 1.5x at 100,000), for two layouts of memory:
//        own:  every view has its own ArrayBuffer;
//        heap: the views are carved out of a few large ArrayBuffers (a
//              symmetric heap), one view per page, each page its own entry.
//      A Map from small integers (page numbers) is printed for reference.
// Run: npx tsc -p tsconfig.json && node bench/cache/hit.mjs   (BENCH_QUICK=1 for a short run)
import Benchmark from 'benchmark';
import { MemoryMonitor, RegistrationCache } from '../../dist/index.js';
import { testing } from '../../dist/testing.js';

const t = testing;
const PAGE = t.constants.pageSize;
const INNER = 1000; // operations per benchmark call, to keep the harness's own cost out
const HEAPS = 4; // large ArrayBuffers the 'heap' views are carved from
const HIT_TARGET = 1.5;
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

/** Runs the suite `name` (made by `suite()`) `times` times; each case's best rate and perOp entry over the runs. */
async function bestOf(times, name, suite) {
  const best = {};
  const ns = {};
  for (let i = 0; i < times; i++) {
    const hz = await suite();
    for (const [k, v] of Object.entries(hz)) {
      if (!(v <= best[k])) {
        best[k] = v;
        ns[k] = perOp[`${name}: ${k}`];
      }
    }
  }
  for (const [k, v] of Object.entries(ns)) perOp[`${name}: ${k}`] = v;
  return best;
}

const results = {};
const perOp = {}; // ns per operation of every case, for the JSON line
const hitKinds = {}; // fast/slow hit shares, to show which path the timed hits took
let sink = 0;

// ---- 1. generation check ----
{
  const monitor = MemoryMonitor.open({ backend });
  const cache = new RegistrationCache(registrar, { monitor });
  const bare = new Uint32Array(monitor.counter.buffer, 0, 2);
  let seen = bare[0];
  // A few nanoseconds per case, so one burst of the neighbours' load decides a sample: the suite
  // runs three times and each case keeps its best.
  const hz = await bestOf(quick ? 1 : 3, 'generation check', () => run('generation check', [
    ['bare typed-array load', () => {
      for (let i = 0; i < INNER; i++) if (bare[0] !== seen) { seen = bare[0]; sink++; }
    }],
    ['cache.checkGeneration()', () => {
      for (let i = 0; i < INNER; i++) if (cache.checkGeneration()) sink++;
    }],
    ['monitor.changed', () => {
      for (let i = 0; i < INNER; i++) if (monitor.changed) sink++;
    }],
  ]));
  results.generationCheck = hz['bare typed-array load'] / hz['cache.checkGeneration()'];
  results.monitorChanged = hz['bare typed-array load'] / hz['monitor.changed'];
  cache.close();
  monitor.close();
}

// ---- 2. hits ----
/** n views, one page each, over one mapping at `base`: each with its own ArrayBuffer, or carved out of HEAPS buffers. */
function viewsOf(layout, base, n) {
  if (layout === 'own') return Array.from({ length: n }, (_, i) => new Uint8Array(t.wrap(base + BigInt(i * PAGE), PAGE)));
  const per = Math.ceil(n / HEAPS);
  const heaps = Array.from({ length: HEAPS }, (_, h) => t.wrap(base + BigInt(h * per * PAGE), Math.min(per, n - h * per) * PAGE));
  // A view inside each page (not the whole page), as an application's fields would be.
  return Array.from({ length: n }, (_, i) => new Uint8Array(heaps[Math.floor(i / per)], (i % per) * PAGE + 64, 128));
}

const LABEL = { own: 'own buffers', heap: `views of ${HEAPS} heaps` };
for (const n of [1000, 100_000]) {
  const order = Int32Array.from({ length: 1 << 16 }, () => Math.floor(Math.random() * n));
  const ints = new Map();
  for (let i = 0; i < n; i++) ints.set(i, { lkey: i });
  const cases = [];
  const setups = [];
  for (const layout of ['own', 'heap']) {
    const monitor = MemoryMonitor.open({ backend });
    const cache = new RegistrationCache(registrar, { monitor, maxEntries: 2 * n, memlockLimit: Infinity });
    const base = t.mmap(n * PAGE);
    const views = viewsOf(layout, base, n);
    // Twice: the second acquire of a view tags it (see rememberView in src/cache/view-memo.ts), as an application reusing it would.
    for (let pass = 0; pass < 2; pass++) for (const v of views) cache.acquire(v).release();
    // The reference: the naive cache a user would write, a Map from the view object to its registration.
    const byView = new Map();
    for (let i = 0; i < n; i++) byView.set(views[i], { lkey: i });
    const before = cache.stats();
    setups.push({ layout, monitor, cache, base, before });
    let k = 0;
    cases.push([`Map.get(view), ${LABEL[layout]}`, () => {
      for (let i = 0; i < INNER; i++) sink += byView.get(views[order[k++ & 0xffff]]).lkey;
    }]);
    cases.push([`acquire+release, ${LABEL[layout]}`, () => {
      for (let i = 0; i < INNER; i++) {
        const r = cache.acquire(views[order[k++ & 0xffff]]);
        sink += r.lkey;
        r.release();
      }
    }]);
  }
  let k = 0;
  cases.unshift(['bare Map.get', () => {
    for (let i = 0; i < INNER; i++) sink += ints.get(order[k++ & 0xffff]).lkey;
  }]);
  // Twice, each case keeping its best: a case that ran only while the neighbours were busy gets
  // another chance (its reference ran seconds apart, in other conditions).
  const hz = await bestOf(quick ? 1 : 2, `hits with ${n} entries`, () => run(`hits with ${n} entries`, cases));
  results[`hit${n}IntMap`] = hz['bare Map.get'] / hz[`acquire+release, ${LABEL.own}`];
  for (const { layout, monitor, cache, base, before } of setups) {
    const name = layout === 'own' ? 'Own' : 'Heap';
    results[`hit${n}${name}`] = hz[`Map.get(view), ${LABEL[layout]}`] / hz[`acquire+release, ${LABEL[layout]}`];
    const s = cache.stats();
    if (s.misses !== n) throw new Error(`${layout}: expected only hits after warm-up, got ${s.misses - n} more misses`);
    hitKinds[`${layout}${n}`] = { fast: s.fastHits - before.fastHits, slow: s.slowHits - before.slowHits };
    cache.close();
    monitor.close();
    t.munmap(base, n * PAGE);
  }
}

console.log(`\nratios of best samples (lower is better; monitor backend ${backend}):`);
console.log(`  generation check / bare load:          ${results.generationCheck.toFixed(2)}x   (target <= 1.2x)`);
console.log(`  monitor.changed / bare load:           ${results.monitorChanged.toFixed(2)}x`);
for (const n of [1000, 100_000]) {
  for (const [name, layout] of [['Own', 'own'], ['Heap', 'heap']]) {
    const kinds = hitKinds[`${layout}${n}`];
    console.log(
      `  hit, ${String(n).padStart(6)} entries, ${LABEL[layout].padEnd(15)} / Map.get(view): ${results[`hit${n}${name}`].toFixed(2)}x` +
        `   (target <= ${HIT_TARGET}x at 100,000; ${kinds.slow} of ${kinds.fast + kinds.slow} timed hits slow)`,
    );
  }
  console.log(`  hit, ${String(n).padStart(6)} entries, own buffers     / Map.get(int):  ${results[`hit${n}IntMap`].toFixed(2)}x`);
}
if (sink === 0.5) console.log(sink);
// One JSON line for bench/run.ts: the ratios above and every case's ns/op.
console.log(JSON.stringify({ bench: 'cache-hit', backend, quick, ratios: results, perOp, hitKinds }));
